import type { ExpressionSpecification, GeoJSONSource, LayerSpecification, Map as MapLibreMap, StyleSpecification } from 'maplibre-gl';

/**
 * The offline basemap: a maplibre style drawn only from citygrid's own vector tiles (land_cover, roads, buildings,
 * grids), dark for the wall. No `glyphs` URL: maplibre draws the Chinese labels locally from the system font
 * (fonts-noto-cjk), so nothing is fetched from outside. `scale` multiplies line widths and text sizes (2 on a
 * 3840×2160 wall, so it reads like 1920×1080). Sources point at this server's TileJSON. District names
 * are labelled once each by showDistrictNames (a polygon label from tiles would repeat in every tile).
 */
export function darkBasemap(origin: string, scale = 1): StyleSpecification {
  const tilejson = (layer: string, query = '') => `${origin}/tiles/${layer}.json${query}`;
  const byKind = (kind: string): ExpressionSpecification => ['==', ['get', 'kind'], kind];
  const zoomed = (low: number, high: number): ExpressionSpecification => ['interpolate', ['exponential', 1.6], ['zoom'], 11, low * scale, 16, high * scale];
  const label = {
    'text-color': '#8fb4d8',
    'text-halo-color': '#050d18',
    'text-halo-width': 1.4 * scale,
  };
  const layers: LayerSpecification[] = [
    { id: 'background', type: 'background', paint: { 'background-color': '#050d18' } },
    { id: 'parks', type: 'fill', source: 'land_cover', 'source-layer': 'land_cover', filter: byKind('park'), paint: { 'fill-color': '#0c2a22', 'fill-opacity': 0.95 } },
    { id: 'water', type: 'fill', source: 'land_cover', 'source-layer': 'land_cover', filter: byKind('water'), paint: { 'fill-color': '#0a2e52', 'fill-outline-color': '#1f6aa8' } },
    { id: 'buildings', type: 'fill', source: 'buildings', 'source-layer': 'buildings', minzoom: 13, paint: { 'fill-color': '#15263b', 'fill-opacity': 0.9 } },
    { id: 'grids-4', type: 'line', source: 'grids', 'source-layer': 'grids', minzoom: 13.5, paint: { 'line-color': '#1b3350', 'line-width': 0.6 * scale } },
    { id: 'roads-local', type: 'line', source: 'roads', 'source-layer': 'roads', filter: byKind('local'), paint: { 'line-color': '#17304a', 'line-width': zoomed(0.4, 2.5) } },
    { id: 'roads-primary', type: 'line', source: 'roads', 'source-layer': 'roads', filter: byKind('primary'), paint: { 'line-color': '#1f4266', 'line-width': zoomed(0.8, 5) } },
    { id: 'roads-arterial', type: 'line', source: 'roads', 'source-layer': 'roads', filter: byKind('arterial'), layout: { 'line-join': 'round', 'line-cap': 'round' }, paint: { 'line-color': '#2b6195', 'line-width': zoomed(1.4, 8) } },
    { id: 'streets', type: 'line', source: 'streets', 'source-layer': 'grids', minzoom: 11, paint: { 'line-color': '#2a527d', 'line-width': 0.8 * scale, 'line-dasharray': [3, 2] } },
    { id: 'districts', type: 'line', source: 'districts', 'source-layer': 'grids', paint: { 'line-color': '#4aa3e8', 'line-width': zoomed(1.5, 3), 'line-opacity': 0.85 } },
    {
      id: 'water-labels',
      type: 'symbol',
      source: 'land_cover',
      'source-layer': 'land_cover',
      filter: byKind('water'),
      // A polygon is labelled in every tile it crosses: the padding keeps one label of a lake in sight.
      layout: { 'text-field': ['get', 'name'], 'text-size': 15 * scale, 'symbol-placement': 'point', 'text-padding': 40 * scale },
      paint: { ...label, 'text-color': '#4f9ad6' },
    },
    {
      id: 'road-labels',
      type: 'symbol',
      source: 'roads',
      'source-layer': 'roads',
      filter: byKind('arterial'),
      minzoom: 13,
      layout: { 'text-field': ['get', 'name'], 'text-size': 12 * scale, 'symbol-placement': 'line', 'symbol-spacing': 400 * scale },
      paint: label,
    },
  ];
  return {
    version: 8,
    sources: {
      land_cover: { type: 'vector', url: tilejson('land_cover') },
      roads: { type: 'vector', url: tilejson('roads') },
      buildings: { type: 'vector', url: tilejson('buildings') },
      grids: { type: 'vector', url: tilejson('grids', '?level=4') },
      streets: { type: 'vector', url: tilejson('grids', '?level=2') },
      districts: { type: 'vector', url: tilejson('grids', '?level=1') },
    },
    layers,
  };
}

/** One label per district at the centre of its bounding box, above the basemap. */
export function showDistrictNames(map: MapLibreMap, districts: Array<{ name: string; bbox: [number, number, number, number] }>): void {
  const data: GeoJSON.FeatureCollection = {
    type: 'FeatureCollection',
    features: districts.map(({ name, bbox: [w, s, e, n] }) => ({ type: 'Feature', properties: { name }, geometry: { type: 'Point', coordinates: [(w + e) / 2, (s + n) / 2] } })),
  };
  const source = map.getSource<GeoJSONSource>('district-names');
  if (source) {
    source.setData(data);
    return;
  }
  map.addSource('district-names', { type: 'geojson', data });
  map.addLayer({
    id: 'district-names',
    type: 'symbol',
    source: 'district-names',
    layout: { 'text-field': ['get', 'name'], 'text-size': Math.round(22 * (window.innerHeight / 1080)), 'text-letter-spacing': 0.3, 'text-allow-overlap': true, 'text-ignore-placement': true },
    paint: { 'text-color': '#cfe8ff', 'text-opacity': 0.75, 'text-halo-color': '#050d18', 'text-halo-width': 2 },
  });
}
