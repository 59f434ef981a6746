import { gridDisk, POLYGON_TO_CELLS_FLAGS, polygonToCellsExperimental } from 'h3-js';
import type { Actor } from '../auth/roles';
import type { Queryable } from '../db/pool';
import { ForbiddenError, NotFoundError } from '../errors';
import type { Bbox } from '../geo/schemas';
import { invalidParameter } from './parameters';
import { type StudyAreaRow, studyAreaSql } from './sql';

/** Where a request looks: the whole city (grids of level 1), some grids, or a box cut out of either. */
export interface Scope {
  gridIds: number[] | null;
  bbox: Bbox | null;
}

export function scopeKey(scope: Scope): string {
  return `${scope.gridIds?.join(',') ?? 'city'}|${scope.bbox?.join(',') ?? ''}`;
}

/**
 * The scope of a request for this caller. Grid workers see their own grids only: a grid of someone else does not
 * exist for them (404), and without `grid` their study area is the union of their grids.
 */
export function requestScope(actor: Actor | null, query: { grid?: number; bbox?: Bbox }): Scope {
  if (query.grid !== undefined && query.bbox !== undefined) throw invalidParameter('grid', 'give either grid or bbox as the study area, not both');
  const bbox = query.bbox ?? null;
  if (actor?.role !== 'grid_worker') return { gridIds: query.grid === undefined ? null : [query.grid], bbox };
  if (actor.gridIds.length === 0) throw new ForbiddenError('This grid worker token serves no grid: there is no study area to show');
  if (query.grid !== undefined && !actor.gridIds.includes(query.grid)) throw new NotFoundError(`There is no grid ${query.grid}`);
  return { gridIds: query.grid === undefined ? [...actor.gridIds].sort((a, b) => a - b) : [query.grid], bbox };
}

/** The study area of a scope: its outline (for filtering points; null for the whole city) and its cells per resolution. */
export class StudyArea {
  private readonly cellsByRes = new Map<number, string[]>();

  constructor(
    /** GeoJSON MultiPolygon; null when the scope is the whole city (every row counts, none is tested). */
    readonly filter: string | null,
    private readonly polygons: number[][][][],
  ) {}

  /** Every cell touching the area (not only those whose centre is inside), in a stable order. */
  cells(res: number): string[] {
    let cells = this.cellsByRes.get(res);
    if (!cells) {
      const found = new Set<string>();
      for (const polygon of this.polygons) {
        for (const cell of polygonToCellsExperimental(polygon, res, POLYGON_TO_CELLS_FLAGS.containmentOverlapping, true)) found.add(cell);
      }
      cells = [...found].sort();
      this.cellsByRes.set(res, cells);
    }
    return cells;
  }
}

/** Binary gridDisk(k) neighbourhoods (each cell included) as indexes into `cells`; cells outside are not neighbours. */
export function neighbourhoods(cells: readonly string[], k: number): number[][] {
  const index = new Map(cells.map((cell, i) => [cell, i]));
  return cells.map((cell) => gridDisk(cell, k).flatMap((other) => index.get(other) ?? []));
}

/** Loads the outline of a scope: 404 for a grid that does not exist, 400 for a box that misses the city. */
export async function loadStudyArea(db: Queryable, scope: Scope): Promise<StudyArea> {
  const { rows } = await db.query<StudyAreaRow>(
    studyAreaSql,
    [scope.gridIds, scope.bbox],
  );
  const { found, outline } = rows[0];
  if (scope.gridIds && found < scope.gridIds.length) throw new NotFoundError(`There is no grid ${scope.gridIds.join(', ')}`);
  if (scope.bbox && !outline) throw invalidParameter('bbox', 'the box lies outside the city');
  const polygons = outline ? (JSON.parse(outline) as { coordinates: number[][][][] }).coordinates : [];
  const whole = scope.gridIds === null && scope.bbox === null;
  return new StudyArea(whole ? null : outline, polygons);
}
