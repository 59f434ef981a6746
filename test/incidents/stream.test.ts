import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { recordEvent } from '../../server/incidents/service';
import { databaseUrl, requireEnv, testEnv } from '../support/env';
import { createTestApp, type TestApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { watchChanges } from '../support/wait';
import { pointInGrid, report } from './support';

interface SseEvent {
  id: number;
  data: { id: number; incidentId: number; kind: string; to: string };
}

/** A minimal EventSource: collects parsed events until told to stop. */
function connect(url: string, headers: Record<string, string>) {
  const received: SseEvent[] = [];
  let buffer = '';
  let waiters: Array<() => void> = [];
  const request = http.get(url, { headers: { Accept: 'text/event-stream', ...headers } });
  const opened = new Promise<http.IncomingMessage>((resolve, reject) => {
    request.on('response', (response) => {
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const id = /^id: (\d+)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (id && data) received.push({ id: Number(id), data: JSON.parse(data) });
          waiters.forEach((wake) => wake());
        }
      });
      resolve(response);
    });
    request.on('error', reject);
  });
  return {
    received,
    opened,
    async until(predicate: (events: SseEvent[]) => boolean, timeoutMs = 5000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline) throw new Error(`timed out; received ${JSON.stringify(received.map((e) => e.data))}`);
        // Woken by the next event, or at the deadline.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        waiters = [];
      }
    },
    close: () => request.destroy(),
  };
}

describe('GET /api/incidents/stream (SSE over LISTEN/NOTIFY)', () => {
  let db: TestDatabase;
  let wall: TestApp;
  let other: TestApp;
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    wall = await createTestApp(db);
    other = await createTestApp(db); // a second server process: its own app and its own LISTEN connection
    server = http.createServer(wall.listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/incidents/stream`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await wall.close();
    await other.close();
    await db.drop();
  });

  it('pushes an incident created by another process, then resumes after reconnect without loss', async () => {
    const at = await pointInGrid(db.pool, 2);
    const first = connect(url, { Authorization: `Bearer ${wall.tokens.commander}` });
    const response = await first.opened;
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/event-stream/);

    const created = (await report(other, at, { category: '消防隐患' }).expect(201)).body;
    await first.until((events) => events.some((e) => e.data.incidentId === created.id));
    const seen = first.received.at(-1) as SseEvent;
    expect(seen.data).toMatchObject({ incidentId: created.id, kind: 'reported', to: 'reported' });
    first.close();

    // While the wall display is away: two more reports and a step of the workflow.
    const missedA = (await report(other, at, { category: '危房' }).expect(201)).body;
    const missedB = (await report(other, at, { category: '燃气隐患' }).expect(201)).body;
    await other.request.post(`/api/incidents/${created.id}/transitions`).set(other.auth('hotline')).send({ to: 'accepted' }).expect(200);

    const expected = (await db.pool.query('SELECT id FROM incident_events WHERE id > $1 ORDER BY id', [seen.id])).rows.map((r) => r.id);
    expect(expected.length).toBe(3);
    const second = connect(`${url}?access_token=${wall.tokens.planner}`, { 'Last-Event-ID': String(seen.id) });
    await second.until((events) => events.length >= expected.length);
    expect(second.received.map((e) => e.id)).toEqual(expected);
    expect(second.received.map((e) => e.data.incidentId)).toEqual([missedA.id, missedB.id, created.id]);

    // Live again after the replay.
    await other.request.post(`/api/incidents/${created.id}/transitions`).set(other.auth('commander')).send({ to: 'dispatched' }).expect(200);
    await second.until((events) => events.some((e) => e.data.to === 'dispatched'));
    second.close();
  });

  it('delivers events whose transactions commit out of id order, and resumes past them without loss', async () => {
    const at = await pointInGrid(db.pool, 3);
    const stream = connect(url, { Authorization: `Bearer ${wall.tokens.commander}` });
    await stream.opened;
    const incident = (await report(other, at, { category: '噪音扰民' }).expect(201)).body;
    await stream.until((events) => events.some((e) => e.data.incidentId === incident.id));
    const before = stream.received.length;
    const note = (comment: string) => ({ incidentId: incident.id, at: new Date(), kind: 'transition' as const, from: 'reported' as const, to: 'reported' as const, actor: null, comment });
    const first = await db.pool.connect();
    const second = await db.pool.connect();
    const writeOutOfOrder = async (secondTakesXidFirst: boolean) => {
      await second.query('BEGIN');
      if (secondTakesXidFirst) await second.query('SELECT pg_current_xact_id()');
      await first.query('BEGIN');
      const lowId = await recordEvent(first, note('lower id, commits later'));
      const highId = await recordEvent(second, note('higher id, commits first'));
      expect(lowId).toBeLessThan(highId);
      const announced = watchChanges(wall.events);
      await second.query('COMMIT');
      // The reader is woken by the higher id's notification while the lower id is still uncommitted. With the
      // transaction ids inverted the higher id is deliverable now: it must reach the client before the lower one
      // commits (else the race was not run, and the wait fails).
      await announced.until((changes) => changes.some((change) => change.kind === 'incident-changed' && change.eventId === highId));
      announced.stop();
      if (secondTakesXidFirst) await stream.until((events) => events.some((e) => e.id === highId));
      await first.query('COMMIT');
      return [lowId, highId];
    };
    let ids: number[];
    try {
      // Transaction ids in id order: the higher id waits for the lower one's transaction to end.
      const inOrder = await writeOutOfOrder(false);
      // Transaction ids against id order: the higher id is sent first, the lower one after it commits.
      const inverted = await writeOutOfOrder(true);
      ids = [...inOrder, ...inverted];
    } finally {
      first.release();
      second.release();
    }
    await stream.until((events) => ids.every((id) => events.some((e) => e.id === id)));
    const sent = stream.received.slice(before).map((e) => e.id);
    expect([...sent].sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
    stream.close();

    // A client that saw only the inverted pair's higher id resumes from it and still gets the lower one.
    const [, , invertedLow, invertedHigh] = ids;
    expect(sent.indexOf(invertedHigh)).toBeLessThan(sent.indexOf(invertedLow));
    const resumed = connect(url, { Authorization: `Bearer ${wall.tokens.commander}`, 'Last-Event-ID': String(invertedHigh) });
    await resumed.until((events) => events.some((e) => e.id === invertedLow));
    expect(resumed.received.map((e) => e.id)).toEqual(sent.slice(sent.indexOf(invertedHigh) + 1));
    resumed.close();
  });

  it('is not held back by a write transaction left open in another database', async () => {
    const neighbour = new pg.Client({ connectionString: databaseUrl(requireEnv(testEnv.serverUrl), 'postgres') });
    await neighbour.connect();
    const stream = connect(url, { Authorization: `Bearer ${wall.tokens.commander}` });
    try {
      await neighbour.query('BEGIN');
      await neighbour.query('SELECT pg_current_xact_id()');
      await stream.opened;
      const created = (await report(other, await pointInGrid(db.pool, 5), { category: '路灯故障' }).expect(201)).body;
      await stream.until((events) => events.some((e) => e.data.incidentId === created.id));
    } finally {
      stream.close();
      await neighbour.query('ROLLBACK');
      await neighbour.end();
    }
  });

  it('needs a token', async () => {
    await wall.request.get('/api/incidents/stream').expect(401);
  });
});
