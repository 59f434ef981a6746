import { type ApiAnswer, getJson, sendJson } from '../../shell/api';
import type { components } from '../../shell/api-types';

// The answers' shapes are the server's own, generated from its OpenAPI document (npm run api:types).
export type GridWriteVerdict = components['schemas']['GridWriteVerdict'];
export type GridImportReport = components['schemas']['GridImportReport'];

export type GridProperties = ApiAnswer<'/api/grids'>['features'][number]['properties'];
export type GridFeature = GeoJSON.Feature<GeoJSON.Polygon | GeoJSON.MultiPolygon, GridProperties> & { id: number };

export type GridStats = ApiAnswer<'/api/grids/{id}/stats'>;

export type HistoryEntry = ApiAnswer<'/api/grids/{id}/history'>['entries'][number];

export interface PreviewFeature extends GeoJSON.Feature {
  properties: { areaM2: number; buildings?: number; households: number; deviation?: number; polsbyPopper?: number };
}
export interface RebalancePreview {
  committed: boolean;
  grids: number;
  households: number;
  maxAbsDeviation: number;
  meanPolsbyPopper: number;
  buildingsChangingGrid: number;
  proposal: { type: 'FeatureCollection'; features: PreviewFeature[] };
  ids?: number[];
}

const pageSize = 5000;

/** Every grid, page by page (the tree and the search need them all). */
export async function allGrids(): Promise<GridFeature[]> {
  const grids: GridFeature[] = [];
  let cursor: number | undefined;
  do {
    const page = await getJson('/api/grids', { limit: pageSize, cursor });
    grids.push(...(page.features as GridFeature[]));
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return grids;
}

const byId = (id: number) => ({ id: String(id) });
export const gridStats = (id: number) => getJson('/api/grids/{id}/stats', {}, byId(id));
export const gridHistory = async (id: number) => (await getJson('/api/grids/{id}/history', {}, byId(id))).entries;
export const oneGrid = async (id: number) => (await getJson('/api/grids/{id}', {}, byId(id))).feature as GridFeature;
export const children = async (id: number) => (await getJson('/api/grids/{id}/children', {}, byId(id))).features as GridFeature[];

/** Incidents reported in the last 30 days in these level-4 grids. */
export async function recentIncidents(level4Ids: number[]): Promise<number> {
  const from = new Date(Date.now() - 30 * 86_400_000).toISOString();
  const { groups } = await getJson('/api/stats/incidents', { from, groupBy: 'grid' });
  const wanted = new Set(level4Ids.map(String));
  return groups.filter((group) => wanted.has(String(group.key))).reduce((sum, group) => sum + group.total, 0);
}

const ifMatch = (version: number) => ({ 'If-Match': `"${version}"` });

export const checkBoundary = (id: number, version: number, geometry: GeoJSON.Polygon) =>
  sendJson<GridWriteVerdict>('PATCH', `/api/grids/${id}?dryRun=true`, { geometry }, ifMatch(version)).then((answer) => answer.body);
export const saveBoundary = (id: number, version: number, geometry: GeoJSON.Polygon) =>
  sendJson<{ feature: GridFeature }>('PATCH', `/api/grids/${id}`, { geometry, reason: 'planner: boundary edited on the map' }, ifMatch(version));

export const splitPreview = (id: number, line: GeoJSON.LineString) =>
  sendJson<{ pieces: { features: PreviewFeature[] } }>('POST', `/api/grids/${id}/split`, { line }).then((answer) => answer.body.pieces.features);
export const splitCommit = (id: number, version: number, line: GeoJSON.LineString) =>
  sendJson<{ grids: Array<{ feature: GridFeature }> }>('POST', `/api/grids/${id}/split`, { line, commit: true }, ifMatch(version));

export const mergePreview = (ids: number[]) => sendJson<{ merged: { features: PreviewFeature[] } }>('POST', '/api/grids/merge', { ids }).then((answer) => answer.body.merged.features);
export const mergeCommit = (ids: number[], versions: number[]) => sendJson('POST', '/api/grids/merge', { ids, versions, commit: true });
export const deleteInto = (id: number, version: number, target: number, targetVersion: number) =>
  sendJson('DELETE', `/api/grids/${id}?target=${target}&targetVersion=${targetVersion}`, undefined, ifMatch(version));

export const rebalancePreview = (id: number, targetHouseholds: number) =>
  sendJson<RebalancePreview>('POST', `/api/grids/${id}/rebalance`, { targetHouseholds }).then((answer) => answer.body);
export const rebalanceCommit = (id: number, version: number, targetHouseholds: number) =>
  sendJson<RebalancePreview>('POST', `/api/grids/${id}/rebalance`, { targetHouseholds, commit: true }, ifMatch(version)).then((answer) => answer.body);

export const revert = (id: number, version: number, toVersion: number) => sendJson('POST', `/api/grids/${id}/revert`, { version: toVersion }, ifMatch(version));

export function importBoundaries(file: unknown, options: { level: number; replace: boolean; repair: boolean; dryRun: boolean }) {
  const query = new URLSearchParams({ level: String(options.level), replace: String(options.replace), repair: String(options.repair), dryRun: String(options.dryRun) });
  return sendJson<GridImportReport & { dryRun: boolean }>('POST', `/api/grids/import?${query}`, file).then((answer) => answer.body);
}
