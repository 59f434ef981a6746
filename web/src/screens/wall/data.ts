import { getJson } from '../../shell/api';

/** GET /api/wall/summary (server/wall/service.ts). */
export interface WallSummary {
  day: string;
  at: string;
  kpis: { reports: number; closureRate: number | null; onTimeRate: number | null; overdue: number; supervising: number; workersOnPatrol: number };
  trend: Array<{ day: string; reports: number; closed: number }>;
  byCategory: Array<{ name: string; count: number }>;
  bySource: Array<{ name: string; count: number }>;
  mostOverdueGrids: Array<{ gridId: number; code: string; name: string; overdue: number }>;
  districts: Array<{ gridId: number; name: string; bbox: [number, number, number, number]; count: number }>;
}

export interface WallPatrols {
  dayStart: string;
  at: string;
  tracks: Array<{ path: Array<[number, number]>; seconds: number[] }>;
  positions: Array<[number, number]>;
}

/**
 * One H3 cell the hexagon layer draws. Today the value is a count (GET /api/wall/cells); the hotspots API (Gi*)
 * gives a z-score and a hot/cold class per cell: hexagonCells is the one place to switch, the layer reads only this.
 */
export interface HexCell {
  hex: string;
  value: number;
  tone: 'count' | 'hot' | 'cold';
}

const dayQuery = () => ({ day: new URLSearchParams(location.search).get('day') ?? undefined });

export const loadSummary = () => getJson<WallSummary>('/api/wall/summary', dayQuery());
export const loadPatrols = () => getJson<WallPatrols>('/api/wall/patrols', dayQuery());

export async function heatCells(): Promise<Array<{ h3: string; count: number }>> {
  return (await getJson<{ cells: Array<{ h3: string; count: number }> }>('/api/wall/cells', { ...dayQuery(), window: '7d', resolution: 9 })).cells;
}

export async function hexagonCells(): Promise<HexCell[]> {
  const { cells } = await getJson<{ cells: Array<{ h3: string; count: number }> }>('/api/wall/cells', { ...dayQuery(), window: '7d', resolution: 8 });
  return cells.map((cell) => ({ hex: cell.h3, value: cell.count, tone: 'count' }));
}
