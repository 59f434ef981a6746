import type { LayerSpecification } from 'maplibre-gl';
import type { ApiAnswer } from '../shell/api';

/** One entry of GET /tiles: a tile layer this role may see. */
export type TileLayerEntry = ApiAnswer<'/tiles'>['layers'][number];

/** A vector source and the style layers that draw it. */
export interface CityLayer {
  source: string;
  url: string;
  layers: LayerSpecification[];
}

type Drawing = (source: string) => LayerSpecification[];

// Inside a tile, the MVT layer has its tile layer's name (ST_AsMVT in server/tiles/sql.ts).
const fill = (source: string, id: string, paint: Record<string, unknown>, zooms: { minzoom?: number; maxzoom?: number } = {}) =>
  ({ id, type: 'fill', source, 'source-layer': source, paint, ...zooms }) as LayerSpecification;
const line = (source: string, id: string, paint: Record<string, unknown>) => ({ id, type: 'line', source, 'source-layer': source, paint }) as LayerSpecification;
const circle = (source: string, id: string, paint: Record<string, unknown>, zooms: { minzoom?: number } = {}) =>
  ({ id, type: 'circle', source, 'source-layer': source, paint, ...zooms }) as LayerSpecification;

/** How each tile layer is drawn, bottom to top. A layer the server lists but this table lacks is not drawn. */
const drawings: Array<[string, Drawing]> = [
  ['land_cover', (s) => [fill(s, 'land-cover-fill', { 'fill-color': ['match', ['get', 'kind'], 'water', '#1c4e7a', '#1f4d33'], 'fill-opacity': 0.9 })]],
  ['grids', (s) => [fill(s, 'grids-fill', { 'fill-color': '#2f80ed', 'fill-opacity': 0.25 }), line(s, 'grids-line', { 'line-color': '#7fb8ff', 'line-width': 0.6 })]],
  // Below z15 the incident tiles hold one polygon per level-4 grid with its count; from z15 single incidents.
  [
    'incidents',
    (s) => [
      fill(s, 'incident-counts', { 'fill-color': '#eb5757', 'fill-opacity': ['interpolate', ['linear'], ['get', 'incident_count'], 1, 0.05, 200, 0.5] }, { maxzoom: 15 }),
      circle(s, 'incident-points', { 'circle-color': '#eb5757', 'circle-radius': 3, 'circle-stroke-color': '#0b1726', 'circle-stroke-width': 0.5 }, { minzoom: 15 }),
    ],
  ],
  ['buildings', (s) => [fill(s, 'buildings-fill', { 'fill-color': '#9fb3c8', 'fill-opacity': 0.45 })]],
  ['roads', (s) => [line(s, 'roads-line', { 'line-color': '#51657d', 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 0.5, 16, 3] })]],
  // Predicted accident risk of the current 2-hour window: level 4 (top 5 %) red … level 1 green, wider when riskier.
  [
    'risk',
    (s) => [
      line(s, 'risk-line', {
        'line-color': ['match', ['get', 'level'], 4, '#d7191c', 3, '#fdae61', 2, '#fee08b', '#1a9641'],
        'line-width': ['+', 0.5, ['get', 'level']],
        'line-opacity': 0.85,
      }),
    ],
  ],
  ['patrol_tracks', (s) => [line(s, 'patrol-tracks-line', { 'line-color': '#27ae60', 'line-width': 1.2, 'line-opacity': 0.8 })]],
  ['accidents', (s) => [circle(s, 'accidents-circle', { 'circle-color': '#f2994a', 'circle-radius': 2 })]],
  ['hazards', (s) => [circle(s, 'hazards-circle', { 'circle-color': '#ff4d4f', 'circle-radius': ['+', 2, ['coalesce', ['get', 'risk_level'], 1]] })]],
  ['key_places', (s) => [circle(s, 'key-places-circle', { 'circle-color': '#ffd166', 'circle-radius': 4 })]],
];

/**
 * The sources and style layers of the city map for the tile layers a role may see, in drawing order, with the
 * district outlines (the grids layer filtered to level 1, as its TileJSON URL carries the filter) on top.
 */
export function cityLayers(available: TileLayerEntry[]): CityLayer[] {
  const byName = new Map(available.map((entry) => [entry.name, entry]));
  const drawn = drawings.flatMap(([name, draw]) => {
    const entry = byName.get(name);
    return entry ? [{ source: name, url: entry.tilejson, layers: draw(name) }] : [];
  });
  const grids = byName.get('grids');
  if (!grids) return drawn;
  const districts: CityLayer = {
    source: 'districts',
    url: `${grids.tilejson}?level=1`,
    layers: [{ id: 'districts-line', type: 'line', source: 'districts', 'source-layer': 'grids', paint: { 'line-color': '#ffd166', 'line-width': 2 } }],
  };
  return [...drawn, districts];
}
