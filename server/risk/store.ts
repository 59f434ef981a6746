import type { PoolClient, Queryable } from '../db/pool';
import type { MethodResult } from './evaluate';
import type { PoissonModel } from './model';
import type { ModelOptions, PlacedEvent } from './training';
import { cellAt } from '../geo/h3';
import { h3Units, roadUnits, type UnitSet } from './units';
import { type AccidentRow, accidentsBeforeSql, deletePredictionsSql, type InsertModelRow, insertModelSql, insertPredictionsSql, latestModelSql, rankedUnitsSql, rankedWindowSql, type RoadRow, roadsSql } from './sql';
import { windowOf } from './windows';

/** Roads are the units wherever a road network is loaded; H3 cells at this resolution otherwise. */
export const CELL_RESOLUTION = 8;
const REGION_RESOLUTION = 6;

export interface AccidentHistory {
  units: UnitSet;
  /** Sorted by window. */
  events: PlacedEvent[];
}

/** Accidents before `before`, placed in windows and units (their road, or their H3 cell without roads). */
export async function loadHistory(db: Queryable, offsetMinutes: number, before: Date): Promise<AccidentHistory> {
  const { rows: roads } = await db.query<RoadRow>(
    roadsSql,
  );
  const useRoads = roads.length > 0;
  const { rows: accidents } = await db.query<AccidentRow>(
    accidentsBeforeSql,
    [before],
  );
  const events = accidents.map((accident) => ({
    window: windowOf(accident.at.getTime(), offsetMinutes),
    key: useRoads ? accident.road_id : cellAt(accident.lon, accident.lat, CELL_RESOLUTION),
  }));
  if (!useRoads) return { units: h3Units(events.flatMap((event) => (event.key ? [event.key] : []))), events };
  const attribute = (name: string, value: (road: (typeof roads)[number]) => number) => ({ name, values: Float64Array.from(roads.map(value)) });
  const units = roadUnits(
    roads.map((road) => road.id),
    new Map(roads.map((road) => [road.id, road.adjacent])),
    roads.map((road) => cellAt(road.lon, road.lat, REGION_RESOLUTION)),
    [
      attribute('arterial', (road) => Number(road.kind === 'arterial')),
      attribute('primary', (road) => Number(road.kind === 'primary')),
      attribute('lanes', (road) => road.lanes),
      attribute('speedLimit', (road) => road.speed_limit),
      attribute('junctions', (road) => road.adjacent.length),
    ],
  );
  return { units, events };
}

export interface ModelArtefact {
  version: number;
  createdAt: string;
  unitKind: 'road' | 'h3';
  h3Resolution: number | null;
  utcOffsetMinutes: number;
  trainedFrom: string;
  trainedTo: string;
  parameters: { model: PoissonModel; options: ModelOptions };
  evaluation: { holdout: { from: string; to: string }; results: Omit<MethodResult, 'model'>[] };
}

export async function saveModel(db: Queryable, artefact: Omit<ModelArtefact, 'version' | 'createdAt'>): Promise<number> {
  const { rows } = await db.query<InsertModelRow>(
    insertModelSql,
    [artefact.unitKind, artefact.h3Resolution, artefact.utcOffsetMinutes, artefact.trainedFrom, artefact.trainedTo, artefact.parameters, artefact.evaluation],
  );
  return rows[0].version;
}

export async function latestModel(db: Queryable): Promise<ModelArtefact | null> {
  const { rows } = await db.query<ModelArtefact>(
    latestModelSql,
  );
  return rows[0] ?? null;
}

export interface PredictionRows {
  windowStart: Date[];
  windowEnd: Date[];
  unitKey: string[];
  /** GeoJSON of H3 cells; null for roads (their geometry is the road's). */
  cellGeometry: (string | null)[];
  expected: number[];
  level: number[];
  rank: number[];
  topFeatures: string[];
}

/** Replaces the predictions of the windows given (and drops those more than a week old) in the caller's transaction. */
export async function replacePredictions(client: PoolClient, modelVersion: number, issuedAt: Date, rows: PredictionRows, firstWindow: Date): Promise<void> {
  await client.query(deletePredictionsSql, [firstWindow]);
  await client.query(
    insertPredictionsSql,
    [modelVersion, issuedAt, rows.windowStart, rows.windowEnd, rows.unitKey, rows.cellGeometry, rows.expected, rows.level, rows.rank, rows.topFeatures],
  );
}

export interface RankedUnit {
  rank: number;
  unitKey: string;
  roadId: number | null;
  expected: number;
  level: number;
  topFeatures: { feature: string; label: string; factor: number }[];
  geometry: unknown;
}

export interface RankedWindow {
  windowStart: string;
  windowEnd: string;
  modelVersion: number;
  issuedAt: string;
  /** Units ranked in this window (all pages). */
  total: number;
  units: RankedUnit[];
}

/** The stored ranking of the window containing `at`, one page of it; null when that window was not predicted. */
export async function rankedWindow(db: Queryable, at: Date, limit: number, offset: number): Promise<RankedWindow | null> {
  const { rows: windows } = await db.query<Omit<RankedWindow, 'units'>>(
    rankedWindowSql,
    [at],
  );
  if (!windows.length) return null;
  const { rows: units } = await db.query<RankedUnit>(
    rankedUnitsSql,
    [at, limit, offset],
  );
  return { ...windows[0], units };
}
