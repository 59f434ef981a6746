import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createToken } from '../../server/auth/tokens';
import { useTestApp } from '../support/app';
import { type ChildServer, startChildServer } from '../support/child-server';
import type { TestDatabase } from '../support/db';
import { stalledGet } from '../support/stalled-client';

/**
 * Adds `count` workflow events in one transaction (one xid, so the stream sends them in id order) and returns
 * their ids: a long timeline to replay, ≈ 450 bytes per event on the wire.
 */
async function addEvents(db: TestDatabase, count: number): Promise<number[]> {
  const { rows } = await db.pool.query<{ id: number }>(
    `WITH some_incidents AS (SELECT id, status, row_number() OVER (ORDER BY id) - 1 AS n FROM incidents ORDER BY id LIMIT 1000)
     INSERT INTO incident_events (incident_id, at, kind, from_status, to_status, comment)
     SELECT i.id, now(), 'transition', i.status, i.status, 'replay load ' || g
     FROM generate_series(1, $1) g JOIN some_incidents i ON i.n = g % 1000
     RETURNING id`,
    [count],
  );
  return rows.map((row) => row.id).sort((a, b) => a - b);
}

/** Polls until the condition holds or the time is up (then false), calling onTick at every poll. */
async function until(condition: () => boolean, timeoutMs: number, onTick: () => void): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) {
    onTick();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return condition();
}

describe('the live stream holds little for clients that do not read', () => {
  const suite = useTestApp();
  let server: ChildServer;
  let token: string;
  beforeAll(async () => {
    await addEvents(suite.db, 60_000);
    token = (await createToken(suite.db.pool, { role: 'commander', label: 'wall display', gridIds: [] })).token;
    server = await startChildServer(suite.db.url, { CLIENT_STALL_TIMEOUT_S: '2' });
  });
  afterAll(() => server?.stop());

  it('grows by < 100 MB while 20 stalled clients replay 60,000 events from Last-Event-ID: 1, and disconnects them', async () => {
    await fetch(`${server.url}/health`);
    const baseline = server.rssMb();
    let peak = baseline;
    const clients = Array.from({ length: 20 }, () =>
      stalledGet(server.url, '/api/incidents/stream', { Authorization: `Bearer ${token}`, Accept: 'text/event-stream', 'Last-Event-ID': '1' }),
    );
    const disconnected = () => server.logs.filter((entry) => entry.msg === 'event stream client too slow: disconnected').length;
    await until(() => disconnected() >= 20, 60_000, () => (peak = Math.max(peak, server.rssMb())));
    peak = Math.max(peak, server.rssMb());
    expect(peak - baseline).toBeLessThan(100);
    expect(disconnected()).toBe(20);

    // What a disconnected client got is a prefix of the timeline, in order: it resumes after its last whole event.
    const answer = await clients[0].readAll();
    expect(answer.status).toBe(200);
    const ids = [...answer.body.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]));
    expect(ids.length).toBeGreaterThan(0);
    const { rows } = await suite.db.pool.query<{ id: number }>('SELECT id FROM incident_events WHERE id > 1 ORDER BY xid, id LIMIT $1', [ids.length]);
    expect(ids).toEqual(rows.map((row) => row.id));
    clients.forEach((client) => client.destroy());
  }, 90_000);
});

describe('a slow client', () => {
  const suite = useTestApp({ env: { CLIENT_STALL_TIMEOUT_S: '0.5' } });
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    server = http.createServer(suite.api.listener);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/incidents/stream`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /**
   * One connection from Last-Event-ID until the event `stopAt`. A stalling connection reads ≈ 1 MB, then stops
   * reading until the server has disconnected it (its socket on the server side closes) and takes what was
   * buffered; any other reads slowly, resting 50 ms after every 256 kB. Returns the ids of the whole events received.
   */
  function readSlowly(lastEventId: number, stopAt: number, stall: boolean): Promise<number[]> {
    return new Promise((resolve, reject) => {
      const ids: number[] = [];
      let buffer = '';
      let received = 0;
      let rested = 0;
      const request = http.get(url, { headers: { ...suite.api.auth('commander'), 'Last-Event-ID': String(lastEventId) } }, (response) => {
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          buffer += chunk;
          received += chunk.length;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const id = /^id: (\d+)$/m.exec(buffer.slice(0, end))?.[1];
            buffer = buffer.slice(end + 2);
            if (id) ids.push(Number(id));
          }
          if (ids.at(-1) === stopAt) {
            request.destroy();
          } else if (stall && received > 1e6) {
            stall = false;
            response.pause();
            serverSideClosed.then(() => response.resume(), reject);
          } else if (!stall && received - rested > 256e3) {
            rested = received;
            response.pause();
            setTimeout(() => response.resume(), 50);
          }
        });
        response.on('close', () => resolve(ids));
      });
      // The server-side socket of this request: closed by the server when it gives up on the client.
      const serverSideClosed = new Promise<void>((resolveClosed, rejectClosed) => {
        const never = setTimeout(() => rejectClosed(new Error('the server did not disconnect a client that stopped reading')), 20_000);
        server.once('connection', (socket) =>
          socket.once('close', () => {
            clearTimeout(never);
            resolveClosed();
          }),
        );
      });
      request.on('error', () => resolve(ids));
    });
  }

  it('is disconnected when it stops reading, and after resuming with Last-Event-ID has every event once, in order', async () => {
    const { db } = suite;
    const before = (await db.pool.query<{ id: number }>('SELECT coalesce(max(id), 0) AS id FROM incident_events')).rows[0].id;
    const expected = await addEvents(db, 40_000);
    const received: number[] = [];
    let connections = 0;
    // The first connection stalls (a burst of 40,000 events is more than the socket buffers hold); the others read.
    while (received.at(-1) !== expected.at(-1)) {
      connections += 1;
      if (connections > 50) throw new Error(`no progress: ${received.length} of ${expected.length} events`);
      received.push(...(await readSlowly(received.at(-1) ?? before, expected.at(-1) as number, connections === 1)));
    }
    expect(connections).toBeGreaterThan(1);
    expect(received).toEqual(expected);
  }, 120_000);
});
