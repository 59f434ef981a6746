import type { LayerSpecification } from 'maplibre-gl';
import type { ApiAnswer } from '../shell/api';

/** One entry of GET /tiles: a tile layer this role may see, as the server's layer catalogue declares it. */
export type TileLayerEntry = ApiAnswer<'/tiles'>['layers'][number];

/** How the server's layer catalogue says a layer is drawn by default; absent: not on the city map. */
export type StyleHint = NonNullable<TileLayerEntry['style']>;

/** A vector source and the style layers that draw it. */
export interface CityLayer {
  source: string;
  url: string;
  layers: LayerSpecification[];
}

type Drawing = (source: string, style: StyleHint) => LayerSpecification[];

// Inside a tile, the MVT layer has its tile layer's name (ST_AsMVT in server/tiles/sql.ts).
const fill = (source: string, id: string, paint: Record<string, unknown>, zooms: { minzoom?: number; maxzoom?: number } = {}) =>
  ({ id, type: 'fill', source, 'source-layer': source, paint, ...zooms }) as LayerSpecification;
const line = (source: string, id: string, paint: Record<string, unknown>) => ({ id, type: 'line', source, 'source-layer': source, paint }) as LayerSpecification;
const circle = (source: string, id: string, paint: Record<string, unknown>, zooms: { minzoom?: number } = {}) =>
  ({ id, type: 'circle', source, 'source-layer': source, paint, ...zooms }) as LayerSpecification;

/** Any layer from its style hint alone: a layer new to the catalogue is drawn without a change here. */
const plainDrawing: Drawing = (s, { kind, color }) => {
  if (kind === 'fill') return [fill(s, `${s}-fill`, { 'fill-color': color, 'fill-opacity': 0.45 })];
  if (kind === 'line') return [line(s, `${s}-line`, { 'line-color': color, 'line-width': 1.2, 'line-opacity': 0.85 })];
  return [circle(s, `${s}-circle`, { 'circle-color': color, 'circle-radius': 3 })];
};

/** Layers drawn with more than one colour: by kind, count, zoom or level. The hint's colour is their main one. */
const refinedDrawings: Record<string, Drawing> = {
  land_cover: (s, { color }) => [fill(s, 'land-cover-fill', { 'fill-color': ['match', ['get', 'kind'], 'water', '#1c4e7a', color], 'fill-opacity': 0.9 })],
  grids: (s, { color }) => [fill(s, 'grids-fill', { 'fill-color': color, 'fill-opacity': 0.25 }), line(s, 'grids-line', { 'line-color': '#7fb8ff', 'line-width': 0.6 })],
  // Below z15 the incident tiles hold one polygon per level-4 grid with its count; from z15 single incidents.
  incidents: (s, { color }) => [
    fill(s, 'incident-counts', { 'fill-color': color, 'fill-opacity': ['interpolate', ['linear'], ['get', 'incident_count'], 1, 0.05, 200, 0.5] }, { maxzoom: 15 }),
    circle(s, 'incident-points', { 'circle-color': color, 'circle-radius': 3, 'circle-stroke-color': '#0b1726', 'circle-stroke-width': 0.5 }, { minzoom: 15 }),
  ],
  roads: (s, { color }) => [line(s, 'roads-line', { 'line-color': color, 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 0.5, 16, 3] })],
  // Predicted accident risk of the current 2-hour window: level 4 (top 5 %) red … level 1 green, wider when riskier.
  risk: (s, { color }) => [
    line(s, 'risk-line', {
      'line-color': ['match', ['get', 'level'], 4, color, 3, '#fdae61', 2, '#fee08b', '#1a9641'],
      'line-width': ['+', 0.5, ['get', 'level']],
      'line-opacity': 0.85,
    }),
  ],
  hazards: (s, { color }) => [circle(s, 'hazards-circle', { 'circle-color': color, 'circle-radius': ['+', 2, ['coalesce', ['get', 'risk_level'], 1]] })],
  key_places: (s, { color }) => [circle(s, 'key-places-circle', { 'circle-color': color, 'circle-radius': 4 })],
};

/** The layers with a style hint, bottom to top. */
export function drawnLayers(available: TileLayerEntry[]): Array<TileLayerEntry & { style: StyleHint }> {
  return available.filter((entry): entry is TileLayerEntry & { style: StyleHint } => entry.style !== undefined).sort((a, b) => a.style.order - b.style.order);
}

/**
 * The sources and style layers of the city map for the tile layers a role may see, in drawing order, with the
 * district outlines (the grids layer filtered to level 1, as its TileJSON URL carries the filter) on top.
 */
export function cityLayers(available: TileLayerEntry[]): CityLayer[] {
  const drawn = drawnLayers(available).map((entry) => ({
    source: entry.name,
    url: entry.tilejson,
    layers: (refinedDrawings[entry.name] ?? plainDrawing)(entry.name, entry.style),
  }));
  const grids = available.find((entry) => entry.name === 'grids');
  if (!grids) return drawn;
  const districts: CityLayer = {
    source: 'districts',
    url: `${grids.tilejson}?level=1`,
    layers: [{ id: 'districts-line', type: 'line', source: 'districts', 'source-layer': 'grids', paint: { 'line-color': '#ffd166', 'line-width': 2 } }],
  };
  return [...drawn, districts];
}
