import type { PoolClient, Queryable } from '../db/pool';
import type { MethodResult } from './evaluate';
import type { PoissonModel } from './model';
import type { ModelOptions, PlacedEvent } from './training';
import { cellAt } from '../geo/h3';
import { h3Units, roadUnits, type UnitSet } from './units';
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
  const { rows: roads } = await db.query<{ id: string; kind: string; lanes: number; speed_limit: number; lat: number; lon: number; adjacent: string[] }>(
    `SELECT r.id::text AS id, r.kind, r.lanes, r.speed_limit,
            ST_Y(ST_LineInterpolatePoint(r.geom, 0.5)) AS lat, ST_X(ST_LineInterpolatePoint(r.geom, 0.5)) AS lon,
            coalesce(array(SELECT o.id::text FROM roads o WHERE o.id <> r.id AND ST_Intersects(o.geom, r.geom) ORDER BY o.id), '{}') AS adjacent
     FROM roads r ORDER BY r.id`,
  );
  const useRoads = roads.length > 0;
  const { rows: accidents } = await db.query<{ at: Date; road_id: string | null; lat: number; lon: number }>(
    `SELECT occurred_at AS at, road_id::text AS road_id, ST_Y(geom) AS lat, ST_X(geom) AS lon
     FROM accidents WHERE occurred_at < $1 ORDER BY occurred_at`,
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

/** A timestamptz as JavaScript's toISOString writes it, whatever the session's time zone. */
const isoUtc = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

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
  const { rows } = await db.query<{ version: number }>(
    `INSERT INTO risk_models (unit_kind, h3_resolution, utc_offset_minutes, trained_from, trained_to, parameters, evaluation)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING version`,
    [artefact.unitKind, artefact.h3Resolution, artefact.utcOffsetMinutes, artefact.trainedFrom, artefact.trainedTo, artefact.parameters, artefact.evaluation],
  );
  return rows[0].version;
}

export async function latestModel(db: Queryable): Promise<ModelArtefact | null> {
  const { rows } = await db.query<ModelArtefact>(
    `SELECT version, ${isoUtc('created_at')} AS "createdAt", unit_kind AS "unitKind", h3_resolution AS "h3Resolution",
            utc_offset_minutes AS "utcOffsetMinutes", ${isoUtc('trained_from')} AS "trainedFrom",
            ${isoUtc('trained_to')} AS "trainedTo", parameters, evaluation
     FROM risk_models ORDER BY version DESC LIMIT 1`,
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
  await client.query("DELETE FROM risk_predictions WHERE window_start >= $1 OR window_end < $1::timestamptz - interval '7 days'", [firstWindow]);
  await client.query(
    `INSERT INTO risk_predictions (window_start, window_end, unit_key, model_version, issued_at, road_id, expected, level, rank, top_features, geom)
     SELECT p.window_start, p.window_end, p.unit_key, $1, $2, r.id, p.expected, p.level, p.rank, p.top_features,
            coalesce(r.geom, ST_SetSRID(ST_GeomFromGeoJSON(p.cell), 4326))
     FROM unnest($3::timestamptz[], $4::timestamptz[], $5::text[], $6::text[], $7::float8[], $8::int[], $9::int[], $10::jsonb[])
            AS p (window_start, window_end, unit_key, cell, expected, level, rank, top_features)
     LEFT JOIN roads r ON p.cell IS NULL AND r.id = p.unit_key::bigint
     -- Spatial order, so a tile of one window reads few pages (the table is rewritten every 2 hours, never CLUSTERed).
     ORDER BY p.window_start, ST_GeoHash(ST_Centroid(coalesce(r.geom, ST_SetSRID(ST_GeomFromGeoJSON(p.cell), 4326))), 10)`,
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
    `SELECT ${isoUtc('window_start')} AS "windowStart", ${isoUtc('window_end')} AS "windowEnd",
            min(model_version) AS "modelVersion", ${isoUtc('min(issued_at)')} AS "issuedAt", count(*)::int AS total
     FROM risk_predictions WHERE window_start <= $1 AND window_end > $1
     GROUP BY window_start, window_end`,
    [at],
  );
  if (!windows.length) return null;
  const { rows: units } = await db.query<RankedUnit>(
    `SELECT rank, unit_key AS "unitKey", road_id::int AS "roadId", expected, level, top_features AS "topFeatures",
            ST_AsGeoJSON(geom, 7)::json AS geometry
     FROM risk_predictions WHERE window_start <= $1 AND window_end > $1
     ORDER BY rank LIMIT $2 OFFSET $3`,
    [at, limit, offset],
  );
  return { ...windows[0], units };
}
