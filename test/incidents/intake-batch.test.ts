import { randomUUID } from 'node:crypto';
import * as turf from '@turf/turf';
import pg from 'pg';
import seedrandom from 'seedrandom';
import { createPool } from '../../server/db/pool';
import { demoCityOptions } from '../../data/demo/options';
import { duplicateLocks, duplicateRadiusMetres } from '../../server/incidents/intake';
import { intakeLocksSql } from '../../server/incidents/sql';
import { attachPhotos } from '../../server/incidents/photos';
import { createIncident, reportIncident } from '../../server/incidents/service';
import { useTestApp } from '../support/app';
import { level4GridIds, manualClock, pointInGrid, report } from './support';

/** Reports arriving together are written in shared transactions (group commit): same results as one by one. */
describe('incident intake under concurrent reports', () => {
  const time = manualClock('2026-04-01T08:00:00Z');
  const suite = useTestApp({ clock: time.clock });
  const hotline = { actor: { tokenId: 1, role: 'hotline' as const, label: null, gridIds: [] }, route: 'POST /api/incidents' };

  /** Transactions that wrote these incidents: rows written together share the audit timestamp (now()). */
  const transactionsOf = async (ids: number[]) =>
    (await suite.db.pool.query(`SELECT count(DISTINCT at)::int AS n FROM audit_log WHERE entity = 'incidents' AND entity_id = ANY ($1)`, [ids])).rows[0].n as number;

  it('stores 100 parallel reports once each, in their grids, with one timeline event and one audit row each', async () => {
    const { db, api } = suite;
    const grids = await level4GridIds(db.pool);
    const places = await Promise.all(grids.slice(0, 20).map((_, n) => pointInGrid(db.pool, n)));
    const categoryOf = (i: number) => (Math.floor(i / places.length) % 2 ? '道路破损' : '垃圾满溢');
    const before = (await db.pool.query('SELECT count(*)::int AS n FROM incidents')).rows[0].n;
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) => report(api, places[i % places.length], { category: categoryOf(i), description: `report ${i}` })),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(100).fill(201));
    const ids = responses.map((r) => r.body.id as number);
    expect(new Set(ids).size).toBe(100);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM incidents')).rows[0].n).toBe(before + 100);

    const stored = await db.pool.query<{ id: number; description: string; grid_id: number; placed: number; reported: number; audits: number; roles: string[] }>(
      `SELECT i.id, i.description, i.grid_id, grid_at(i.geom) AS placed,
              (SELECT count(*)::int FROM incident_events e WHERE e.incident_id = i.id AND e.kind = 'reported') AS reported,
              (SELECT count(*)::int FROM audit_log a WHERE a.entity = 'incidents' AND a.entity_id = i.id) AS audits,
              (SELECT array_agg(DISTINCT a.role || ' ' || a.route) FROM audit_log a WHERE a.entity = 'incidents' AND a.entity_id = i.id) AS roles
       FROM incidents i WHERE i.id = ANY ($1) ORDER BY i.id`,
      [ids],
    );
    for (const [i, response] of responses.entries()) {
      const row = stored.rows.find((r) => r.id === response.body.id);
      expect(row).toMatchObject({ description: `report ${i}`, grid_id: places[i % places.length].gridId, placed: places[i % places.length].gridId, reported: 1, audits: 1, roles: ['hotline POST /api/incidents'] });
      expect(response.body.gridId).toBe(places[i % places.length].gridId);
      expect(response.body.timeline.filter((e: { kind: string }) => e.kind === 'reported')).toHaveLength(1);
    }
    // Each audit row names its own request and holds the row image the audit trigger would have written.
    const audit = await db.pool.query(
      `SELECT count(DISTINCT a.request_id)::int AS requests, count(*) FILTER (WHERE a.action = 'insert' AND a.before IS NULL AND a.after = to_jsonb(i) - 'geom_3857')::int AS images
       FROM audit_log a JOIN incidents i ON i.id = a.entity_id WHERE a.entity = 'incidents' AND i.id = ANY ($1)`,
      [ids],
    );
    expect(audit.rows[0]).toEqual({ requests: 100, images: 100 });
    // Same place and category: the lowest id is the first report and every later one links to it, across batches.
    for (const [i, place] of places.entries()) {
      for (const category of ['道路破损', '垃圾满溢']) {
        const group = responses.filter((_, k) => k % places.length === i && categoryOf(k) === category).map((r) => r.body);
        const first = Math.min(...group.map((incident) => incident.id));
        for (const incident of group) expect([place.gridId, incident.id, incident.duplicateOf]).toEqual([place.gridId, incident.id, incident.id === first ? null : first]);
      }
    }
    expect(await transactionsOf(ids)).toBeLessThan(100);
  });

  it('links near-duplicates inside one batch: a later report links the nearest earlier first report', async () => {
    const { db } = suite;
    const p = await pointInGrid(db.pool, 2);
    const q = await pointInGrid(db.pool, 4);
    const report = (lon: number, lat: number, category = '路灯故障') =>
      createIncident(db.pool, time.clock, hotline, { category, location: { type: 'Point', coordinates: [lon, lat] }, source: 'hotline', photos: [] });
    const committed = await report(q.lon, q.lat, '树木倒伏');
    // The first call starts a batch at once; the calls made meanwhile are written together in the next one.
    const [opener, b, c, d, e, f, r, s] = await Promise.all([
      report(q.lon, q.lat, '宠物扰民'),
      report(p.lon, p.lat), // first report
      report(p.lon + 0.0002, p.lat), // ≈ 19 m from b
      report(p.lon, p.lat + 0.0009), // ≈ 100 m from b: a first report itself
      report(p.lon, p.lat, '噪音扰民'), // other category
      report(p.lon, p.lat + 0.0005), // ≈ 55 m from b, ≈ 44 m from d: links d
      report(q.lon + 0.00042, q.lat, '树木倒伏'), // ≈ 40 m from the committed report
      report(q.lon + 0.00047, q.lat, '树木倒伏'), // 5 m from r, but r is a duplicate: links the committed one
    ]);
    expect(await transactionsOf([b, c, d, e, f, r, s])).toBe(1);
    expect(await transactionsOf([opener, b])).toBe(2);
    const links = await db.pool.query<{ id: number; duplicate_of: number | null }>('SELECT id, duplicate_of FROM incidents WHERE id = ANY ($1) ORDER BY id', [[b, c, d, e, f, r, s]]);
    expect(Object.fromEntries(links.rows.map((row) => [row.id, row.duplicate_of]))).toEqual({ [b]: null, [c]: b, [d]: null, [e]: null, [f]: d, [r]: committed, [s]: committed });
    expect([b, c, d, e, f, r, s]).toEqual([...[b, c, d, e, f, r, s]].sort((x, y) => x - y));
    const linked = await db.pool.query(`SELECT incident_id, details->>'duplicate' AS duplicate FROM incident_events WHERE kind = 'duplicate-linked' AND incident_id = ANY ($1) ORDER BY id`, [[b, d, committed]]);
    expect(linked.rows).toEqual([
      { incident_id: b, duplicate: String(c) },
      { incident_id: d, duplicate: String(f) },
      { incident_id: committed, duplicate: String(r) },
      { incident_id: committed, duplicate: String(s) },
    ]);
  });

  it('links near-duplicates reported at the same instant through two server processes', async () => {
    const { db } = suite;
    // Another process's pool, and so its own intake queue: its batches run beside this process's batches.
    const otherProcess = createPool(db.url, 4);
    try {
      const places = await Promise.all(Array.from({ length: 20 }, (_, n) => pointInGrid(db.pool, 30 + n)));
      // Connected beforehand, as a running process is: otherwise its batches start late and meet no others.
      await Promise.all(Array.from({ length: 4 }, () => otherProcess.query('SELECT 1')));
      const input = (place: { lon: number; lat: number }) => ({
        category: '树木倒伏',
        source: 'hotline' as const,
        location: { type: 'Point' as const, coordinates: [place.lon, place.lat] as [number, number] },
        photos: [],
      });
      // Each process's first batch takes its first reports; the rest wait and meet in later batches.
      const ids = await Promise.all(places.flatMap((place) => [db.pool, otherProcess].map((pool) => createIncident(pool, time.clock, hotline, input(place)))));
      const { rows } = await db.pool.query<{ id: number; duplicate_of: number | null }>('SELECT id, duplicate_of FROM incidents WHERE id = ANY ($1)', [ids]);
      const linkOf = new Map(rows.map((row) => [row.id, row.duplicate_of]));
      for (let i = 0; i < places.length; i++) {
        const pair = [ids[2 * i], ids[2 * i + 1]].sort((a, b) => a - b);
        expect([pair[0], linkOf.get(pair[0]), linkOf.get(pair[1])]).toEqual([pair[0], null, pair[0]]);
      }
    } finally {
      await otherProcess.end();
    }
  });

  it('locks by category and place: reports that may be near-duplicates share a lock, a batch elsewhere does not wait', async () => {
    const { db } = suite;
    const input = (at: { lon: number; lat: number }, category = '窨井盖') => ({
      category,
      source: 'hotline' as const,
      location: { type: 'Point' as const, coordinates: [at.lon, at.lat] as [number, number] },
      photos: [],
    });
    // Any two points closer than the duplicate radius share a lock name, over the whole demo city.
    const random = seedrandom('duplicate-locks');
    const [west, south, east, north] = demoCityOptions.bbox;
    for (let i = 0; i < 5_000; i++) {
      const from = turf.point([west + random() * (east - west), south + random() * (north - south)]);
      const to = turf.destination(from, duplicateRadiusMetres, random() * 360 - 180, { units: 'meters' });
      const [a, b] = [from, to].map((point) => new Set(duplicateLocks({ input: input({ lon: point.geometry.coordinates[0], lat: point.geometry.coordinates[1] }) })));
      expect([...a].some((name) => b.has(name))).toBe(true);
    }
    // Another process's batch holds the locks of a report at `here`, not yet committed.
    const here = await pointInGrid(db.pool, 40);
    const far = await pointInGrid(db.pool, 5);
    expect(turf.distance([here.lon, here.lat], [far.lon, far.lat], { units: 'meters' })).toBeGreaterThan(1000);
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(intakeLocksSql, [duplicateLocks({ input: input(here) }), [], []]);
      // A report of the category elsewhere is written meanwhile; one 20 m away waits for that batch to commit.
      await createIncident(db.pool, time.clock, hotline, input(far));
      const near = turf.destination([here.lon, here.lat], 20, 90, { units: 'meters' }).geometry.coordinates;
      const waiting = createIncident(db.pool, time.clock, hotline, input({ lon: near[0], lat: near[1] }));
      for (;;) {
        const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
        if (rows[0].n > 0) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      await other.query('COMMIT');
      expect(await waiting).toBeGreaterThan(0);
    } finally {
      await other.end();
    }
  });

  it('sends each batch, its locks, its Idempotency-Keys and its commit, as one message: no round trip while it holds its locks', async () => {
    const { db } = suite;
    const places = await Promise.all(Array.from({ length: 12 }, (_, n) => pointInGrid(db.pool, n)));
    const input = (place: { lon: number; lat: number }) => ({
      category: '路灯故障',
      source: 'hotline' as const,
      location: { type: 'Point' as const, coordinates: [place.lon, place.lat] as [number, number] },
      photos: [],
    });
    const keyed = (n: number) => ({ ...hotline, idempotency: { key: `one-message-${n}`, fingerprint: `fingerprint-${n}` } });
    // Another process's batches of the category wait on these locks; each round trip to this process's busy event
    // loop would make them wait longer. So what PostgreSQL is sent while writing is watched.
    const sent = jest.spyOn(pg.Client.prototype, 'query');
    try {
      const first = await Promise.all(places.map((place, n) => createIncident(db.pool, time.clock, keyed(n), input(place))));
      const again = await Promise.all(places.map((place, n) => createIncident(db.pool, time.clock, keyed(n), input(place))));
      expect(again).toEqual(first);
      const texts = sent.mock.calls.map(([query]) => (typeof query === 'string' ? query : (query as { text: string }).text));
      expect(texts.length).toBeGreaterThanOrEqual(2);
      const batch = /^(PREPARE intake_locks \(.*\) AS SELECT pg_advisory_xact_lock\(.*;\s*)?EXECUTE intake_locks \(.*\);\s*(PREPARE intake_batch \(.*\) AS\s+WITH RECURSIVE submitted AS .*ORDER BY s.ord;\s*)?EXECUTE intake_batch \(.*\)$/s;
      for (const text of texts) expect(text).toMatch(batch);
      // The batch statement is parsed and planned once per connection, not once per batch.
      const preparing = texts.filter((text) => text.includes('PREPARE intake_batch'));
      expect(preparing.length).toBeLessThanOrEqual(db.pool.options.max);
      expect(preparing.length).toBeLessThan(texts.length);
    } finally {
      sent.mockRestore();
    }
    const stored = await db.pool.query("SELECT count(*)::int AS n FROM idempotency_keys WHERE key LIKE 'one-message-%'");
    expect(stored.rows[0].n).toBe(places.length);
  });

  it('writes on through a session that lost the prepared batch statement (a pooler between), with the values written out', async () => {
    const { db } = suite;
    const pool = createPool(db.url, 1);
    const sent = jest.spyOn(pg.Client.prototype, 'query');
    try {
      const reportAt = async (n: number) => {
        const { lon, lat } = await pointInGrid(db.pool, 20 + n);
        const input = { category: '路灯故障', source: 'hotline' as const, description: `lost-statement-${n}`, location: { type: 'Point' as const, coordinates: [lon, lat] as [number, number] }, photos: [] };
        return createIncident(pool, time.clock, hotline, input);
      };
      const first = await reportAt(0);
      await pool.query('DEALLOCATE ALL');
      const second = await reportAt(1);
      const third = await reportAt(2);
      const texts = sent.mock.calls.map(([query]) => (typeof query === 'string' ? query : (query as { text: string }).text)).filter((text) => text.includes('pg_advisory_xact_lock') || text.includes('EXECUTE intake_locks'));
      // Prepared and executed; executed and refused (26000); written out, and written out from then on.
      expect(texts.map((text) => (text.includes('PREPARE intake_batch') ? 'prepare' : text.includes('EXECUTE intake_batch') ? 'execute' : 'literal'))).toEqual([
        'prepare',
        'execute',
        'literal',
        'literal',
      ]);
      const stored = await db.pool.query('SELECT id, description FROM incidents WHERE id = ANY ($1) ORDER BY id', [[first, second, third]]);
      expect(stored.rows.map((row) => row.description)).toEqual(['lost-statement-0', 'lost-statement-1', 'lost-statement-2']);
    } finally {
      sent.mockRestore();
      await pool.end();
    }
  });

  it('writes a report with attachments in its own transaction, the attached rows audited with its writer', async () => {
    const { db } = suite;
    const at = await pointInGrid(db.pool, 14);
    const input = (category: string) => ({ category, location: { type: 'Point' as const, coordinates: [at.lon, at.lat] as [number, number] }, source: 'app' as const, photos: [] });
    const photo = { storedName: `${randomUUID()}.jpg`, contentType: 'image/jpeg' as const, bytes: 543, sha256: 'f'.repeat(64), originalName: '井盖.jpg' };
    const withPhoto = { ...hotline, route: 'POST /api/incidents (photo)', requestId: 'photo-request' };
    const [plain, attached, after] = await Promise.all([
      reportIncident(db.pool, time.clock, hotline, input('宠物扰民')),
      reportIncident(db.pool, time.clock, withPhoto, input('宠物扰民'), (client, id) => attachPhotos(client, id, [photo])),
      reportIncident(db.pool, time.clock, hotline, input('宠物扰民')),
    ]);
    expect([plain.duplicateOf, attached.duplicateOf, after.duplicateOf]).toEqual([null, plain.id, plain.id]);
    expect(attached.uploadedPhotos).toEqual([expect.objectContaining({ name: '井盖.jpg', bytes: 543 })]);
    expect(after.id).toBeGreaterThan(attached.id as number);
    const audit = await db.pool.query(
      `SELECT entity, role, route, request_id FROM audit_log WHERE (entity = 'incidents' AND entity_id = $1) OR (entity = 'incident_photos' AND after->>'incident_id' = $1::text) ORDER BY entity`,
      [attached.id],
    );
    expect(audit.rows).toEqual([
      { entity: 'incident_photos', role: 'hotline', route: 'POST /api/incidents (photo)', request_id: 'photo-request' },
      { entity: 'incidents', role: 'hotline', route: 'POST /api/incidents (photo)', request_id: 'photo-request' },
    ]);
  });

  it('answers a bad report among good ones with its own 4xx while the others are stored', async () => {
    const { db, api } = suite;
    const at = await pointInGrid(db.pool, 6);
    const before = (await db.pool.query('SELECT count(*)::int AS n FROM incidents')).rows[0].n;
    const good = Array.from({ length: 8 }, (_, i) => report(api, { lon: at.lon + i * 0.00001, lat: at.lat }, { category: '建筑垃圾' }));
    const [unknown, outside, nul, ...rest] = await Promise.all([
      report(api, at, { category: '外星人' }),
      report(api, { lon: 10, lat: 10 }),
      report(api, at, { description: 'bad \u0000 byte' }),
      ...good,
    ]);
    expect([unknown.status, unknown.body.rule, unknown.body.categories]).toEqual([422, 'known-category', expect.arrayContaining(['建筑垃圾'])]);
    expect([outside.status, outside.body.rule]).toEqual([422, 'inside-grid']);
    expect([nul.status, nul.body.errors?.[0]?.path]).toEqual([400, 'description']);
    expect(rest.map((r) => r.status)).toEqual(Array(8).fill(201));
    expect((await db.pool.query('SELECT count(*)::int AS n FROM incidents')).rows[0].n).toBe(before + 8);
  });

  it('retries a failed batch report by report, so a report the database refuses fails alone', async () => {
    const { db, api } = suite;
    const at = await pointInGrid(db.pool, 8);
    // A rule only the database knows (standing in for any failure of the batch statement).
    await db.pool.query(`ALTER TABLE incidents ADD CONSTRAINT test_refuses_boom CHECK (description IS DISTINCT FROM 'boom')`);
    try {
      const before = (await db.pool.query('SELECT count(*)::int AS n FROM incidents')).rows[0].n;
      const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => report(api, at, { category: '油烟污染', description: i === 5 ? 'boom' : `fine ${i}` })));
      expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 12 }, (_, i) => (i === 5 ? 500 : 201)));
      const stored = await db.pool.query<{ description: string }>('SELECT description FROM incidents ORDER BY id DESC LIMIT 11');
      expect(stored.rows.map((row) => row.description).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `fine ${i}`).filter((_, i) => i !== 5).sort());
      expect((await db.pool.query('SELECT count(*)::int AS n FROM incidents')).rows[0].n).toBe(before + 11);
      const timeline = await db.pool.query(`SELECT count(*)::int AS n FROM incident_events WHERE kind = 'reported' AND incident_id IN (SELECT id FROM incidents WHERE description LIKE 'fine %')`);
      expect(timeline.rows[0].n).toBe(11);
    } finally {
      await db.pool.query('ALTER TABLE incidents DROP CONSTRAINT test_refuses_boom');
    }
  });
});
