import type { AddLayerObject, GeoJSONSource, Map as MapLibreMap } from 'maplibre-gl';

const empty: GeoJSON.FeatureCollection = { type: 'FeatureCollection', features: [] };

/** Deviation from the target households → colour: blue (too few) … green (on target) … red (too many). */
export const deviationColour = ['interpolate', ['linear'], ['get', 'deviation'], -0.5, '#2f6bff', -0.1, '#37c3ff', 0, '#3ddc97', 0.1, '#ffd166', 0.5, '#ff4d4f'] as const;

/**
 * The planner's own layers above the basemap: the grids around the selection, the selected grid, a proposal
 * (split, merge or rebalance, coloured by deviation when it has one), the server's verdict (gaps, overlaps) and,
 * after a conflict, the planner's draft beside the stored boundary.
 */
export function addPlannerLayers(map: MapLibreMap): void {
  for (const source of ['siblings', 'selected', 'proposal', 'verdict', 'compare']) map.addSource(source, { type: 'geojson', data: empty });
  outlined(map, 'siblings', { 'fill-color': '#2f80ed', 'fill-opacity': 0.12 }, { 'line-color': '#7fb8ff', 'line-width': 1.2 });
  map.addLayer({
    id: 'siblings-label',
    type: 'symbol',
    source: 'siblings',
    layout: { 'text-field': ['get', 'code'], 'text-size': 12 },
    paint: { 'text-color': '#cfe8ff', 'text-halo-color': '#050d18', 'text-halo-width': 1.5 },
  });
  outlined(map, 'selected', { 'fill-color': '#ffd166', 'fill-opacity': 0.18 }, { 'line-color': '#ffd166', 'line-width': 2.5 });
  const proposalColour = ['case', ['has', 'deviation'], deviationColour, ['coalesce', ['get', 'colour'], '#3ddc97']];
  outlined(map, 'proposal', { 'fill-color': proposalColour, 'fill-opacity': 0.45 }, { 'line-color': '#ffffff', 'line-width': 1.5 });
  map.addLayer({ id: 'verdict-fill', type: 'fill', source: 'verdict', paint: { 'fill-color': ['match', ['get', 'kind'], 'gap', '#ff4d4f', '#ff9f1c'], 'fill-opacity': 0.7 } });
  map.addLayer({ id: 'compare-line', type: 'line', source: 'compare', paint: { 'line-color': ['get', 'colour'], 'line-width': 2.5, 'line-dasharray': [2, 1] } });
}

/** A fill and its outline for a GeoJSON source (ids `<source>-fill`, `<source>-line`). */
function outlined(map: MapLibreMap, source: string, fill: Record<string, unknown>, line: Record<string, unknown>): void {
  map.addLayer({ id: `${source}-fill`, type: 'fill', source, paint: fill } as AddLayerObject);
  map.addLayer({ id: `${source}-line`, type: 'line', source, paint: line } as AddLayerObject);
}

export function showFeatures(map: MapLibreMap, source: string, features: GeoJSON.Feature[]): void {
  map.getSource<GeoJSONSource>(source)?.setData({ type: 'FeatureCollection', features });
}
