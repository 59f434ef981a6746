import type { ExpressionSpecification, Map as MapLibreMap } from 'maplibre-gl';
import type { Deployment, RiskWindow } from './data';

/** A diverging scale, green (low) to red (level 4 = top 5 % of the window). */
export const riskColours: Record<number, string> = { 4: '#d7191c', 3: '#fdae61', 2: '#a6d96a', 1: '#1a9641' };
export const severityColours = { fatal: '#ff2d55', serious: '#ff9f0a', slight: '#ffd60a' };

const empty: GeoJSON.FeatureCollection = { type: 'FeatureCollection', features: [] };

export function riskFeatures(risk: RiskWindow): GeoJSON.FeatureCollection {
  return {
    type: 'FeatureCollection',
    // Lowest first, so the riskiest segments are drawn on top.
    features: [...risk.units].reverse().map((unit) => ({ type: 'Feature', properties: { level: unit.level, rank: unit.rank, key: unit.unitKey }, geometry: unit.geometry })),
  };
}

export function deploymentFeatures(deployment: Deployment): GeoJSON.FeatureCollection {
  return {
    type: 'FeatureCollection',
    features: deployment.points.flatMap((point) => [
      { type: 'Feature' as const, properties: { part: 'catchment', order: point.order }, geometry: point.catchment },
      { type: 'Feature' as const, properties: { part: 'point', order: point.order }, geometry: { type: 'Point' as const, coordinates: [point.lon, point.lat] } },
    ]),
  };
}

/** Accidents since `since` (ISO), coloured by severity; the tile layer serves them from z13. */
export function showAccidentsSince(map: MapLibreMap, since: string): void {
  map.setFilter('accidents', ['>=', ['get', 'occurred_at'], since.slice(0, 19) + 'Z']);
}

/** The screen's own layers above the basemap: hotspots, risk, past accidents, deployment catchments and points. */
export function addPoliceLayers(map: MapLibreMap, origin: string): void {
  const part = (name: string): ExpressionSpecification => ['==', ['get', 'part'], name];
  map.addSource('hotspots', { type: 'geojson', data: empty });
  map.addSource('risk', { type: 'geojson', data: empty });
  map.addSource('accidents', { type: 'vector', url: `${origin}/tiles/accidents.json` });
  map.addSource('deployment', { type: 'geojson', data: empty });
  map.addLayer({ id: 'hotspots-fill', type: 'fill', source: 'hotspots', paint: { 'fill-color': '#ff5050', 'fill-opacity': ['match', ['get', 'class'], 3, 0.35, 0.2] } });
  map.addLayer({ id: 'hotspots-line', type: 'line', source: 'hotspots', paint: { 'line-color': '#ff5050', 'line-width': 1, 'line-opacity': 0.7 } });
  map.addLayer({
    id: 'risk-line',
    type: 'line',
    source: 'risk',
    layout: { 'line-cap': 'round', 'line-join': 'round' },
    paint: {
      'line-color': ['match', ['get', 'level'], 4, riskColours[4], 3, riskColours[3], 2, riskColours[2], riskColours[1]],
      'line-width': ['interpolate', ['linear'], ['zoom'], 11, ['match', ['get', 'level'], 4, 4, 3, 3, 2, 2, 1.2], 16, ['match', ['get', 'level'], 4, 12, 3, 9, 2, 6, 4]],
    },
  });
  map.addLayer({
    id: 'accidents',
    type: 'circle',
    source: 'accidents',
    'source-layer': 'accidents',
    paint: {
      'circle-color': ['match', ['get', 'severity'], 'fatal', severityColours.fatal, 'serious', severityColours.serious, severityColours.slight],
      'circle-radius': ['match', ['get', 'severity'], 'fatal', 6, 'serious', 4.5, 3],
      'circle-stroke-color': '#050d18',
      'circle-stroke-width': 1,
    },
  });
  map.addLayer({ id: 'catchment-fill', type: 'fill', source: 'deployment', filter: part('catchment'), paint: { 'fill-color': '#37c3ff', 'fill-opacity': 0.12 } });
  map.addLayer({ id: 'catchment-line', type: 'line', source: 'deployment', filter: part('catchment'), paint: { 'line-color': '#37c3ff', 'line-width': 2, 'line-dasharray': [2, 1] } });
  map.addLayer({
    id: 'deployment-points',
    type: 'circle',
    source: 'deployment',
    filter: part('point'),
    paint: { 'circle-color': '#37c3ff', 'circle-radius': 9, 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2.5 },
  });
}
