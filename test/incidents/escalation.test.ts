import { createPool, type Pool } from '../../server/db/pool';
import { escalateOverdue } from '../../server/incidents/escalation';
import { createTestApp, type TestApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { level4GridIds, manualClock, pointInGrid, report } from './helpers';

describe('overdue escalation (督办)', () => {
  let db: TestDatabase;
  let api: TestApp;
  let secondProcessPool: Pool;
  const time = manualClock('2026-03-01T08:00:00Z');
  beforeAll(async () => {
    db = await createTestDatabase();
    api = await createTestApp(db, { clock: time.clock, gridWorkerGrids: await level4GridIds(db.pool) });
    secondProcessPool = createPool(db.url, 2);
  });
  afterAll(async () => {
    await secondProcessPool.end();
    await api.close();
    await db.drop();
  });

  async function dispatched(category: string, gridIndex: number): Promise<number> {
    const id = (await report(api, await pointInGrid(db.pool, gridIndex), { category }).expect(201)).body.id;
    await api.request.post(`/api/incidents/${id}/transitions`).set(api.auth('hotline')).send({ to: 'accepted' }).expect(200);
    await api.request.post(`/api/incidents/${id}/transitions`).set(api.auth('commander')).send({ to: 'dispatched', department: '市政公用局' }).expect(200);
    return id;
  }

  it('escalates overdue stages exactly once when two schedulers run at the same moment', async () => {
    // 窨井盖 has 4 h to handle after dispatch; 绿化养护 has 168 h.
    const urgent = await dispatched('窨井盖', 10);
    const routine = await dispatched('绿化养护', 11);
    await api.request.post(`/api/incidents/${urgent}/transitions`).set(api.auth('grid_worker')).send({ to: 'handling' }).expect(200);

    time.advanceHours(3);
    expect((await escalateOverdue(db.pool, time.clock)).escalated).toEqual([]);

    time.advanceHours(2);
    const eligible = (await db.pool.query(
      "SELECT count(*)::int AS n FROM incidents WHERE status IN ('dispatched', 'handling', 'tracking') AND stage_due_at < $1", [time.clock()],
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

  it('counts overdue open incidents by department', async () => {
    const response = await api.request.get('/api/incidents/overdue').set(api.auth('commander')).expect(200);
    const expected = await db.pool.query(
      `SELECT c.department, count(*)::int AS overdue FROM incidents i JOIN incident_categories c ON c.name = i.category
       WHERE i.status NOT IN ('closed', 'rejected')
         AND i.reported_at + (c.accept_hours + c.dispatch_hours + c.handle_hours + c.feedback_hours) * interval '1 hour' < $1
       GROUP BY c.department`,
      [time.clock()],
    );
    const byName = (rows: Array<{ department: string; overdue: number }>) => Object.fromEntries(rows.map((r) => [r.department, r.overdue]));
    expect(byName(response.body.departments)).toEqual(byName(expected.rows));
  });
});
