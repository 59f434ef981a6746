import { cellToBoundary } from 'h3-js';
import { type ApiAnswer, apiToken, getJson } from '../../shell/api';

export type Deployment = ApiAnswer<'/api/risk/deployment'>;
export type DeploymentPoint = Deployment['points'][number];
export type RiskWindow = ApiAnswer<'/api/risk/segments'>;
export type RiskUnit = RiskWindow['units'][number];

/** The predicted windows: the current one and the 5 after it (server/risk/service.ts PREDICTED_WINDOWS). */
export const windowCount = 6;
const windowMs = 2 * 3600_000;

export const windowStarts = (first: string) => Array.from({ length: windowCount }, (_, index) => new Date(Date.parse(first) + index * windowMs).toISOString());

/** A time inside a window: its middle, so no rounding puts it in the neighbour. */
export const insideWindow = (start: string) => new Date(Date.parse(start) + windowMs / 2).toISOString();

// The map colours every ranked unit of the window (the tail is level 1); the list shows the top 20.
const drawnUnits = 1000;
export const listedUnits = 20;

export function riskWindow(at?: string): Promise<RiskWindow> {
  return getJson('/api/risk/segments', { at, limit: drawnUnits });
}

export function deployment(at: string, units: number, radiusM: number): Promise<Deployment> {
  return getJson('/api/risk/deployment', { at, units, radius_m: radiusM });
}

/** Accident hotspots (Gi* at 95 % or more) of the last 30 days, as H3 polygons. */
export async function accidentHotspots(): Promise<GeoJSON.FeatureCollection> {
  const { cells } = await getJson('/api/hotspots/gi', { source: 'accidents', res: 8 });
  return {
    type: 'FeatureCollection',
    features: cells
      .filter((cell) => cell.class >= 2)
      .map((cell) => ({ type: 'Feature', properties: { class: cell.class }, geometry: { type: 'Polygon', coordinates: [cellToBoundary(cell.hex, true)] } })),
  };
}

/** Calls back on each `risk` event of GET /api/risk/stream (the browser's EventSource reconnects by itself). */
export function followPredictions(onIssue: () => void): () => void {
  const url = new URL('/api/risk/stream', location.origin);
  url.searchParams.set('access_token', apiToken() ?? '');
  const source = new EventSource(url);
  source.addEventListener('risk', onIssue);
  return () => source.close();
}

/** Where to fly for a unit: a segment's middle vertex, or the mean of a cell's corners. */
export function unitCentre(geometry: GeoJSON.Geometry): [number, number] {
  if (geometry.type === 'LineString') return geometry.coordinates[Math.floor(geometry.coordinates.length / 2)] as [number, number];
  const corners = geometry.type === 'Polygon' ? geometry.coordinates[0] : [];
  const [lon, lat] = corners.reduce(([x, y], [cx, cy]) => [x + cx, y + cy], [0, 0]);
  return [lon / corners.length, lat / corners.length];
}
