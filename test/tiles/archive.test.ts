import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { VectorTile } from '@mapbox/vector-tile';
import { PbfReader } from 'pbf';
import { Compression, PMTiles, type RangeResponse, type Source, TileType, zxyToTileId } from 'pmtiles';
import { projectRoot } from '../../server/config';
import { PmtilesWriter } from '../../server/tiles/pmtiles';
import { useTestApp } from '../support/app';
import { useTempFolder } from '../support/temp-folder';
import { binary, type Tile, tileAt } from '../support/tiles';

const run = promisify(execFile);

/** The npm pmtiles reader on a file of this machine (its own FileSource is the browser's File API). */
class LocalFileSource implements Source {
  constructor(private readonly file: string) {}

  getKey(): string {
    return this.file;
  }

  async getBytes(offset: number, length: number): Promise<RangeResponse> {
    const handle = await fs.promises.open(this.file);
    try {
      const bytes = Buffer.alloc(length);
      const { bytesRead } = await handle.read(bytes, 0, length, offset);
      return { data: bytes.buffer.slice(0, bytesRead) };
    } finally {
      await handle.close();
    }
  }
}

describe('PMTiles archive of the public tile layers (npm run tiles:export)', () => {
  const suite = useTestApp();
  const temp = useTempFolder('citygrid-pmtiles-');

  /** Runs the npm script's program on the suite's database; resolves with its output, or rejects with it. */
  function tilesExport(args: string[]) {
    const tsx = path.join(projectRoot, 'node_modules', '.bin', 'tsx');
    return run(tsx, [path.join(projectRoot, 'scripts', 'tiles-export.ts'), ...args], { env: { ...process.env, DATABASE_URL: suite.db.url } });
  }

  /** The server's tile as a map receives it (unzipped); empty for 204. */
  async function serverTile(layer: string, { z, x, y }: Tile): Promise<Buffer> {
    const response = await suite.api.request.get(`/tiles/${layer}/${z}/${x}/${y}.mvt`).set(suite.api.auth('planner')).buffer(true).parse(binary);
    expect([200, 204]).toContain(response.status);
    return response.status === 204 ? Buffer.alloc(0) : (response.body as Buffer);
  }

  async function archiveTile(archive: PMTiles, { z, x, y }: Tile): Promise<Buffer> {
    const tile = await archive.getZxy(z, x, y);
    return tile ? Buffer.from(tile.data) : Buffer.alloc(0);
  }

  /** Every tile of zoom z over the extent of the table's geometry. */
  async function tilesOver(table: string, z: number): Promise<Tile[]> {
    const { rows } = await suite.db.pool.query<{ w: number; s: number; e: number; n: number }>(
      `SELECT ST_XMin(e) AS w, ST_YMin(e) AS s, ST_XMax(e) AS e, ST_YMax(e) AS n FROM (SELECT ST_Extent(geom) AS e FROM ${table}) t`,
    );
    const { w, s, e, n } = rows[0];
    const [low, high] = [tileAt(w, n, z), tileAt(e, s, z)];
    const tiles: Tile[] = [];
    for (let x = low.x; x <= high.x; x++) for (let y = low.y; y <= high.y; y++) tiles.push({ z, x, y });
    return tiles;
  }

  it('holds, for every tile of the zooms asked for, the bytes the server sends for it', async () => {
    const out = path.join(temp.path, 'buildings.pmtiles');
    const { stdout } = await tilesExport(['--layers', 'buildings', '--minzoom', '14', '--maxzoom', '16', '--out', out]);
    expect(stdout).toMatch(/wrote .*buildings\.pmtiles/);
    const archive = new PMTiles(new LocalFileSource(out));
    const header = await archive.getHeader();
    expect(header).toMatchObject({ specVersion: 3, minZoom: 14, maxZoom: 16, tileType: TileType.Mvt, tileCompression: Compression.Gzip, clustered: true });
    const metadata = (await archive.getMetadata()) as { vector_layers: Array<{ id: string }> };
    expect(metadata.vector_layers.map((layer) => layer.id)).toEqual(['buildings']);
    let nonEmpty = 0;
    for (const z of [14, 15, 16]) {
      for (const tile of await tilesOver('buildings', z)) {
        const expected = await serverTile('buildings', tile);
        expect(await archiveTile(archive, tile)).toEqual(expected);
        if (expected.length > 0) nonEmpty++;
      }
    }
    expect(nonEmpty).toBeGreaterThan(10);
    expect(nonEmpty).toBe(header.numAddressedTiles);
  });

  it('puts several layers in each tile, one after the other in the order named', async () => {
    const out = path.join(temp.path, 'city.pmtiles');
    const layers = ['grids', 'buildings', 'key_places'];
    await tilesExport(['--layers', layers.join(','), '--minzoom', '13', '--maxzoom', '13', '--out', out]);
    const archive = new PMTiles(new LocalFileSource(out));
    const tiles = await tilesOver('buildings', 13);
    for (const tile of tiles) {
      const parts = await Promise.all(layers.map((layer) => serverTile(layer, tile)));
      const stored = await archiveTile(archive, tile);
      expect(stored).toEqual(Buffer.concat(parts));
      if (stored.length > 0) expect(Object.keys(new VectorTile(new PbfReader(stored)).layers).sort()).toEqual(layers.filter((_, i) => parts[i].length > 0).sort());
    }
  });

  it('refuses layers that are not public, naming the ones an archive may hold', async () => {
    await expect(tilesExport(['--layers', 'incidents', '--out', path.join(temp.path, 'no.pmtiles')])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/Not public tile layers: incidents; an archive may hold .*buildings/),
    });
    await expect(tilesExport(['--minzoom', '9', '--maxzoom', '3', '--out', path.join(temp.path, 'no.pmtiles')])).rejects.toMatchObject({ code: 1 });
    expect(fs.existsSync(path.join(temp.path, 'no.pmtiles'))).toBe(false);
  });

  it('splits a directory too big for the first 16 KiB into leaf directories and stores repeated tiles once', async () => {
    const out = path.join(temp.path, 'many.pmtiles');
    const writer = new PmtilesWriter(path.join(temp.path, 'many.data'));
    const z = 12;
    const tiles: Tile[] = [];
    for (let x = 0; x < 200; x++) for (let y = 0; y < 200; y++) tiles.push({ z, x, y });
    const ids = tiles.map((tile) => ({ tile, id: zxyToTileId(tile.z, tile.x, tile.y) })).sort((a, b) => a.id - b.id);
    // Every third tile is the same "sea" tile; the others are distinct.
    const body = (index: number) => zlib.gzipSync(Buffer.from(index % 3 === 0 ? 'sea' : `tile ${index}`));
    ids.forEach(({ id }, index) => writer.addTile(id, body(index)));
    const summary = await writer.finish(out, { minZoom: z, maxZoom: z, bounds: [-180, -85, 180, 85], center: [0, 0, z], metadata: { vector_layers: [] } });
    expect(summary.addressedTiles).toBe(40_000);
    expect(summary.tileContents).toBe(40_000 - Math.ceil(40_000 / 3) + 1);
    const archive = new PMTiles(new LocalFileSource(out));
    const header = await archive.getHeader();
    expect(header.leafDirectoryLength).toBeGreaterThan(0);
    expect(header.rootDirectoryOffset + header.rootDirectoryLength).toBeLessThanOrEqual(16_384);
    for (const index of [0, 1, 2, 3, 4097, 20_000, 39_999]) {
      const { tile } = ids[index];
      expect(await archiveTile(archive, tile)).toEqual(zlib.gunzipSync(body(index)));
    }
  });
});
