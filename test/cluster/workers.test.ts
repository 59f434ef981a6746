import fs from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createToken } from '../../server/auth/tokens';
import { createTestDatabase, type TestDatabase } from '../support/db';
import { freePort } from '../support/ports';
import { type LogLine, startSupervisor, type Supervisor, waiter } from '../support/supervisor';
import { tileAt } from '../support/tiles';
import { pointInGrid } from '../incidents/support';

/*
 * Issue 22, item 5: `npm run server -- --workers 2` runs two server processes on one port (node:cluster). Every
 * request below goes over a kept-alive connection whose first answer (/health) named the process behind it, so
 * "written through one process, seen by the other" is proven, not assumed: a connection never moves to another
 * process, and `send` fails should one be replaced under the test.
 */

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One TCP connection to the server, and the pid of the server process that serves it. */
interface Connection {
  pid: number;
  agent: http.Agent;
  socket: Socket;
}

let baseUrl = '';

function send(connection: Pick<Connection, 'agent'> & Partial<Connection>, method: string, pathname: string, headers: http.OutgoingHttpHeaders = {}, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${baseUrl}${pathname}`, { method, agent: connection.agent, headers: body === undefined ? headers : { ...headers, 'Content-Type': 'application/json' } });
    request.on('socket', (socket: Socket) => {
      connection.socket ??= socket;
      if (socket !== connection.socket) reject(new Error('the connection was replaced: the answer could come from another process'));
    });
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }));
    });
    request.on('error', reject);
    request.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function openConnection(): Promise<Connection> {
  const connection: Pick<Connection, 'agent'> & Partial<Connection> = { agent: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
  const health = await send(connection, 'GET', '/health');
  expect(health.status).toBe(200);
  return { ...connection, pid: (JSON.parse(health.body.toString()) as { pid: number }).pid } as Connection;
}

/** A new connection served by the process `wanted` picks; the primary hands connections out in turn. */
async function connectionTo(wanted: (pid: number) => boolean): Promise<Connection> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const connection = await openConnection();
    if (wanted(connection.pid)) return connection;
    connection.agent.destroy();
  }
  throw new Error('20 connections in a row reached the same process');
}

interface StreamEvent {
  incidentId: number;
  kind: string;
}

/** The incident event stream (SSE) over `connection`, its events collected as they come. */
function followStream(connection: Connection, token: string) {
  const events: StreamEvent[] = [];
  const arrived = waiter();
  let request: http.ClientRequest | undefined;
  const opened = new Promise<number>((resolve, reject) => {
    request = http.get(`${baseUrl}/api/incidents/stream`, { agent: connection.agent, headers: { Accept: 'text/event-stream', Authorization: `Bearer ${token}` } });
    request.on('socket', (socket) => socket !== connection.socket && reject(new Error('the stream did not use its connection')));
    request.on('error', reject);
    request.on('response', (response) => {
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        const blocks = buffer.split('\n\n');
        buffer = blocks.pop()!;
        for (const data of blocks.map((block) => /^data: (.*)$/m.exec(block)?.[1]).filter((line) => line !== undefined)) events.push(JSON.parse(data) as StreamEvent);
        arrived.changed();
      });
      resolve(response.statusCode!);
    });
  });
  return {
    opened,
    until: (condition: (events: StreamEvent[]) => boolean, what: string) => arrived.until(() => condition(events), what, 15_000),
    close: () => request?.destroy(),
  };
}

const escalationRounds = (lines: LogLine[]) => lines.filter((line) => line.msg === 'escalation round');

describe('two server processes on one port (npm run server -- --workers 2)', () => {
  const uploads = fs.mkdtempSync(path.join(os.tmpdir(), 'citygrid-workers-'));
  let db: TestDatabase;
  let supervisor: Supervisor;
  let tokens: { hotline: string; commander: string };
  let writer: Connection;
  let reader: Connection;

  beforeAll(async () => {
    db = await createTestDatabase();
    tokens = {
      hotline: (await createToken(db.pool, { role: 'hotline', label: 'workers test' })).token,
      commander: (await createToken(db.pool, { role: 'commander', label: 'workers test' })).token,
    };
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    // Debug logging: each escalation round is a log line naming its process.
    const env = { DATABASE_URL: db.url, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'debug', ESCALATION_INTERVAL_S: '0.2', UPLOAD_DIR: uploads };
    supervisor = startSupervisor(env, ['--workers', '2']);
    await supervisor.listened(2);
    writer = await connectionTo(() => true);
    reader = await connectionTo((pid) => pid !== writer.pid);
  }, 120_000);

  afterAll(async () => {
    writer?.agent.destroy();
    reader?.agent.destroy();
    await supervisor?.stop();
    await db?.drop();
    fs.rmSync(uploads, { recursive: true, force: true });
  }, 60_000);

  const reportThrough = async (connection: Connection, at: { lon: number; lat: number }, description: string): Promise<number> => {
    const answer = await send(connection, 'POST', '/api/incidents', { Authorization: `Bearer ${tokens.hotline}` }, {
      category: '窨井盖', source: 'hotline', description, location: { type: 'Point', coordinates: [at.lon, at.lat] },
    });
    expect(answer.status).toBe(201);
    return (JSON.parse(answer.body.toString()) as { id: number }).id;
  };

  it('runs two processes on one port, each with its own pid', () => {
    const listening = supervisor.listening().map((line) => line.pid);
    expect(new Set(listening).size).toBe(2);
    expect(listening).toEqual(expect.arrayContaining([writer.pid, reader.pid]));
    expect(writer.pid).not.toBe(reader.pid);
  });

  it('an incident reported through one process reaches a stream client of the other, and the other drops its cached tiles', async () => {
    const at = await pointInGrid(db.pool, 5);
    const { z, x, y } = tileAt(at.lon, at.lat, 15);
    const tilePath = `/tiles/incidents/${z}/${x}/${y}.mvt`;
    const tileHeaders = { Authorization: `Bearer ${tokens.commander}`, 'Accept-Encoding': 'gzip' };
    const streamConnection = await connectionTo((pid) => pid === reader.pid);
    const stream = followStream(streamConnection, tokens.commander);
    try {
      expect(await stream.opened).toBe(200);
      const before = await send(reader, 'GET', tilePath, tileHeaders);
      expect(before.status).toBe(200);
      // Now cached in the reader's process.
      expect((await send(reader, 'GET', tilePath, tileHeaders)).headers.etag).toBe(before.headers.etag);

      const id = await reportThrough(writer, at, 'reported through the writer process');
      // The reader's process hears of it over LISTEN/NOTIFY; its tile cache listens to the same event first.
      await stream.until((events) => events.some((event) => event.incidentId === id && event.kind === 'reported'), `the stream event of incident ${id}`);

      const after = await send(reader, 'GET', tilePath, tileHeaders);
      expect(after.status).toBe(200);
      expect(after.headers.etag).not.toBe(before.headers.etag);
    } finally {
      stream.close();
      streamConnection.agent.destroy();
    }
  });

  it('runs the escalation scheduler in one process only: each overdue incident is escalated once', async () => {
    const at = await pointInGrid(db.pool, 6);
    const ids: number[] = [];
    for (let n = 0; n < 4; n++) ids.push(await reportThrough(n % 2 ? writer : reader, at, `overdue ${n}`));
    const streamConnection = await connectionTo((pid) => pid === reader.pid);
    const stream = followStream(streamConnection, tokens.commander);
    try {
      expect(await stream.opened).toBe(200);
      // Dispatched long ago, its stage deadline an hour past: the next round escalates it.
      await db.pool.query("UPDATE incidents SET status = 'dispatched', stage_due_at = now() - interval '1 hour' WHERE id = ANY ($1)", [ids]);
      await stream.until((events) => ids.every((id) => events.some((event) => event.incidentId === id && event.kind === 'escalated')), 'the escalation of every overdue incident');
      // Ten more rounds after it, at 0.2 s each: a scheduler in the other process would have run meanwhile too.
      const roundsSoFar = escalationRounds(supervisor.lines).length;
      await supervisor.logged((lines) => escalationRounds(lines).length >= roundsSoFar + 10, 'ten more escalation rounds');
    } finally {
      stream.close();
      streamConnection.agent.destroy();
    }
    const schedulers = new Set(escalationRounds(supervisor.lines).map((line) => line.pid));
    expect(schedulers.size).toBe(1);
    expect([writer.pid, reader.pid]).toContain([...schedulers][0]);
    const { rows } = await db.pool.query<{ incident_id: number; n: number }>(
      "SELECT incident_id, count(*)::int AS n FROM incident_events WHERE kind = 'escalated' AND incident_id = ANY ($1) GROUP BY incident_id ORDER BY incident_id",
      [ids],
    );
    expect(rows).toEqual(ids.map((id) => ({ incident_id: id, n: 1 })));
  });

  it('starts a killed process again, and the scheduler with it; the other process serves on', async () => {
    const scheduler = escalationRounds(supervisor.lines)[0].pid!;
    const survivor = scheduler === writer.pid ? reader : writer;
    process.kill(scheduler, 'SIGKILL');
    const replacement = await supervisor.listened(3);
    expect(supervisor.exits()).toEqual([expect.objectContaining({ pid: scheduler, signal: 'SIGKILL' })]);
    await supervisor.logged((lines) => escalationRounds(lines).some((line) => line.pid === replacement), 'an escalation round of the replacement');
    // New connections reach both: the survivor, never restarted, and the replacement.
    for (const pid of [survivor.pid, replacement]) (await connectionTo((served) => served === pid)).agent.destroy();
    expect(supervisor.listening()).toHaveLength(3);
  });
});
