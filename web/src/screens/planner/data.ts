import { getJson, sendJson } from '../../shell/api';
// The answers' shapes are the server's own (type-only imports: nothing of the server is bundled).
import type { GridWriteVerdict } from '../../../../server/grids/dry-run';
import type { GridImportReport } from '../../../../server/grids/import';

export type { GridWriteVerdict, GridImportReport };

export interface GridProperties {
  code: string;
  name: string;
  level: number;
  parentId: number | null;
  leader: string | null;
  workers: string[];
  householdsTarget: number | null;
  version: number;
  areaM2: number;
}
export type GridFeature = GeoJSON.Feature<GeoJSON.Polygon | GeoJSON.MultiPolygon, GridProperties> & { id: number };

export interface GridStats {
  buildings: number;
  households: number;
  rentalUnits: number;
  peopleByCategory: Record<string, number>;
  hazardsByRiskLevel: Record<string, number>;
  keyPlaces: number;
  level4Grids: number;
}

export interface HistoryEntry {
  id: number;
  version: number;
  action: string;
  reason: string | null;
  role: string | null;
  tokenId?: number | null;
  at: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

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
    const page = await getJson<{ features: GridFeature[]; nextCursor: number | null }>('/api/grids', { limit: pageSize, cursor });
    grids.push(...page.features);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return grids;
}

export const gridStats = (id: number) => getJson<GridStats>(`/api/grids/${id}/stats`);
export const gridHistory = async (id: number) => (await getJson<{ entries: HistoryEntry[] }>(`/api/grids/${id}/history`)).entries;
export const oneGrid = async (id: number) => (await getJson<{ feature: GridFeature }>(`/api/grids/${id}`)).feature;
export const children = async (id: number) => (await getJson<{ features: GridFeature[] }>(`/api/grids/${id}/children`)).features;

/** Incidents reported in the last 30 days in these level-4 grids. */
export async function recentIncidents(level4Ids: number[]): Promise<number> {
  const from = new Date(Date.now() - 30 * 86_400_000).toISOString();
  const { groups } = await getJson<{ groups: Array<{ key: string; total: number }> }>('/api/stats/incidents', { from, groupBy: 'grid' });
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
