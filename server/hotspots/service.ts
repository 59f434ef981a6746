import type { Actor } from '../auth/roles';
import type { Queryable } from '../db/pool';
import type { Clock } from '../deps';
import type { ChangeEvent, EventBus } from '../events/bus';
import { type CellCount, cellDaysStatement, countStatement } from './sql';
import { loadStudyArea, neighbourhoods, requestScope, type Scope, scopeKey, type StudyArea } from './area';
import { checkAttributeFilters, invalidParameter, resolveSpan, spanEnd } from './parameters';
import { type CountsQuery, type GiQuery, type HotspotFilters, type HotspotSource, maxSpanDays, type TrendQuery } from './schemas';
import { confidenceClasses, type EmergingLabel, emergingLabel, getisOrdGiStar, mannKendall, type MannKendall, twoSidedP } from './statistics';

export interface GiCell {
  hex: string;
  count: number;
  z: number;
  p: number;
  class: number;
}

export interface TrendCell {
  hex: string;
  /** Oldest window first. */
  counts: number[];
  classes: number[];
  trend: MannKendall;
  label: EmergingLabel;
}

/** A result at resolution 10 over the demo city holds ≈ 20,000 cells (a trend: × windows): a few MB each. */
const resultCacheEntries = 64;
const windowPattern = /^(\d+)([hd])$/;

function windowSeconds(window: string): number {
  const [, amount, unit] = windowPattern.exec(window)!;
  return Number(amount) * (unit === 'd' ? 86400 : 3600);
}

/**
 * Counts, Gi* and emerging-hot-spot trends per H3 cell, with results cached by (parameters, data version): every
 * change event of a source (from any server process, over the event bus) bumps its version and drops its results;
 * a grid change drops every result and study area.
 */
export class HotspotService {
  private readonly versions: Record<HotspotSource | 'grids', number> = { incidents: 0, accidents: 0, grids: 0 };
  private readonly results = new Map<string, { source: HotspotSource; value: Promise<unknown> }>();
  private readonly areas = new Map<string, Promise<StudyArea>>();

  constructor(
    private readonly db: Queryable,
    private readonly clock: Clock,
  ) {}

  listen(events: Pick<EventBus, 'onChange' | 'onResync'>): () => void {
    const stopChanges = events.onChange((event) => this.changed(event));
    const stopResync = events.onResync(() => this.changed(null));
    return () => {
      stopChanges();
      stopResync();
    };
  }

  /** What a change event (null: possibly anything, after a lost connection) makes stale. */
  changed(event: ChangeEvent | null): void {
    const sources = new Set<HotspotSource>();
    if (event === null || (event.kind === 'layer-changed' && event.layer === 'grids')) {
      this.versions.grids++;
      this.areas.clear();
      sources.add('incidents').add('accidents');
    } else if (event.kind === 'incident-changed') sources.add('incidents');
    else if (event.kind === 'layer-changed' && (event.layer === 'incidents' || event.layer === 'accidents')) sources.add(event.layer);
    for (const source of sources) this.versions[source]++;
    for (const [key, entry] of this.results) if (sources.has(entry.source)) this.results.delete(key);
  }

  /** Cells with their counts (and casualties for accidents), ready for deck.gl's H3HexagonLayer, and the totals. */
  counts(actor: Actor | null, query: CountsQuery) {
    return this.cached('counts', actor, query, async (area, span) => {
      const rows = await this.countRows(query, area, span);
      const cells = rows.map(({ hex, count, casualties }) => (casualties === undefined ? { hex, count } : { hex, count, casualties })).sort((a, b) => b.count - a.count || a.hex.localeCompare(b.hex));
      const total = { count: sum(cells.map((c) => c.count)), cells: cells.length, ...(query.source === 'accidents' ? { casualties: sum(rows.map((r) => r.casualties ?? 0)) } : {}) };
      return { ...describe(query, span), total, cells };
    });
  }

  /** Gi* for every cell of the study area, empty cells counted as 0. */
  gi(actor: Actor | null, query: GiQuery) {
    return this.cached('gi', actor, query, async (area, span) => {
      const rows = await this.countRows(query, area, span);
      const cells = studyCells(area, query.res, rows);
      const counts = countVector(cells, rows, 0);
      const z = getisOrdGiStar(counts, neighbourhoods(cells, query.k));
      const p = z.map(twoSidedP);
      const classes = confidenceClasses(z, p, query.fdr);
      const result: GiCell[] = cells.map((hex, i) => ({ hex, count: counts[i], z: z[i], p: p[i], class: classes[i] }));
      const total = sum(counts);
      return {
        ...describe(query, span),
        k: query.k,
        fdr: query.fdr,
        studyArea: { cells: cells.length, count: total, mean: cells.length ? total / cells.length : 0 },
        classes: classTally(classes),
        cells: result,
      };
    });
  }

  /** Gi* classes per window, the Mann-Kendall trend of each cell's z-scores and its emerging-hot-spot label. */
  trend(actor: Actor | null, query: TrendQuery) {
    const length = windowSeconds(query.window);
    if (length * query.windows > maxSpanDays * 86400) throw invalidParameter('windows', `windows × window may cover at most ${maxSpanDays} days`);
    const to = spanEnd(query.to, this.clock);
    const from = new Date(to.getTime() - length * query.windows * 1000);
    return this.cached('trend', actor, { ...query, from: from.toISOString(), to: to.toISOString() }, async (area, span) => {
      const rows = await this.countRows(query, area, span, length * 1000);
      const cells = studyCells(area, query.res, rows);
      const neighbours = neighbourhoods(cells, query.k);
      // Window 0 of the query is the latest; series run oldest first.
      const perWindow = Array.from({ length: query.windows }, (_, w) => {
        const counts = countVector(cells, rows, query.windows - 1 - w);
        const z = getisOrdGiStar(counts, neighbours);
        return { counts, z, classes: confidenceClasses(z, z.map(twoSidedP), query.fdr) };
      });
      const result: TrendCell[] = cells.map((hex, i) => {
        const trend = mannKendall(perWindow.map((w) => w.z[i]));
        const classes = perWindow.map((w) => w.classes[i]);
        return { hex, counts: perWindow.map((w) => w.counts[i]), classes, trend, label: emergingLabel(classes, trend) };
      });
      const labels: Record<string, number> = {};
      for (const cell of result) labels[cell.label] = (labels[cell.label] ?? 0) + 1;
      return {
        ...describe(query, span),
        k: query.k,
        fdr: query.fdr,
        window: query.window,
        windows: perWindow.map((_, w) => ({
          from: new Date(span.from.getTime() + w * length * 1000).toISOString(),
          to: new Date(span.from.getTime() + (w + 1) * length * 1000).toISOString(),
        })),
        labels,
        cells: result,
      };
    });
  }

  /**
   * One cached computation per (kind, parameters, scope, data version). Checks run first, so a bad request is
   * refused before anything is cached; the promise is cached, so simultaneous equal requests share one query.
   */
  private async cached<T>(kind: string, actor: Actor | null, query: HotspotFilters, compute: (area: StudyArea, span: { from: Date; to: Date }) => Promise<T>): Promise<T> {
    const span = resolveSpan(query, this.clock);
    const scope = requestScope(actor, query);
    await checkAttributeFilters(this.db, query);
    const { bbox: _bbox, grid: _grid, from: _from, to: _to, ...parameters } = query;
    const key = JSON.stringify([kind, parameters, span.from, span.to, scopeKey(scope), this.versions[query.source], this.versions.grids]);
    const hit = this.results.get(key);
    if (hit) {
      this.results.delete(key);
      this.results.set(key, hit);
      return hit.value as Promise<T>;
    }
    const value = this.studyArea(scope).then((area) => compute(area, span));
    this.results.set(key, { source: query.source, value });
    value.catch(() => this.results.delete(key));
    for (const oldest of this.results.keys()) {
      if (this.results.size <= resultCacheEntries) break;
      this.results.delete(oldest);
    }
    return value;
  }

  private studyArea(scope: Scope): Promise<StudyArea> {
    const key = scopeKey(scope);
    let area = this.areas.get(key);
    if (!area) {
      area = loadStudyArea(this.db, scope);
      this.areas.set(key, area);
      area.catch(() => this.areas.delete(key));
    }
    return area;
  }

  /** Counts per cell and window; `windowMs` undefined: the whole span is one window. */
  private async countRows(query: HotspotFilters, area: StudyArea, span: { from: Date; to: Date }, windowMs?: number): Promise<CellCount[]> {
    const windowSeconds = windowMs === undefined ? undefined : windowMs / 1000;
    const statement = cellDaysStatement(query, area.filter, span, windowSeconds) ?? countStatement(query, area.filter, span, windowSeconds);
    const { rows } = await this.db.query<CellCount>(statement);
    return rows;
  }
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function describe(query: HotspotFilters, span: { from: Date; to: Date }) {
  return {
    source: query.source,
    res: query.res,
    from: span.from.toISOString(),
    to: span.to.toISOString(),
    ...(query.category === undefined ? {} : { category: query.category }),
    ...(query.status === undefined ? {} : { status: query.status }),
    ...(query.grid === undefined ? {} : { grid: query.grid }),
    ...(query.bbox === undefined ? {} : { bbox: query.bbox }),
  };
}

/** The study area's cells, plus any cell holding counted rows outside it (the city scope does not test points). */
function studyCells(area: StudyArea, res: number, rows: CellCount[]): string[] {
  const cells = area.cells(res);
  const known = new Set(cells);
  const extra = [...new Set(rows.map((row) => row.hex).filter((hex) => !known.has(hex)))].sort();
  return extra.length ? [...cells, ...extra] : cells;
}

function countVector(cells: string[], rows: CellCount[], window: number): number[] {
  const index = new Map(cells.map((cell, i) => [cell, i]));
  const counts = new Array<number>(cells.length).fill(0);
  for (const row of rows) if (row.window === window) counts[index.get(row.hex)!] += row.count;
  return counts;
}

function classTally(classes: number[]): Record<string, number> {
  const tally: Record<string, number> = { '-3': 0, '-2': 0, '-1': 0, '0': 0, '1': 0, '2': 0, '3': 0 };
  for (const c of classes) tally[String(c)]++;
  return tally;
}
