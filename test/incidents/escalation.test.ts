import { createPool, type Pool } from '../../server/db/pool';
import { escalateOverdue } from '../../server/incidents/escalation';
import { useTestApp } from '../support/app';
import { level4GridIds, manualClock, pointInGrid, report } from './support';

describe('overdue escalation (督办)', () => {
  let secondProcessPool: Pool;
  const time = manualClock('2026-03-01T08:00:00Z');
  // Jest runs afterAll hooks in declaration order: declared first, the pool ends before useTestApp drops the database.
  afterAll(() => secondProcessPool.end());
  const suite = useTestApp(async (db) => ({ clock: time.clock, gridWorkerGrids: await level4GridIds(db.pool) }));
  beforeAll(() => {
    secondProcessPool = createPool(suite.db.url, 2);
  });

  async function dispatched(category: string, gridIndex: number): Promise<number> {
    const id = (await report(suite.api, await pointInGrid(suite.db.pool, gridIndex), { category }).expect(201)).body.id;
    await suite.api.request.post(`/api/incidents/${id}/transitions`).set(suite.api.auth('hotline')).send({ to: 'accepted' }).expect(200);
    await suite.api.request.post(`/api/incidents/${id}/transitions`).set(suite.api.auth('commander')).send({ to: 'dispatched', department: '市政公用局' }).expect(200);
    return id;
  }

  it('escalates overdue stages exactly once when two schedulers run at the same moment', async () => {
    const { db, api } = suite;
    // 窨井盖 has 4 h to handle after dispatch; 绿化养护 has 168 h.
    const urgent = await dispatched('窨井盖', 10);
    const routine = await dispatched('绿化养护', 11);
    await api.request.post(`/api/incidents/${urgent}/transitions`).set(api.auth('grid_worker')).send({ to: 'handling' }).expect(200);

    time.advanceHours(3);
    expect((await escalateOverdue(db.pool, time.clock)).escalated).toEqual([]);

    time.advanceHours(2);
    const eligible = (await db.pool.query(
      "SELECT count(*)::int AS n FROM incidents WHERE status IN ('dispatched', 'handling', 'tracking', 'supervising') AND stage_due_at < $1", [time.clock()],
    )).rows[0].n;
    const rounds = await Promise.all([escalateOverdue(db.pool, time.clock), escalateOverdue(secondProcessPool, time.clock), escalateOverdue(secondProcessPool, time.clock)]);
    const escalated = rounds.flatMap((round) => round.escalated);
    expect(escalated).toContain(urgent);
    expect(escalated).not.toContain(routine);
    expect(escalated.length).toBe(eligible);
    expect(new Set(escalated).size).toBe(escalated.length);

    const events = await db.pool.query("SELECT incident_id, from_status, details FROM incident_events WHERE kind = 'escalated'");
    expect(events.rows.length).toBe(eligible);
    const incident = (await api.request.get(`/api/incidents/${urgent}`).set(api.auth('commander')).expect(200)).body;
    expect(incident.status).toBe('supervising');
    expect(new Date(incident.escalatedAt).getTime()).toBe(time.clock().getTime());
    expect(incident.timeline.at(-1)).toMatchObject({ kind: 'escalated', from: 'handling', to: 'supervising', actorRole: null, details: { department: '市政公用局', notified: '市政公用局督查科' } });

    expect((await escalateOverdue(db.pool, time.clock)).escalated).toEqual([]);
  });

  it('gives supervision (督办) a deadline from the catalogue and escalates it again, one level up, when it passes', async () => {
    const { db, api } = suite;
    const category = (await api.request.get('/api/incidents/categories').set(api.auth('commander')).expect(200)).body.categories
      .find((c: { name: string }) => c.name === '窨井盖');
    expect(category.supervise_hours).toBeGreaterThan(0);
    await api.request.patch(`/api/incidents/categories/${encodeURIComponent('窨井盖')}`).set(api.auth('admin')).send({ supervise_hours: 3 }).expect(200);
    const id = await dispatched('窨井盖', 12);

    // Commander opens supervision by hand: the stage deadline is the catalogue's supervise_hours from now.
    const supervised = (await api.request.post(`/api/incidents/${id}/transitions`).set(api.auth('commander')).send({ to: 'supervising' }).expect(200)).body;
    expect(new Date(supervised.stageDueAt).getTime()).toBe(time.clock().getTime() + 3 * 3_600_000);

    time.advanceHours(2);
    expect((await escalateOverdue(db.pool, time.clock)).escalated).not.toContain(id);

    time.advanceHours(1.5);
    const overdue = (await api.request.get('/api/incidents/overdue').set(api.auth('commander')).expect(200)).body.departments;
    const expected = (await db.pool.query<{ id: number }>(
      "SELECT id FROM incidents WHERE department = '市政公用局' AND status = 'supervising' AND stage_due_at < $1", [time.clock()],
    )).rows.map((r) => r.id);
    expect(expected).toContain(id);
    expect(overdue.find((d: { department: string }) => d.department === '市政公用局').supervisionOverdue).toBe(expected.length);

    const round = await escalateOverdue(db.pool, time.clock);
    expect(round.escalated).toContain(id);
    const incident = (await api.request.get(`/api/incidents/${id}`).set(api.auth('commander')).expect(200)).body;
    expect(incident).toMatchObject({ status: 'supervising', escalationLevel: 1 });
    expect(new Date(incident.stageDueAt).getTime()).toBe(time.clock().getTime() + 3 * 3_600_000);
    expect(incident.timeline.at(-1)).toMatchObject({ kind: 'escalated', from: 'supervising', to: 'supervising', details: { level: 1, notified: '市政公用局督查科' } });

    // Still untouched after another supervision period: the next level.
    time.advanceHours(3.5);
    expect((await escalateOverdue(db.pool, time.clock)).escalated).toContain(id);
    const twice = (await api.request.get(`/api/incidents/${id}`).set(api.auth('commander')).expect(200)).body;
    expect(twice.escalationLevel).toBe(2);

    // The department resumes handling: the supervision deadline stays its deadline.
    time.advanceHours(1);
    const resumed = (await api.request.post(`/api/incidents/${id}/transitions`).set(api.auth('grid_worker')).send({ to: 'handling' }).expect(200)).body;
    expect(resumed.stageDueAt).toBe(twice.stageDueAt);
  });

  it('counts overdue open incidents by department', async () => {
    const { db, api } = suite;
    const response = await api.request.get('/api/incidents/overdue').set(api.auth('commander')).expect(200);
    const expected = await db.pool.query(
      `SELECT c.department, count(*)::int AS overdue FROM incidents i JOIN incident_categories c ON c.name = i.category
       WHERE i.status NOT IN ('closed', 'rejected')
         AND i.reported_at + (c.accept_hours + c.dispatch_hours + c.handle_hours + c.feedback_hours) * interval '1 hour' < $1
       GROUP BY c.department`,
      [time.clock()],
    );
    const byName = (rows: Array<{ department: string; overdue: number }>) => Object.fromEntries(rows.filter((r) => r.overdue > 0).map((r) => [r.department, r.overdue]));
    expect(byName(response.body.departments)).toEqual(byName(expected.rows));
    const stageOverdue = await db.pool.query(
      `SELECT department, count(*)::int AS overdue FROM incidents WHERE status NOT IN ('closed', 'rejected') AND stage_due_at < $1 GROUP BY department`,
      [time.clock()],
    );
    const stageByName = Object.fromEntries(response.body.departments.filter((d: { stageOverdue: number }) => d.stageOverdue > 0).map((d: { department: string; stageOverdue: number }) => [d.department, d.stageOverdue]));
    expect(stageByName).toEqual(byName(stageOverdue.rows));
  });
});
