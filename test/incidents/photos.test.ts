import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Response } from 'supertest';
import { removeOrphanPhotos } from '../../server/incidents/photos';
import { useTestApp } from '../support/app';
import { listen } from '../support/browser';
import { pointInGrid } from './support';

/** A real PNG (RGB, noisy so it does not compress): bytes grow with the size, for the size limit. */
function png(width: number, height: number, seed = 1): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const frame = Buffer.alloc(8 + data.length + 4);
    frame.writeUInt32BE(data.length, 0);
    body.copy(frame, 4);
    frame.writeUInt32BE(zlib.crc32(body), 8 + data.length);
    return frame;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  let state = seed;
  const raw = Buffer.alloc(height * (1 + width * 3));
  for (let i = 0; i < raw.length; i++) {
    state = (state * 1_103_515_245 + 12_345) >>> 0;
    raw[i] = i % (1 + width * 3) === 0 ? 0 : state >>> 24;
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// A 543-byte baseline JPEG (CPython's imghdr test image).
const jpeg = Buffer.from(
  '/9j/4AAQSkZJRgABAQEAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSEx' +
  'IQEw8QEBD/2wBDAQMDAwQDBAgEBAgQCwkLEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBD/wAARCAAQ' +
  'ABADASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAABwQF/8QAJBAAAQQBBAICAwAAAAAAAAAAAQIDBAYFBwgSExEiABQJMTL/xAAVAQEBAA' +
  'AAAAAAAAAAAAAAAAAABv/EACMRAAECBQMFAAAAAAAAAAAAAAECEQMEBQYhABIxFRZhgeH/2gAMAwEAAhEDEQA/ABSm0mobc8HmExLUlRzzEWPk' +
  'JWW+ulrsaUVAseUgslSlH9LKuPryIKuWPZdskzXmm3fX5m2nF4GlVxx/HOpx4ks51+MiU/Iaad7UcUo4tILoS4kqcWkezS0hO/HvuRp0rO6hWn' +
  'WO1UisZVuFi4GFeyEpmGepa5S5SWVPuciFKRFLgSrwetnyPIB+Vb4N9mKhQMzo5po9XLdDs9d6ZVix2VEhiL9kuNPxw2gEKcDQ/rs8AuA8VAe0' +
  'vdl7VOYn+27flGAUgmITjbhSmCg3BYlyeWDkMolvw4KOp1KM6iCNvngZHwetf//Z',
  'base64',
);

const uploadDir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygrid-photos-'));
const maxBytes = Math.floor(0.01 * 1024 * 1024);

function binary(response: Response, callback: (error: Error | null, body: Buffer) => void) {
  const chunks: Buffer[] = [];
  response.on('data', (chunk: Buffer) => chunks.push(chunk));
  response.on('end', () => callback(null, Buffer.concat(chunks)));
}

describe('incident photos: multipart intake, stored on disk, served back', () => {
  const ctx = useTestApp({ env: { UPLOAD_DIR: uploadDir, PHOTO_MAX_MB: '0.01', PHOTO_MAX_COUNT: '2' } });
  afterAll(() => fs.rmSync(uploadDir, { recursive: true, force: true }));

  const storedFiles = () => (fs.existsSync(uploadDir) ? fs.readdirSync(uploadDir).sort() : []);
  const rowCount = async (description: string) =>
    (await ctx.db.pool.query<{ incidents: number; photos: number }>(
      `SELECT (SELECT count(*) FROM incidents WHERE description = $1)::int AS incidents,
              (SELECT count(*) FROM incident_photos)::int AS photos`,
      [description],
    )).rows[0];

  let at: { lon: number; lat: number };
  beforeAll(async () => {
    at = await pointInGrid(ctx.db.pool, 6);
  });

  function reportForm(description: string, overrides: Record<string, unknown> = {}) {
    const report = { category: '窨井盖', location: { type: 'Point', coordinates: [at.lon, at.lat] }, description, source: 'app', ...overrides };
    return ctx.api.request.post('/api/incidents').set(ctx.api.auth('grid_worker')).field('report', JSON.stringify(report));
  }

  it('stores uploaded JPEG and PNG photos with the report and serves them back byte for byte', async () => {
    const picture = png(8, 6);
    const response = await (reportForm('photo upload'))
      .attach('photos', jpeg, { filename: '井盖.jpg', contentType: 'image/jpeg' })
      .attach('photos', picture, { filename: 'street.png', contentType: 'application/octet-stream' })
      .expect(201);
    const incident = response.body;
    expect(response.headers.location).toBe(`/api/incidents/${incident.id}`);
    expect(incident.uploadedPhotos).toEqual([
      expect.objectContaining({ contentType: 'image/jpeg', bytes: jpeg.length, name: '井盖.jpg' }),
      expect.objectContaining({ contentType: 'image/png', bytes: picture.length, name: 'street.png' }),
    ]);

    const rows = (await ctx.db.pool.query('SELECT id, stored_name FROM incident_photos WHERE incident_id = $1 ORDER BY id', [incident.id])).rows;
    expect(storedFiles()).toEqual(rows.map((row) => row.stored_name).sort());
    for (const [index, original] of [jpeg, picture].entries()) {
      const photo = incident.uploadedPhotos[index];
      expect(photo.url).toBe(`/api/incidents/${incident.id}/photos/${rows[index].id}`);
      expect(fs.readFileSync(path.join(uploadDir, rows[index].stored_name)).equals(original)).toBe(true);
      const served = await ctx.api.request.get(photo.url).set(ctx.api.auth('planner')).buffer(true).parse(binary).expect(200);
      expect(served.headers['content-type']).toBe(photo.contentType);
      expect(served.headers['x-content-type-options']).toBe('nosniff');
      expect(Buffer.compare(served.body as Buffer, original)).toBe(0);
      await ctx.api.request.get(photo.url).set(ctx.api.auth('planner')).set('If-None-Match', served.headers.etag).expect(304);
    }
    // The same readers as the incident itself; nobody else.
    await ctx.api.request.get(incident.uploadedPhotos[0].url).expect(401);
    const other = (await ctx.db.pool.query('SELECT min(id)::int AS id FROM incidents WHERE id <> $1', [incident.id])).rows[0].id;
    await ctx.api.request.get(`/api/incidents/${other}/photos/${rows[0].id}`).set(ctx.api.auth('planner')).expect(404);
    expect((await ctx.api.request.get(`/api/incidents/${incident.id}`).set(ctx.api.auth('commander')).expect(200)).body.uploadedPhotos).toEqual(incident.uploadedPhotos);
  });

  it('refuses a file that is not an image whatever its name says (415), and stores nothing', async () => {
    const before = storedFiles();
    const counts = await rowCount('fake photo');
    const response = await (reportForm('fake photo'))
      .attach('photos', png(4, 4), { filename: 'ok.png', contentType: 'image/png' })
      .attach('photos', Buffer.from('this is not a JPEG, only text pretending to be one'), { filename: 'fake.jpg', contentType: 'image/jpeg' })
      .expect(415)
      .expect('Content-Type', /application\/problem\+json/);
    expect(response.body.detail).toMatch(/photos\[1\] "fake\.jpg"/);
    expect(response.body.file).toBe('photos[1] "fake.jpg"');
    expect(storedFiles()).toEqual(before);
    expect(await rowCount('fake photo')).toEqual(counts);
  });

  it('refuses a photo over the size limit (413) and one photo too many (422), and stores nothing', async () => {
    const before = storedFiles();
    const counts = await rowCount('too big');
    const big = png(80, 80);
    expect(big.length).toBeGreaterThan(maxBytes);
    const tooBig = await (reportForm('too big'))
      .attach('photos', png(4, 4), { filename: 'small.png', contentType: 'image/png' })
      .attach('photos', big, { filename: 'huge.png', contentType: 'image/png' })
      .expect(413);
    expect(tooBig.body).toMatchObject({ type: 'payload-too-large', file: 'photos[1] "huge.png"', maxBytes });
    const tooMany = await (reportForm('too big'))
      .attach('photos', png(4, 4, 1), { filename: 'a.png' })
      .attach('photos', png(4, 4, 2), { filename: 'b.png' })
      .attach('photos', png(4, 4, 3), { filename: 'c.png' })
      .expect(422);
    expect(tooMany.body).toMatchObject({ rule: 'photo-count', maxCount: 2 });
    expect(storedFiles()).toEqual(before);
    expect(await rowCount('too big')).toEqual(counts);
  });

  it('removes the stored photos when the report itself is refused', async () => {
    const before = storedFiles();
    const outside = await (reportForm('outside', { location: { type: 'Point', coordinates: [0, 0] } }))
      .attach('photos', jpeg, { filename: 'a.jpg' })
      .expect(422);
    expect(outside.body.rule).toBe('inside-grid');
    const invalid = await (reportForm('invalid', { source: 'pigeon' })).attach('photos', jpeg, { filename: 'a.jpg' }).expect(400);
    expect(invalid.body.errors).toContainEqual(expect.objectContaining({ in: 'body', path: 'source' }));
    const noReport = await ctx.api.request.post('/api/incidents').set(ctx.api.auth('grid_worker')).attach('photos', jpeg, { filename: 'a.jpg' }).expect(400);
    expect(noReport.body.detail).toMatch(/report/);
    expect(storedFiles()).toEqual(before);
    expect((await rowCount('outside')).incidents + (await rowCount('invalid')).incidents).toBe(0);
  });

  it('adds photos to an open incident later, for those who work on it, and refuses them once it is final', async () => {
    const incident = (await reportForm('photos later').expect(201)).body;
    expect(incident.uploadedPhotos).toEqual([]);
    const after = png(5, 5, 7);
    const added = await ctx.api.request.post(`/api/incidents/${incident.id}/photos`).set(ctx.api.auth('police'))
      .attach('photos', after, { filename: 'handled.png' }).expect(201);
    expect(added.body.uploadedPhotos).toEqual([expect.objectContaining({ contentType: 'image/png', bytes: after.length, name: 'handled.png' })]);
    const served = await ctx.api.request.get(added.body.uploadedPhotos[0].url).set(ctx.api.auth('hotline')).buffer(true).parse(binary).expect(200);
    expect(Buffer.compare(served.body as Buffer, after)).toBe(0);

    const before = storedFiles();
    const counts = await rowCount('photos later');
    const upload = (role: 'grid_worker' | 'planner' | 'commander') =>
      ctx.api.request.post(`/api/incidents/${incident.id}/photos`).set(ctx.api.auth(role)).attach('photos', png(5, 5, 8), { filename: 'more.png' });
    // This suite's grid worker serves no grid: for them the incident does not exist. Planners only read.
    await upload('grid_worker').expect(404);
    await upload('planner').expect(403);
    await ctx.api.request.post(`/api/incidents/${incident.id}/photos`).set(ctx.api.auth('commander')).field('note', 'no files').expect(422);
    await ctx.api.request.post(`/api/incidents/${incident.id}/photos`).set(ctx.api.auth('commander')).send({ photos: [] }).expect(415);
    await ctx.api.request.post(`/api/incidents/${incident.id}/transitions`).set(ctx.api.auth('hotline')).send({ to: 'rejected' }).expect(200);
    const final = await upload('commander').expect(409);
    expect(final.body.incidentStatus).toBe('rejected');
    expect(storedFiles()).toEqual(before);
    expect(await rowCount('photos later')).toEqual(counts);
  });

  it('removes what an upload broken off midway had written', async () => {
    const before = storedFiles();
    const server = await listen(ctx.api.listener);
    const waitFor = async (condition: () => boolean) => {
      for (let tries = 0; tries < 100 && !condition(); tries++) await new Promise((resolve) => setTimeout(resolve, 50));
      return condition();
    };
    try {
      const boundary = 'citygrid-broken-upload';
      const report = { category: '窨井盖', location: { type: 'Point', coordinates: [at.lon, at.lat] }, description: 'broken off', source: 'app' };
      const request = http.request(`${server.url}/api/incidents`, {
        method: 'POST',
        headers: { ...ctx.api.auth('grid_worker'), 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': String(50_000) },
      });
      request.on('error', () => undefined);
      request.write(`--${boundary}\r\nContent-Disposition: form-data; name="report"\r\n\r\n${JSON.stringify(report)}\r\n`);
      request.write(`--${boundary}\r\nContent-Disposition: form-data; name="photos"; filename="half.png"\r\nContent-Type: image/png\r\n\r\n`);
      request.write(png(40, 40).subarray(0, 2000));
      expect(await waitFor(() => storedFiles().length > before.length)).toBe(true);
      request.destroy();
      expect(await waitFor(() => storedFiles().length === before.length)).toBe(true);
      expect(storedFiles()).toEqual(before);
      expect((await rowCount('broken off')).incidents).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('removes, at start-up, old photo files no incident references, and nothing else', async () => {
    const response = await reportForm('kept photo').attach('photos', jpeg, { filename: 'kept.jpg', contentType: 'image/jpeg' }).expect(201);
    const kept = (await ctx.db.pool.query('SELECT stored_name FROM incident_photos WHERE incident_id = $1', [response.body.id])).rows[0].stored_name as string;
    const orphan = 'aaaaaaaa-0000-4000-8000-000000000001.jpg';
    const young = 'aaaaaaaa-0000-4000-8000-000000000002.png';
    const foreign = 'notes.txt';
    for (const name of [orphan, young, foreign]) fs.writeFileSync(path.join(uploadDir, name), jpeg);
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    for (const name of [kept, orphan, foreign]) fs.utimesSync(path.join(uploadDir, name), twoHoursAgo, twoHoursAgo);

    expect(await removeOrphanPhotos(ctx.db.pool, uploadDir, new Date())).toEqual([orphan]);
    const left = storedFiles();
    expect(left).not.toContain(orphan);
    expect(left).toEqual(expect.arrayContaining([kept, young, foreign]));
    expect(await removeOrphanPhotos(ctx.db.pool, uploadDir, new Date())).toEqual([]);
    // Two hours on, the young file is a leftover too.
    expect(await removeOrphanPhotos(ctx.db.pool, uploadDir, new Date(Date.now() + 2 * 3600_000))).toEqual([young]);
    fs.rmSync(path.join(uploadDir, foreign));
  });

  it('documents the multipart form in OpenAPI', async () => {
    const document = (await ctx.api.request.get('/api').expect(200)).body;
    const content = document.paths['/api/incidents'].post.requestBody.content;
    expect(Object.keys(content).sort()).toEqual(['application/json', 'multipart/form-data']);
    expect(content['multipart/form-data'].schema.properties.photos.items).toMatchObject({ type: 'string', format: 'binary' });
    expect(document.paths['/api/incidents/{id}/photos/{photoId}'].get).toBeDefined();
    expect(Object.keys(document.paths['/api/incidents/{id}/photos'].post.requestBody.content)).toEqual(['multipart/form-data']);
  });
});
