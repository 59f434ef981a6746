import { VectorTile } from '@mapbox/vector-tile';
import { gridDisk, latLngToCell } from 'h3-js';
import { PbfReader } from 'pbf';
import { useTestApp } from '../support/app';
import { binary, tileAt } from '../support/tiles';
import { pointInGrid, report } from '../incidents/support';
import { innerCell, insertIncidents, nextChange, seeded, studyCells } from './synthetic';

interface GiCell {
  hex: string;
  count: number;
  z: number;
  p: number;
  class: number;
}

const year2025 = { from: '2025-01-01T00:00:00+08:00', to: '2026-01-01T00:00:00+08:00' };

describe('Getis-Ord Gi*', () => {
  const suite = useTestApp();

  const gi = async (query: Record<string, unknown>): Promise<{ cells: GiCell[]; classes: Record<string, number> }> =>
    (await suite.api.request.get('/api/hotspots/gi').query(query).set(suite.api.auth('commander')).expect(200)).body;

  it('marks a dense cluster in uniform noise hot at 99 % and no cell cold', async () => {
    const cells = await studyCells(suite.api, 9);
    expect(cells.length).toBeGreaterThan(60);
    const centre = innerCell(cells, Math.floor(cells.length / 10));
    const cluster = new Set(gridDisk(centre, 1));
    const random = seeded(7);
    const at = new Date('2030-01-15T12:00:00Z');
    await insertIncidents(suite.db.pool, cells.map((cell) => ({ cell, at, count: (cluster.has(cell) ? 12 : 0) + Math.floor(random() * 3) })));

    const result = await gi({ res: 9, k: 1, from: '2030-01-01T00:00:00Z', to: '2030-02-01T00:00:00Z' });
    expect(result.cells.map((cell) => cell.hex).sort()).toEqual([...cells].sort());
    const byHex = new Map(result.cells.map((cell) => [cell.hex, cell]));
    expect([...cluster].map((hex) => byHex.get(hex)!.class)).toEqual([3, 3, 3, 3, 3, 3, 3]);
    expect(result.cells.filter((cell) => cell.class < 0)).toEqual([]);
    expect(byHex.get(centre)!.p).toBeLessThan(0.01);
  });

  it('computes z-scores equal to the textbook formula, empty cells included as 0', async () => {
    for (const k of [1, 2]) {
      const { cells } = await gi({ ...year2025, res: 9, k });
      expect(cells.some((cell) => cell.count === 0)).toBe(true);
      // Ord & Getis (1995) with binary weights w_ij = 1 for j in gridDisk(i, k), i included:
      // G*_i = (Σ_j w_ij x_j − X̄ Σ_j w_ij) / (S √((n Σ_j w_ij² − (Σ_j w_ij)²) / (n − 1))), S² = Σ x_j² / n − X̄².
      const n = cells.length;
      const x = cells.map((cell) => cell.count);
      const mean = x.reduce((a, b) => a + b, 0) / n;
      const s = Math.sqrt(x.reduce((a, b) => a + b * b, 0) / n - mean * mean);
      const position = new Map(cells.map((cell, i) => [cell.hex, i]));
      cells.forEach((cell, i) => {
        const w = new Array<number>(n).fill(0);
        for (const hex of gridDisk(cell.hex, k)) if (position.has(hex)) w[position.get(hex)!] = 1;
        const sumW = w.reduce((a, b) => a + b, 0);
        const sumW2 = w.reduce((a, b) => a + b * b, 0);
        const weighted = w.reduce((a, wj, j) => a + wj * x[j], 0);
        const z = (weighted - mean * sumW) / (s * Math.sqrt((n * sumW2 - sumW * sumW) / (n - 1)));
        expect(Math.abs(cell.z - z)).toBeLessThan(1e-9);
        expect(i).toBe(position.get(cell.hex));
      });
    }
  });

  it('never marks more cells with the false-discovery-rate correction than without', async () => {
    for (const res of [8, 9, 10]) {
      const plain = await gi({ ...year2025, res });
      const corrected = await gi({ ...year2025, res, fdr: 'true' });
      const significant = (cells: GiCell[], level: number) => cells.filter((cell) => Math.abs(cell.class) >= level).length;
      for (const level of [1, 2, 3]) expect(significant(corrected.cells, level)).toBeLessThanOrEqual(significant(plain.cells, level));
      const plainByHex = new Map(plain.cells.map((cell) => [cell.hex, cell.class]));
      expect(corrected.cells.filter((cell) => Math.abs(cell.class) > Math.abs(plainByHex.get(cell.hex)!))).toEqual([]);
      if (res === 9) expect(significant(plain.cells, 1)).toBeGreaterThan(significant(corrected.cells, 1));
    }
  });

  it('shows a new incident in /api/hotspots/gi and in the hotspots tile of its cell', async () => {
    const { api, db } = suite;
    const at = await pointInGrid(db.pool, 2);
    const hex = latLngToCell(at.lat, at.lon, 10);
    const tile = tileAt(at.lon, at.lat, 15);
    const tileCount = async () => {
      const response = await api.request.get(`/tiles/hotspots/${tile.z}/${tile.x}/${tile.y}.mvt`).set(api.auth('commander')).buffer(true).parse(binary).expect(200);
      const layer = new VectorTile(new PbfReader(response.body as Buffer)).layers.hotspots;
      const features = Array.from({ length: layer.length }, (_, i) => layer.feature(i).properties);
      return Number(features.find((properties) => properties.hex === hex)?.count);
    };
    const giCount = async () => (await gi({ res: 10 })).cells.find((cell) => cell.hex === hex)?.count;
    const [tileBefore, giBefore] = [await tileCount(), await giCount()];
    expect(giBefore).toBe(tileBefore);
    const heard = nextChange(api);
    await report(api, at).expect(201);
    await heard;
    expect(await giCount()).toBe(giBefore! + 1);
    expect(await tileCount()).toBe(tileBefore + 1);
  });

  it('describes the hotspots layer in TileJSON and lists it for the analysis roles only', async () => {
    const { api } = suite;
    const { body } = await api.request.get('/tiles/hotspots.json?res=9').set(api.auth('police')).expect(200);
    expect(body).toMatchObject({ minzoom: 8, maxzoom: 22, vector_layers: [{ id: 'hotspots', fields: { hex: 'String', count: 'Number', z: 'Number', p: 'Number', class: 'Number' } }] });
    expect(body.tiles[0]).toMatch(/\/tiles\/hotspots\/\{z\}\/\{x\}\/\{y\}\.mvt\?res=9$/);
    const listed = async (role: 'planner' | 'grid_worker') => (await api.request.get('/tiles').set(api.auth(role)).expect(200)).body.layers.map((layer: { name: string }) => layer.name);
    expect(await listed('planner')).toContain('hotspots');
    expect(await listed('grid_worker')).not.toContain('hotspots');
  });
});
