import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Response } from 'supertest';
import { useTestApp } from '../support/app';
import { square } from '../grids/support';
import { pointInGrid, report } from '../incidents/support';

const uploadDir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygrid-idempotency-'));

// A 67-byte PNG (1×1, one grey pixel): enough for the photo checks, which read the first bytes.
const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgYAAAAAMAASsJTYQAAAAASUVORK5CYII=', 'base64');

/** The parts of an answer a client sees: a replay must match the first answer in all of them. */
function answerOf(response: Response) {
  return { status: response.status, location: response.headers.location, etag: response.headers.etag, type: response.headers['content-type'], body: response.text };
}

describe('Idempotency-Key on every create', () => {
  const ctx = useTestApp({ env: { UPLOAD_DIR: uploadDir } });
  afterAll(() => fs.rmSync(uploadDir, { recursive: true, force: true }));

  let at: { lon: number; lat: number };
  beforeAll(async () => {
    at = await pointInGrid(ctx.db.pool, 3);
  });
  const count = async (sql: string, params: unknown[] = []) => (await ctx.db.pool.query<{ n: number }>(sql, params)).rows[0].n;
  const incidentsDescribed = (description: string) => count('SELECT count(*)::int AS n FROM incidents WHERE description = $1', [description]);

  it('answers a repeated report with the first answer and stores it once', async () => {
    const first = await report(ctx.api, at, { description: 'idem-1' }).set('Idempotency-Key', 'key-1').expect(201);
    const again = await report(ctx.api, at, { description: 'idem-1' }).set('Idempotency-Key', 'key-1');
    expect(answerOf(again)).toEqual(answerOf(first));
    // Member order and whitespace of the JSON may differ in a retry: the same request all the same.
    const reordered = await report(ctx.api, at, { source: 'hotline', description: 'idem-1' }).set('Idempotency-Key', '"key-1"');
    expect(answerOf(reordered)).toEqual(answerOf(first));
    expect(await incidentsDescribed('idem-1')).toBe(1);
    // Without a key nothing changes: a second report is a second incident.
    await report(ctx.api, at, { description: 'idem-1' }).expect(201);
    expect(await incidentsDescribed('idem-1')).toBe(2);
  });

  it('refuses a key reused with another body (422) and writes nothing', async () => {
    await report(ctx.api, at, { description: 'idem-2' }).set('Idempotency-Key', 'key-2').expect(201);
    const reused = await report(ctx.api, at, { description: 'idem-2 but different' }).set('Idempotency-Key', 'key-2').expect(422);
    expect(reused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(reused.body).toMatchObject({ type: 'idempotency-key-reused', status: 422, idempotencyKey: 'key-2' });
    expect(await incidentsDescribed('idem-2 but different')).toBe(0);
    // Another route with the same key is another request too (Open311's api_key is the same hotline token).
    const elsewhere = await ctx.api.request
      .post('/open311/v2/requests.json')
      .set('Idempotency-Key', 'key-2')
      .type('form')
      .send({ service_code: 'manhole-cover', lat: String(at.lat), long: String(at.lon), description: 'idem-2', api_key: ctx.api.tokens.hotline });
    expect(elsewhere.status).toBe(422);
    expect(elsewhere.body).toEqual([{ code: 422, description: expect.stringContaining('key-2') }]);
    expect(await incidentsDescribed('idem-2')).toBe(1);
  });

  it('keeps keys per token: the same key from another token is its own request', async () => {
    await report(ctx.api, at, { description: 'idem-3' }).set('Idempotency-Key', 'shared-key').expect(201);
    await ctx.api.request
      .post('/api/incidents')
      .set(ctx.api.auth('grid_worker'))
      .set('Idempotency-Key', 'shared-key')
      .send({ category: '窨井盖', location: { type: 'Point', coordinates: [at.lon, at.lat] }, description: 'idem-3', source: 'patrol' })
      .expect(201);
    expect(await incidentsDescribed('idem-3')).toBe(2);
  });

  it('creates one incident for many concurrent requests with one key, each answered the same', async () => {
    const answers = await Promise.all(Array.from({ length: 12 }, () => report(ctx.api, at, { description: 'idem-4' }).set('Idempotency-Key', 'key-4')));
    // With reports of other keys in the same group-committed batches.
    const others = await Promise.all(Array.from({ length: 12 }, (_, i) => report(ctx.api, at, { description: `idem-4-${i}` }).set('Idempotency-Key', `key-4-${i}`)));
    expect(new Set(answers.map((answer) => JSON.stringify(answerOf(answer)))).size).toBe(1);
    expect(answers[0].status).toBe(201);
    expect(others.every((answer) => answer.status === 201)).toBe(true);
    expect(await incidentsDescribed('idem-4')).toBe(1);
    expect(await count("SELECT count(*)::int AS n FROM incidents WHERE description LIKE 'idem-4-%'")).toBe(12);
  });

  it('forgets keys after 24 hours', async () => {
    await report(ctx.api, at, { description: 'idem-5' }).set('Idempotency-Key', 'key-5').expect(201);
    await ctx.db.pool.query("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'key-5'");
    await report(ctx.api, at, { description: 'idem-5' }).set('Idempotency-Key', 'key-5').expect(201);
    expect(await incidentsDescribed('idem-5')).toBe(2);
    // The key now holds the second report, for another 24 hours.
    expect(await count("SELECT count(*)::int AS n FROM idempotency_keys WHERE key = 'key-5' AND created_at > now() - interval '1 minute'")).toBe(1);
  });

  it('refuses a malformed key (400) before writing', async () => {
    const long = await report(ctx.api, at, { description: 'idem-6' }).set('Idempotency-Key', 'k'.repeat(256)).expect(400);
    expect(long.body.errors[0]).toMatchObject({ in: 'headers', path: 'idempotency-key' });
    await report(ctx.api, at, { description: 'idem-6' }).set('Idempotency-Key', 'with space').expect(400);
    expect(await incidentsDescribed('idem-6')).toBe(0);
  });

  it('replays a multipart report with photos: one incident, one set of photos, the retry’s files removed', async () => {
    // Each send has a new multipart boundary: the request is the same all the same.
    const send = (photo = png) =>
      ctx.api.request
        .post('/api/incidents')
        .set(ctx.api.auth('grid_worker'))
        .set('Idempotency-Key', 'photo-key')
        .field('report', JSON.stringify({ category: '窨井盖', location: { type: 'Point', coordinates: [at.lon, at.lat] }, description: 'idem-7', source: 'app' }))
        .attach('photos', photo, { filename: 'manhole.png' });
    const first = await send().expect(201);
    const filesAfterFirst = fs.readdirSync(uploadDir).sort();
    const again = await send();
    expect(answerOf(again)).toEqual(answerOf(first));
    expect(first.body.uploadedPhotos).toHaveLength(1);
    expect(await incidentsDescribed('idem-7')).toBe(1);
    expect(fs.readdirSync(uploadDir).sort()).toEqual(filesAfterFirst);
    // Another photo under the same key is another request.
    const other = await send(Buffer.concat([png, Buffer.from([0])]));
    expect(other.status).toBe(422);
    expect(fs.readdirSync(uploadDir).sort()).toEqual(filesAfterFirst);

    // Photos added later: the same.
    const add = () => ctx.api.request.post(`/api/incidents/${first.body.id}/photos`).set(ctx.api.auth('commander')).set('Idempotency-Key', 'add-key').attach('photos', png, { filename: 'after.png' });
    const added = await add().expect(201);
    expect(answerOf(await add())).toEqual(answerOf(added));
    expect(await count('SELECT count(*)::int AS n FROM incident_photos WHERE incident_id = $1', [first.body.id])).toBe(2);
  });

  it('replays layer features, grids and Open311 requests', async () => {
    const feature = () =>
      ctx.api.request
        .post('/api/layers/hazards')
        .set(ctx.api.auth('admin'))
        .set('Idempotency-Key', 'hazard-key')
        .send({ geometry: { type: 'Point', coordinates: [at.lon, at.lat] }, properties: { name: 'idem hazard', kind: 'gas_station', risk_level: 2 } });
    const firstFeature = await feature().expect(201);
    expect(answerOf(await feature())).toEqual(answerOf(firstFeature));
    expect(await count("SELECT count(*)::int AS n FROM hazards WHERE name = 'idem hazard'")).toBe(1);

    const grid = () =>
      ctx.api.request
        .post('/api/grids')
        .set(ctx.api.auth('planner'))
        .set('Idempotency-Key', 'grid-key')
        .send({ code: 'IDEM-1', name: '幂等区', level: 1, geometry: square(121.4, 31.6, 0.01) });
    const firstGrid = await grid().expect(201);
    // Without the key the retry would be a 409 (the code is taken); with it, the first answer.
    expect(answerOf(await grid())).toEqual(answerOf(firstGrid));
    expect(firstGrid.headers.etag).toBe('"1"');

    const file = () =>
      ctx.api.request
        .post('/open311/v2/requests.json')
        .set('Idempotency-Key', 'open311-key')
        .type('form')
        .send({ service_code: 'manhole-cover', lat: String(at.lat), long: String(at.lon), description: 'idem-8', api_key: ctx.api.tokens.hotline });
    const filed = await file().expect(201);
    expect(answerOf(await file())).toEqual(answerOf(filed));
    expect(await incidentsDescribed('idem-8')).toBe(1);
  });

  it('documents the header on every create in OpenAPI', async () => {
    const document = (await ctx.api.request.get('/api').expect(200)).body;
    const creates = ['/api/incidents', '/api/incidents/{id}/photos', '/api/grids', '/api/grids/merge', '/api/grids/{id}/split', '/api/layers/hazards', '/open311/v2/requests.json'];
    for (const route of creates) {
      const header = document.paths[route].post.parameters.find((parameter: { in: string; name: string }) => parameter.in === 'header' && parameter.name === 'Idempotency-Key');
      expect({ route, header: header?.schema?.type }).toEqual({ route, header: 'string' });
    }
  });
});
