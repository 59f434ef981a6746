// The city's spatial layers. Everything about a layer is here: its table and geometry, attributes and their
// rules, who reads and writes it, how its rows join grids, how it is tiled and drawn, and its titles.
import { z } from 'zod';
import { allRoles, riskRoles, type Role } from '../auth/roles';
import { isoDateTime, wholeNumber } from '../http/request-schemas';
import { createCatalogue } from './catalogue';
import type { CatalogueLayer, TileFilter } from './types';

const isoDate = z.iso.date();
const instant = z.iso.datetime({ offset: true });
const editors: readonly Role[] = ['admin', 'planner'];
const personalDataRoles: readonly Role[] = ['admin', 'grid_worker'];
/**
 * Where a named worker walked is personal data (issue 17): admins and commanders read all of it, grid workers their
 * grids' own; planners read patrol indicators, not traces; police none.
 */
const patrolTraceRoles: readonly Role[] = ['admin', 'commander', 'grid_worker'];
const tiled = { column: 'geom', tileColumn: 'geom_3857' } as const;

export const buildingAttributes = z
  .object({
    code: z.string().min(1).max(64).nullable().optional(),
    address: z.string().max(500).nullable().optional(),
    use: z.string().min(1).max(64).optional(),
    floors: z.number().int().min(1).max(200).optional(),
    households: z.number().int().min(0).optional(),
    rental_units: z.number().int().min(0).optional(),
  })
  .strict();

export const personAttributes = z
  .object({
    building_id: z.number().int().positive(),
    category: z.enum(['常住', '流动', '重点关注']),
    household_no: z.string().max(64).nullable().optional(),
    birth_year: z.number().int().min(1880).max(2100).nullable().optional(),
  })
  .strict();

export const hazardAttributes = z
  .object({
    name: z.string().min(1).max(200),
    kind: z.string().min(1).max(64),
    risk_level: z.number().int().min(1).max(4),
    last_inspected_at: isoDate.nullable().optional(),
    next_inspection_due: isoDate.nullable().optional(),
  })
  .strict();

export const keyPlaceAttributes = z
  .object({
    name: z.string().min(1).max(200),
    kind: z.enum(['school', 'kindergarten', 'hospital', 'market', 'mall', 'transport_hub', 'elderly_home', 'park', 'other']),
    capacity: z.number().int().min(0).nullable().optional(),
  })
  .strict();

const gridAttributes = z.object({
  code: z.string(),
  name: z.string(),
  level: z.number().int().min(1).max(4),
  parent_id: z.number().int().nullable(),
});

const incidentAttributes = z.object({
  category: z.string(),
  status: z.string(),
  source: z.enum(['app', 'hotline', 'wechat', 'patrol', 'open311']),
  description: z.string().nullable(),
  reported_at: instant,
  closed_at: instant.nullable(),
});

const incidentFilters: Record<string, TileFilter> = {
  category: { schema: z.string().min(1).max(100), sqlType: 'text', description: 'Only incidents of this category' },
  status: { schema: z.string().min(1).max(50), sqlType: 'text', description: 'Only incidents in this status' },
  from: { schema: isoDateTime, sqlType: 'timestamptz', description: 'Reported at or after (ISO 8601)' },
  to: { schema: isoDateTime, sqlType: 'timestamptz', description: 'Reported before (ISO 8601)' },
};

function incidentWhere(alias: string): string {
  return `({category} IS NULL OR ${alias}.category = {category})
  AND ({status} IS NULL OR ${alias}.status = {status})
  AND ({from} IS NULL OR ${alias}.reported_at >= {from})
  AND ({to} IS NULL OR ${alias}.reported_at < {to})`;
}

/** True when a tile request names none of incidentFilters. */
const noIncidentFilter = Object.keys(incidentFilters).map((name) => `{${name}} IS NULL`).join(' AND ');

/** Grid level drawn at a zoom when the request names none: districts far out, level-4 grids close in. */
function gridBand(level: number, minzoom: number, maxzoom: number) {
  return { minzoom, maxzoom, where: `t.level = coalesce({level}, ${level})`, simplifyPixels: 1 };
}

const cityLayers: CatalogueLayer[] = [
  {
    name: 'land_cover',
    title: { zh: '水系与绿地', en: 'Water and parks' },
    description: 'Water and parks (kind water|park), drawn by the basemap under the streets',
    table: 'land_cover',
    geometry: { type: 'MultiPolygon', ...tiled },
    attributes: z.object({ kind: z.enum(['water', 'park']), name: z.string().nullable() }),
    read: allRoles,
    tiles: { bands: [{ minzoom: 0, maxzoom: 22, simplifyPixels: 1 }], fields: ['kind', 'name'] },
    style: { kind: 'fill', color: '#1f4d33', order: 0 },
  },
  {
    name: 'grids',
    title: { zh: '网格', en: 'Grids' },
    description: 'Grid polygons; the level follows the zoom unless `level` is given',
    table: 'grids',
    geometry: { type: 'MultiPolygon', ...tiled },
    attributes: gridAttributes,
    read: allRoles,
    tiles: {
      bands: [gridBand(1, 0, 10), gridBand(2, 11, 12), gridBand(3, 13, 13), gridBand(4, 14, 22)],
      fields: ['code', 'name', 'level', 'parent_id'],
      filters: { level: { schema: wholeNumber({ min: 1, max: 4 }), sqlType: 'int', description: 'Grid level 1–4' } },
    },
    style: { kind: 'fill', color: '#2f80ed', order: 1 },
  },
  {
    name: 'buildings',
    title: { zh: '房屋', en: 'Buildings' },
    description: 'Building footprints (from z13)',
    table: 'buildings',
    geometry: { type: 'MultiPolygon', ...tiled },
    attributes: buildingAttributes,
    read: allRoles,
    grid: 'point-on-surface',
    features: { write: editors, listFilters: ['use', 'floors'] },
    tiles: { bands: [{ minzoom: 13, maxzoom: 22, simplifyPixels: 0.5 }], fields: ['code', 'use', 'floors', 'grid_id'] },
    style: { kind: 'fill', color: '#9fb3c8', order: 3 },
  },
  {
    name: 'people',
    title: { zh: '人口', en: 'People' },
    description: 'Residents, each registered in a building',
    table: 'people',
    geometry: null,
    attributes: personAttributes,
    read: personalDataRoles,
    personal: true,
    features: { write: personalDataRoles, listFilters: ['category', 'building_id'] },
  },
  {
    name: 'hazards',
    title: { zh: '隐患点', en: 'Hazards' },
    description: 'Hazard sources',
    table: 'hazards',
    geometry: { type: 'Point', ...tiled },
    attributes: hazardAttributes,
    temporal: 'next_inspection_due',
    read: allRoles,
    grid: 'point',
    features: { write: editors, listFilters: ['kind', 'risk_level'] },
    tiles: { bands: [{ minzoom: 0, maxzoom: 22 }], fields: ['name', 'kind', 'risk_level', 'next_inspection_due'] },
    style: { kind: 'circle', color: '#ff4d4f', order: 8 },
  },
  {
    name: 'key_places',
    title: { zh: '重点场所', en: 'Key places' },
    description: 'Key places (schools, markets, ...)',
    table: 'key_places',
    geometry: { type: 'Point', ...tiled },
    attributes: keyPlaceAttributes,
    read: allRoles,
    grid: 'point',
    features: { write: editors, listFilters: ['kind'] },
    tiles: { bands: [{ minzoom: 0, maxzoom: 22 }], fields: ['name', 'kind', 'capacity'] },
    style: { kind: 'circle', color: '#ffd166', order: 9 },
  },
  {
    name: 'incidents',
    title: { zh: '事件', en: 'Incidents' },
    description: 'Incidents: counts per level-4 grid below z15, single incidents from z15',
    table: 'incidents',
    geometry: { type: 'Point', ...tiled },
    attributes: incidentAttributes,
    temporal: 'reported_at',
    read: allRoles,
    grid: 'point',
    tiles: {
      bands: [
        {
          minzoom: 0,
          maxzoom: 14,
          simplifyPixels: 1,
          // Counts are whole-grid counts, so a grid shows the same number in every tile it crosses. Unfiltered,
          // the count kept per grid in every write's transaction (sql/210); PostgreSQL runs only the branch taken.
          summary: {
            from: `grids t CROSS JOIN LATERAL (
          SELECT CASE WHEN ${noIncidentFilter}
                      THEN (SELECT k.count FROM incident_grid_counts k WHERE k.grid_id = t.id)
                      ELSE (SELECT count(*)::int FROM incidents f WHERE f.grid_id = t.id AND ${incidentWhere('f')}) END AS n) c`,
            geometry: 't.geom_3857',
            id: 't.id',
            attributes: {
              code: { sql: 't.code', type: 'String' },
              name: { sql: 't.name', type: 'String' },
              level: { sql: 't.level', type: 'Number' },
              incident_count: { sql: 'c.n', type: 'Number' },
            },
            grid: 't.id',
          },
          where: 't.level = 4 AND c.n > 0',
        },
        // An imported report at a placeholder point (sql/130) has no real location to draw.
        { minzoom: 15, maxzoom: 22, where: `${incidentWhere('t')} AND NOT t.location_placeholder` },
      ],
      fields: ['category', 'status', 'source', 'reported_at', 'grid_id'],
      filters: incidentFilters,
      gridScoped: true,
      changedBy: ['incidents', 'grids'],
    },
    style: { kind: 'fill', color: '#eb5757', order: 2 },
  },
  {
    name: 'hotspots',
    title: { zh: '热点', en: 'Hotspots' },
    description:
      'H3 cells with incident (or accident) count and Getis-Ord Gi* z, p and class −3…+3; resolution by zoom unless res is given',
    geometry: { type: 'Polygon', column: 'geom' },
    attributes: z.object({ hex: z.string(), count: z.number().int(), z: z.number(), p: z.number(), class: z.number().int().min(-3).max(3) }),
    // Grid workers read hotspots of their own grids through /api/hotspots: tiles are cached for every caller alike.
    read: ['admin', 'planner', 'commander', 'police'],
    tiles: {
      computed: true,
      bands: [{ minzoom: 8, maxzoom: 22 }],
      fields: ['hex', 'count', 'z', 'p', 'class'],
      filters: {
        source: { schema: z.enum(['incidents', 'accidents']), sqlType: 'text', description: 'incidents (default) or accidents' },
        res: { schema: wholeNumber({ min: 6, max: 10 }), sqlType: 'int', description: 'H3 resolution 6–10 instead of the one of the zoom' },
        ...incidentFilters,
        category: { schema: z.string().min(1).max(100), sqlType: 'text', description: 'Incident category, or accident severity' },
        from: { ...incidentFilters.from, description: 'Start of the span (ISO 8601); default 30 days before to' },
        to: { ...incidentFilters.to, description: 'End of the span (ISO 8601); default now' },
        k: { schema: wholeNumber({ min: 1, max: 3 }), sqlType: 'int', description: 'Gi* neighbourhood: gridDisk(k), default 1' },
        fdr: { schema: z.enum(['true', 'false']), sqlType: 'text', description: 'Benjamini–Hochberg correction of the classes' },
        grid: { schema: wholeNumber({ min: 1 }), sqlType: 'int', description: 'Study area: this grid instead of the city' },
      },
      changesEverywhere: true,
      changedBy: ['incidents', 'accidents', 'grids'],
      boundsTable: 'grids',
    },
  },
  {
    name: 'roads',
    title: { zh: '道路', en: 'Roads' },
    description: 'Roads; local roads from z13',
    table: 'roads',
    geometry: { type: 'LineString', ...tiled },
    attributes: z.object({
      name: z.string().nullable(),
      kind: z.enum(['arterial', 'primary', 'local']),
      lanes: z.number().int(),
      speed_limit: z.number().int(),
    }),
    read: allRoles,
    tiles: {
      bands: [{ minzoom: 0, maxzoom: 22, where: "(t.kind <> 'local' OR {z} >= 13)", simplifyPixels: 1 }],
      fields: ['name', 'kind', 'lanes', 'speed_limit'],
    },
    style: { kind: 'line', color: '#51657d', order: 4 },
  },
  {
    name: 'accidents',
    title: { zh: '交通事故', en: 'Road accidents' },
    description: 'Road accidents (from z13)',
    table: 'accidents',
    geometry: { type: 'Point', ...tiled },
    attributes: z.object({
      severity: z.enum(['fatal', 'serious', 'slight']),
      occurred_at: instant,
      vehicles: z.number().int(),
      casualties: z.number().int(),
      road_id: z.number().int().nullable(),
    }),
    temporal: 'occurred_at',
    read: allRoles,
    tiles: { bands: [{ minzoom: 13, maxzoom: 22 }], fields: ['severity', 'occurred_at', 'vehicles', 'casualties', 'road_id'] },
    style: { kind: 'circle', color: '#f2994a', order: 7 },
  },
  {
    name: 'risk',
    title: { zh: '事故风险预测', en: 'Predicted accident risk' },
    description: 'Predicted accident risk per road segment (or H3 cell) for the 2-hour window containing `at` (default: now)',
    table: 'risk_predictions',
    geometry: { type: 'Geometry', ...tiled },
    attributes: z.object({
      unit_key: z.string(),
      road_id: z.number().int().nullable(),
      expected: z.number(),
      level: z.number().int().min(1).max(4),
      rank: z.number().int().min(1),
      window_start: instant,
      top_feature: z.string().nullable(),
    }),
    temporal: 'window_start',
    read: riskRoles,
    tiles: {
      bands: [
        {
          minzoom: 0,
          maxzoom: 22,
          where: 't.window_start <= coalesce({at}, now()) AND t.window_end > coalesce({at}, now()) AND (t.level >= 3 OR {z} >= 13)',
          simplifyPixels: 1,
        },
      ],
      fields: ['unit_key', 'road_id', 'expected', 'level', 'rank', 'window_start', 'top_feature'],
      expressions: { top_feature: "t.top_features -> 0 ->> 'label'" },
      idColumn: 'rank',
      filters: { at: { schema: z.iso.datetime({ offset: true }), sqlType: 'timestamptz', description: 'A time inside the predicted window (ISO 8601)' } },
    },
    style: { kind: 'line', color: '#d7191c', order: 5 },
  },
  {
    name: 'patrol_tracks',
    title: { zh: '巡查轨迹', en: 'Patrol tracks' },
    description: 'Patrol tracks of grid workers (from z13)',
    table: 'patrol_tracks',
    geometry: { type: 'LineString', ...tiled },
    attributes: z.object({ worker: z.string(), started_at: instant, ended_at: instant }),
    temporal: 'started_at',
    read: patrolTraceRoles,
    grid: 'longest-stretch',
    owner: 'worker',
    tiles: {
      bands: [{ minzoom: 13, maxzoom: 22, simplifyPixels: 1 }],
      fields: ['worker', 'grid_id', 'started_at'],
      gridScoped: true,
    },
    style: { kind: 'line', color: '#27ae60', order: 6 },
  },
  {
    name: 'patrol_points',
    title: { zh: '巡查定位点', en: 'Patrol GPS fixes' },
    description: "Grid workers' raw GPS fixes as phones sent them; tracks are built from the unflagged ones",
    table: 'patrol_points',
    geometry: { type: 'Point', column: 'geom' },
    attributes: z.object({
      worker: z.string(),
      recorded_at: instant,
      accuracy_m: z.number().nullable(),
      speed_mps: z.number().nullable(),
      heading_deg: z.number().nullable(),
      flag: z.enum(['inaccurate', 'too_fast', 'outside_city']).nullable(),
      received_at: instant,
    }),
    temporal: 'recorded_at',
    read: personalDataRoles,
    personal: true,
    grid: 'point',
  },
];

/** The catalogue the server runs with unless it is given another (tests add layers to a copy of it). */
export const cityCatalogue = createCatalogue(cityLayers);
