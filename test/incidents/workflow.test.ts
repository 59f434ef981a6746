import { roles } from '../../server/auth/roles';
import { allowedFrom, findTransition, stageNames, statuses, transitions } from '../../server/incidents/workflow';
import { createTestApp, useTestApp } from '../support/app';
import { level4GridIds, manualClock, pointInGrid, report } from './support';

describe('incident workflow (4268)', () => {
  let at: { gridId: number; lon: number; lat: number };
  const time = manualClock('2026-03-01T08:00:00Z');
  const suite = useTestApp(async (db) => ({ clock: time.clock, gridWorkerGrids: await level4GridIds(db.pool) }));
  beforeAll(async () => {
    at = await pointInGrid(suite.db.pool, 5);
  });

  const newIncident = async (category = '环境卫生') => (await report(suite.api, at, { category }).expect(201)).body.id as number;
  const setStatus = (id: number, status: string) => suite.db.pool.query('UPDATE incidents SET status = $2 WHERE id = $1', [id, status]);
  const move = (id: number, role: (typeof roles)[number], body: Record<string, unknown>) =>
    suite.api.request.post(`/api/incidents/${id}/transitions`).set(suite.api.auth(role)).send(body);

  it.each(transitions.map((t) => [t.from, t.to, t.roles] as const))('%s → %s is allowed for %j and refused for every other role', async (from, to, allowed) => {
    const { db } = suite;
    const id = await newIncident('乱贴乱画');
    for (const role of roles) {
      await setStatus(id, from);
      const eventsBefore = (await db.pool.query('SELECT count(*)::int AS n FROM incident_events WHERE incident_id = $1', [id])).rows[0].n;
      const response = await move(id, role, { to, comment: `by ${role}` });
      const after = (await db.pool.query('SELECT status, (SELECT count(*)::int FROM incident_events WHERE incident_id = $1) AS events FROM incidents WHERE id = $1', [id])).rows[0];
      if (allowed.includes(role)) {
        expect([role, response.status]).toEqual([role, 200]);
        expect(after).toEqual({ status: to, events: eventsBefore + 1 });
        expect(response.body.timeline.at(-1)).toMatchObject({ kind: 'transition', from, to, actorRole: role, comment: `by ${role}` });
      } else {
        expect([role, response.status]).toEqual([role, 403]);
        expect(after).toEqual({ status: from, events: eventsBefore });
      }
    }
  });

  it('answers 409 with the allowed steps for every move not in the table, changing nothing', async () => {
    const { db } = suite;
    const id = await newIncident('乱贴乱画');
    let refused = 0;
    for (const from of statuses) {
      for (const to of statuses) {
        if (findTransition(from, to)) continue;
        await setStatus(id, from);
        const response = await move(id, 'commander', { to }).expect(409);
        expect(response.body).toMatchObject({ from, allowed: allowedFrom(from, 'commander').map((t) => t.to) });
        expect((await db.pool.query('SELECT status FROM incidents WHERE id = $1', [id])).rows[0].status).toBe(from);
        refused++;
      }
    }
    expect(refused).toBe(statuses.length ** 2 - transitions.length);
  });

  it('runs the full 8-step lifecycle 发现→受理→分流→处置→跟踪→督办→反馈→评价 and shows it as a timeline', async () => {
    const { db, api } = suite;
    const id = await newIncident('窨井盖');
    const steps: Array<[(typeof roles)[number], Record<string, unknown>]> = [
      ['hotline', { to: 'accepted', comment: '受理' }],
      ['commander', { to: 'dispatched', department: '市政公用局', comment: '分流' }],
      ['grid_worker', { to: 'handling', comment: '到场处置' }],
      ['grid_worker', { to: 'tracking', comment: '已加固' }],
      ['commander', { to: 'supervising', comment: '复核未通过，督办' }],
      ['police', { to: 'handling', comment: '重新处置' }],
      ['grid_worker', { to: 'tracking', comment: '已更换井盖' }],
      ['commander', { to: 'feedback', comment: '反馈报告人' }],
      ['hotline', { to: 'closed', satisfaction: 5, comment: '满意' }],
    ];
    for (const [role, body] of steps) {
      time.advanceHours(1);
      await move(id, role, body).expect(200);
    }
    const incident = (await api.request.get(`/api/incidents/${id}`).set(api.auth('planner')).expect(200)).body;
    expect(incident).toMatchObject({ status: 'closed', satisfaction: 5, department: '市政公用局', stageDueAt: null });
    expect(new Date(incident.closedAt).getTime()).toBe(time.clock().getTime());
    expect(incident.timeline.map((e: { to: string }) => e.to)).toEqual(['reported', ...steps.map(([, body]) => body.to)]);
    expect(incident.timeline.map((e: { actorRole: string }) => e.actorRole)).toEqual(['hotline', ...steps.map(([role]) => role)]);
    const visited = new Set(incident.timeline.map((e: { to: keyof typeof stageNames }) => stageNames[e.to]));
    expect([...visited].sort()).toEqual(['发现', '受理', '分流', '处置', '跟踪', '督办', '反馈', '评价'].sort());
    const audited = await db.pool.query("SELECT count(*)::int AS n FROM audit_log WHERE entity = 'incidents' AND entity_id = $1 AND action = 'update'", [id]);
    expect(audited.rows[0].n).toBe(steps.length);
  });

  it('sets stage deadlines from the catalogue on each step', async () => {
    const { db } = suite;
    const id = await newIncident('窨井盖');
    const hours = (await db.pool.query("SELECT * FROM incident_categories WHERE name = '窨井盖'")).rows[0];
    const accepted = (await move(id, 'hotline', { to: 'accepted' }).expect(200)).body;
    expect(new Date(accepted.stageDueAt).getTime()).toBe(time.clock().getTime() + hours.dispatch_hours * 3_600_000);
    const dispatched = (await move(id, 'commander', { to: 'dispatched' }).expect(200)).body;
    expect(new Date(dispatched.stageDueAt).getTime()).toBe(time.clock().getTime() + hours.handle_hours * 3_600_000);
  });

  it('records reassignment and refusal between departments', async () => {
    const id = await newIncident('群租');
    await move(id, 'hotline', { to: 'accepted' }).expect(200);
    await move(id, 'commander', { to: 'dispatched', department: '住建局' }).expect(200);
    const reassigned = (await move(id, 'commander', { to: 'dispatched', department: '公安局', comment: '涉及治安' }).expect(200)).body;
    expect(reassigned.department).toBe('公安局');
    expect(reassigned.timeline.at(-1).details).toEqual({ department: '公安局', previousDepartment: '住建局' });
    const refused = (await move(id, 'police', { to: 'accepted', comment: '非本部门职责' }).expect(200)).body;
    expect(refused.status).toBe('accepted');
    expect((await move(id, 'commander', { to: 'dispatched', department: '不存在局' }).expect(422)).body.rule).toBe('known-department');
  });

  it('answers grid workers outside their grids as for an unknown id (404), and refuses unknown fields', async () => {
    const { db } = suite;
    const id = await newIncident();
    await move(id, 'hotline', { to: 'accepted' }).expect(200);
    await move(id, 'commander', { to: 'dispatched' }).expect(200);
    const elsewhere = await createTestApp(db, { clock: time.clock, gridWorkerGrids: [at.gridId + 1] });
    try {
      await elsewhere.request.post(`/api/incidents/${id}/transitions`).set(elsewhere.auth('grid_worker')).send({ to: 'handling' }).expect(404);
    } finally {
      await elsewhere.close();
    }
    await move(999_999_999, 'commander', { to: 'accepted' }).expect(404);
    await move(id, 'grid_worker', { to: 'handling', status: 'closed' }).expect(400);
    await move(id, 'grid_worker', { to: 'handling', satisfaction: 3 }).expect(422);
    expect((await db.pool.query('SELECT status FROM incidents WHERE id = $1', [id])).rows[0].status).toBe('dispatched');
  });
});
