import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { projectRoot } from '../../server/config';
import { boston311, csvFiles, importIncidents } from '../../server/incidents/import';
import { useTestApp } from '../support/app';

const archive = path.resolve(projectRoot, '..', 'shared', 'data', 'boston-311-2015', 'boston311_2015_by_type.tar.gz');
const describeWithData = fs.existsSync(archive) ? describe : describe.skip;

/** "MM/DD/YYYY hh:mm:ss AM" in Boston local time → epoch ms . */
function bostonTime(text: string): number | null {
  const m = /^(\d\d)\/(\d\d)\/(\d{4}) (\d\d):(\d\d):(\d\d) (AM|PM)$/.exec(text);
  if (!m) return null;
  const [, month, day, year, hour, minute, second, half] = m;
  const h = (Number(hour) % 12) + (half === 'PM' ? 12 : 0);
  const naive = Date.UTC(Number(year), Number(month) - 1, Number(day), h, Number(minute), Number(second));
  // US rules since 2007: from the second Sunday of March, 2:00, to the first Sunday of November, 2:00 (1:00 standard).
  const sunday = (monthIndex: number, nth: number) => {
    const first = new Date(Date.UTC(Number(year), monthIndex, 1)).getUTCDay();
    return 1 + ((7 - first) % 7) + 7 * (nth - 1);
  };
  const start = Date.UTC(Number(year), 2, sunday(2, 2), 2);
  const end = Date.UTC(Number(year), 10, sunday(10, 1), 1);
  return naive + (naive >= start && naive < end ? 4 : 5) * 3_600_000;
}

function percentile(sorted: number[], p: number): number {
  const rank = p * (sorted.length - 1);
  const low = Math.floor(rank);
  return sorted[low] + (sorted[Math.min(low + 1, sorted.length - 1)] - sorted[low]) * (rank - low);
}

describeWithData('Boston 311 (2015) history through the statistics API', () => {
  const suite = useTestApp({ env: { CITY_TIME_ZONE: 'America/New_York' } });
  let directory: string;
  beforeAll(() => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'boston311-'));
    execFileSync('tar', ['xzf', archive, '-C', directory]);
  }, 60_000);
  afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

  it('imports every request and agrees with closure rate, on-time rate and median handling time per department from the CSV', async () => {
    const { db, api } = suite;
    const files = csvFiles(directory);
    const result = await importIncidents(db.pool, files, boston311);
    expect(result).toMatchObject({ files: 158, read: 121_145, inserted: 121_145, alreadyImported: 0, rejected: [] });
    // 14 % of the year's requests sit at City Hall Plaza, Boston's default point: flagged, not a hotspot.
    expect(result.placeholders).toEqual([{ lat: 42.3594, lon: -71.0587, rows: 17_070 }]);
    const busiest = (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM incidents WHERE h3_r9 IS NOT NULL GROUP BY h3_r9 ORDER BY 1 DESC LIMIT 1')).rows[0].n;
    expect(busiest).toBeLessThan(result.placeholders[0].rows / 10);

    const byDepartment = new Map<string, { total: number; closed: number; timed: number; onTime: number; untimed: number; hours: number[] }>();
    const byLocalDay = new Map<string, number>();
    for (const file of files) {
      for (const row of parse(fs.readFileSync(file), { columns: true, skip_empty_lines: true }) as Array<Record<string, string>>) {
        const [month, day, year] = row.OPEN_DT.slice(0, 10).split('/');
        byLocalDay.set(`${year}-${month}-${day}`, (byLocalDay.get(`${year}-${month}-${day}`) ?? 0) + 1);
        const d = byDepartment.get(row.Department) ?? { total: 0, closed: 0, timed: 0, onTime: 0, untimed: 0, hours: [] };
        byDepartment.set(row.Department, d);
        d.total++;
        if (row.CASE_STATUS !== 'Closed') continue;
        d.closed++;
        const opened = bostonTime(row.OPEN_DT) as number;
        const closed = bostonTime(row.CLOSED_DT) as number;
        const target = bostonTime(row.TARGET_DT);
        d.hours.push((closed - opened) / 3_600_000);
        if (target === null) {
          d.untimed++;
          continue;
        }
        d.timed++;
        if (closed <= target) d.onTime++;
      }
    }

    const stats = (await api.request.get('/api/stats/incidents')
      .query({ from: '2014-12-31T00:00:00Z', to: '2016-01-02T00:00:00Z', groupBy: 'department' })
      .set(api.auth('planner')).expect(200)).body;
    expect(stats.groups.map((g: { key: string }) => g.key).sort()).toEqual([...byDepartment.keys()].sort());
    for (const group of stats.groups) {
      const d = byDepartment.get(group.key)!;
      expect([group.key, group.total, group.closed]).toEqual([group.key, d.total, d.closed]);
      expect(group.closureRate).toBeCloseTo(d.closed / d.total, 9);
      if (d.timed) expect(group.onTimeRate).toBeCloseTo(d.onTime / d.timed, 9);
      expect([group.key, group.closedWithoutDeadline]).toEqual([group.key, d.untimed]);
      if (d.hours.length) expect(group.medianHandlingHours).toBeCloseTo(percentile(d.hours.sort((a, b) => a - b), 0.5), 2);
    }

    expect(stats.onTimeRule).toMatch(/without a deadline are left out/);
    expect(stats.groups.reduce((sum: number, group: { closedWithoutDeadline: number }) => sum + group.closedWithoutDeadline, 0)).toBe(22_064);

    // Days are Boston's calendar days (CITY_TIME_ZONE), as the CSV's own dates are.
    const byDay = (await api.request.get('/api/stats/incidents').query({ groupBy: 'day', from: '2015-01-01T00:00:00-05:00', to: '2016-01-01T00:00:00-05:00' }).set(api.auth('planner')).expect(200)).body;
    expect(byDay.timeZone).toBe('America/New_York');
    expect(Object.fromEntries(byDay.groups.map((g: { key: string; total: number }) => [g.key, g.total]))).toEqual(Object.fromEntries(byLocalDay));
    expect(byLocalDay.get('2015-01-01')).toBe(78);

    // Running it again adds nothing.
    expect((await importIncidents(db.pool, files.slice(0, 3), boston311)).inserted).toBe(0);
  }, 600_000);
});
