import pg from 'pg';
import { changeChannel } from '../../server/events/bus';
import { cityCatalogue } from '../../server/catalogue/city';
import { createIncidentBody } from '../../server/incidents/schemas';
import { maxBatchSize } from '../../server/incidents/intake';
import { maxNotificationBytes } from '../../server/incidents/sql';
import { reportIncident } from '../../server/incidents/service';
import { tileLayersOf } from '../../server/tiles/registry';
import { TileService } from '../../server/tiles/service';
import { useTestApp } from '../support/app';
import { announcedIncidents, tileAt } from '../support/tiles';

const tileLayerByName = tileLayersOf(cityCatalogue);

/** An intake batch names its ids, grid boxes and points in one NOTIFY, which PostgreSQL refuses at 8,000 bytes. */
describe('the notification of the largest intake batch', () => {
  const suite = useTestApp();

  it('fits with the most reports, every grid, distinct points and the longest ids; maps then drop by the grid boxes', async () => {
    const { db, api } = suite;
    // Ids of 16 digits, the longest a client reads exactly (Number.MAX_SAFE_INTEGER).
    await db.pool.query(`SELECT setval(pg_get_serial_sequence('incidents', 'id'), $1)`, [Number.MAX_SAFE_INTEGER - 1_000_000]);
    // Every level-4 grid of the city, each with a few reports near its inner point at full float precision, and
    // the corner of its box, far from them.
    const { rows: grids } = await db.pool.query<{ lon: number; lat: number; xmin: number; ymin: number }>(
      `SELECT ST_X(p) AS lon, ST_Y(p) AS lat, ST_XMin(geom) AS xmin, ST_YMin(geom) AS ymin
       FROM (SELECT geom, ST_PointOnSurface(geom) AS p FROM grids WHERE level = 4 ORDER BY id) g`,
    );
    const places = Array.from({ length: maxBatchSize }, (_, i) => {
      const grid = grids[i % grids.length];
      const step = Math.floor(i / grids.length) + 1;
      return { lon: grid.lon + step * 1.234567891e-5, lat: grid.lat + step * 1.12345678e-5 };
    });
    const z = 18;
    const corner = tileAt(grids[0].xmin + 1e-7, grids[0].ymin + 1e-7, z);
    const reportTiles = places.map((place) => tileAt(place.lon, place.lat, z));
    expect(reportTiles.every((tile) => Math.max(Math.abs(tile.x - corner.x), Math.abs(tile.y - corner.y)) > 1)).toBe(true);

    const incidents = tileLayerByName.get('incidents')!;
    const service = new TileService(db.pool, tileLayerByName, 16 * 1024 * 1024);
    const stop = service.listen(api.events);
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const payloads: string[] = [];
    let heard = () => {};
    listener.on('notification', (message) => {
      payloads.push(message.payload ?? '');
      heard();
    });
    await listener.query(`LISTEN ${pg.escapeIdentifier(changeChannel)}`);
    const announced = announcedIncidents(api.events);
    try {
      await service.tile(incidents, corner, {}, 'gzip');
      expect(service.cached(incidents, corner, {})).toBeDefined();
      const report = (at: { lon: number; lat: number }) =>
        reportIncident(db.pool, () => new Date(), { actor: null, route: 'test' }, createIncidentBody.parse({ category: '违章建筑', source: 'hotline', location: { type: 'Point', coordinates: [at.lon, at.lat] } }));
      // The first report starts a batch at once; the others arrive while it is written and make the next batch.
      const written = await Promise.all([report(grids[1]), ...places.map(report)]);
      const ids = written.slice(1).map((incident) => incident.id as number);
      expect(Math.min(...ids)).toBeGreaterThan(10 ** 15);
      await announced.all(ids);
      await new Promise<void>((resolve) => {
        heard = () => payloads.length >= 2 && resolve();
        heard();
      });
      // One notification carries the whole batch: it was written as one, not retried report by report.
      const batch = payloads.map((payload) => JSON.parse(payload)).find((event) => event.ids?.length === maxBatchSize);
      expect(batch.ids).toEqual(ids);
      for (const payload of payloads) expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(maxNotificationBytes);
      // With its points the text would not fit: it names the grid boxes, one per grid, and no points.
      expect(batch.points).toBeUndefined();
      expect(batch.gridBboxes).toHaveLength(grids.length);
      // So the tile at a grid's corner, far from every report but inside its grid's box, is dropped and re-made.
      expect(service.cached(incidents, corner, {})).toBeUndefined();
    } finally {
      announced.off();
      stop();
      await listener.end();
    }
  });
});
