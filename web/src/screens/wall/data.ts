import { type ApiAnswer, getJson } from '../../shell/api';

export type WallSummary = ApiAnswer<'/api/wall/summary'>;
export type WallPatrols = ApiAnswer<'/api/wall/patrols'>;

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

export const loadSummary = () => getJson('/api/wall/summary', dayQuery());
export const loadPatrols = () => getJson('/api/wall/patrols', dayQuery());

export async function heatCells(): Promise<Array<{ h3: string; count: number }>> {
  return (await getJson('/api/wall/cells', { ...dayQuery(), window: '7d', resolution: 9 })).cells;
}

export async function hexagonCells(): Promise<HexCell[]> {
  const { cells } = await getJson('/api/wall/cells', { ...dayQuery(), window: '7d', resolution: 8 });
  return cells.map((cell) => ({ hex: cell.h3, value: cell.count, tone: 'count' }));
}
