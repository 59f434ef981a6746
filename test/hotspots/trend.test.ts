import { gridDisk } from 'h3-js';
import { emergingLabel, mannKendall } from '../../server/hotspots/statistics';
import { useTestApp } from '../support/app';
import { innerCell, insertIncidents, seeded, studyCells } from './synthetic';

const weekMs = 7 * 24 * 3600 * 1000;
const windows = 8;

describe('emerging hot spots', () => {
  const suite = useTestApp();

  /**
   * One synthetic field per scenario, in a year of its own: every cell gets background counts in each of the 8
   * weekly windows, the cluster (a cell and its ring) gets `cluster(w)` more in window w (oldest first).
   */
  async function scenario(year: number, cluster: (w: number) => number, background: (random: () => number) => number) {
    const cells = await studyCells(suite.api, 9);
    const centre = innerCell(cells, year % 7);
    const members = new Set(gridDisk(centre, 1));
    const to = new Date(`${year}-03-01T00:00:00Z`);
    const random = seeded(year);
    const entries = [];
    for (let w = 0; w < windows; w++) {
      const at = new Date(to.getTime() - (windows - w - 0.5) * weekMs);
      for (const cell of cells) entries.push({ cell, at, count: background(random) + (members.has(cell) ? cluster(w) : 0) });
    }
    await insertIncidents(suite.db.pool, entries);
    const { body } = await suite.api.request
      .get('/api/hotspots/trend')
      .query({ res: 9, window: '7d', windows, to: to.toISOString() })
      .set(suite.api.auth('planner'))
      .expect(200);
    expect(body.windows).toHaveLength(windows);
    return body.cells.find((cell: { hex: string }) => cell.hex === centre) as { counts: number[]; classes: number[]; trend: { s: number; z: number; p: number }; label: string };
  }

  // Noise varies from cell to cell, so a growing cluster stands out more every week (Gi* is scale-free: a cluster
  // that grows over a constant background keeps the same z).
  const noise = (random: () => number) => Math.floor(random() * 3);
  const constant = () => 1;

  it('labels a rising cluster intensifying, with a significant upward Mann-Kendall trend', async () => {
    const cell = await scenario(2031, (w) => 1 + w, noise);
    expect(cell.classes.every((c) => c > 0)).toBe(true);
    expect(cell.trend.z).toBeGreaterThan(1.96);
    expect(cell.label).toBe('intensifying hot spot');
  });

  it('labels a fading cluster diminishing', async () => {
    const cell = await scenario(2032, (w) => 8 - w, noise);
    expect(cell.trend.z).toBeLessThan(-1.96);
    expect(cell.label).toBe('diminishing hot spot');
  });

  it('labels a cluster of the last window only new', async () => {
    const cell = await scenario(2033, (w) => (w === windows - 1 ? 8 : 0), constant);
    expect(cell.classes).toEqual([0, 0, 0, 0, 0, 0, 0, 3]);
    expect(cell.label).toBe('new hot spot');
  });

  it('labels an on-and-off cluster sporadic', async () => {
    const cell = await scenario(2034, (w) => ([1, 3, 7].includes(w) ? 8 : 0), constant);
    expect(cell.classes).toEqual([0, 3, 0, 3, 0, 0, 0, 3]);
    expect(cell.label).toBe('sporadic hot spot');
  });
});

describe('emerging-hot-spot labels of class series', () => {
  const label = (classes: number[], z: number[] = classes) => emergingLabel(classes, mannKendall(z));

  it('follows the definitions for hot and, mirrored, cold spots', () => {
    expect(label([0, 0, 0, 0, 0, 2, 3, 3])).toBe('consecutive hot spot');
    expect(label([2, 2, 2, 2, 2, 2, 2, 2])).toBe('persistent hot spot');
    expect(label([1, 2, 2, 2, 2, 2, 2, 2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toBe('intensifying hot spot');
    expect(label([3, 3, 3, 3, 3, 3, 3, 3, 3, 0])).toBe('historical hot spot');
    expect(label([-2, 0, 0, 0, 0, 0, 1, 1])).toBe('oscillating hot spot');
    expect(label([0, 0, 0, 0, 0, 0, 0, -3])).toBe('new cold spot');
    expect(label([-1, -1, -1, -1, -1, -1, -1, -1], [-1, -2, -3, -4, -5, -6, -7, -8])).toBe('intensifying cold spot');
    expect(label([-1, 0, -1, 0, 0, 0, -1, -1])).toBe('sporadic cold spot');
    expect(label([0, 0, 1, 0, 0, 0, 0, 0])).toBe('no pattern detected');
  });

  it('computes Mann-Kendall S, Z and p as the textbook test (ties corrected)', () => {
    const result = mannKendall([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(result.s).toBe(28);
    // Var(S) = n(n−1)(2n+5)/18 = 8·7·21/18; Z = (S − 1)/√Var(S)
    expect(result.z).toBeCloseTo(27 / Math.sqrt((8 * 7 * 21) / 18), 12);
    expect(result.p).toBeLessThan(0.001);
    const tied = mannKendall([1, 1, 2, 2, 2, 3]);
    expect(tied.s).toBe(11);
    expect(tied.z).toBeCloseTo(10 / Math.sqrt((6 * 5 * 17 - 2 * 1 * 9 - 3 * 2 * 11) / 18), 12);
    expect(mannKendall([4, 4, 4, 4]).z).toBe(0);
  });
});
