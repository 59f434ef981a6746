import { Map as MapLibreMap, setWorkerUrl, type LngLatBoundsLike, type StyleSpecification } from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import type { FeatureCollection as FeatureCollectionJson } from 'geojson';
import { apiToken, getAllFeatures, type FeatureCollection } from './api';

setWorkerUrl(workerUrl);

// Offline basemap: a background colour only; no remote style, glyphs, sprites or tiles.
const style: StyleSpecification = {
  version: 8,
  sources: {},
  layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#0b1726' } }],
};

const statusLine = document.getElementById('status') as HTMLElement;

function boundsOf(collection: FeatureCollection): LngLatBoundsLike {
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  const visit = (value: unknown): void => {
    if (Array.isArray(value) && typeof value[0] === 'number') {
      minX = Math.min(minX, value[0]);
      maxX = Math.max(maxX, value[0]);
      minY = Math.min(minY, value[1] as number);
      maxY = Math.max(maxY, value[1] as number);
    } else if (Array.isArray(value)) value.forEach(visit);
  };
  collection.features.forEach((feature) => visit(feature.geometry.coordinates));
  return [minX, minY, maxX, maxY];
}

async function showGrids(): Promise<void> {
  if (!apiToken()) {
    statusLine.textContent = 'no API token: open the link printed by npm start (…/?token=…)';
    return;
  }
  const [districts, grids] = await Promise.all([getAllFeatures('/api/grids?level=1'), getAllFeatures('/api/grids?level=4&limit=5000')]);
  const map = new MapLibreMap({ container: 'map', style, bounds: boundsOf(districts), fitBoundsOptions: { padding: 40 }, attributionControl: false });
  map.on('load', () => {
    map.addSource('grids', { type: 'geojson', data: grids as unknown as FeatureCollectionJson });
    map.addSource('districts', { type: 'geojson', data: districts as unknown as FeatureCollectionJson });
    map.addLayer({ id: 'grid-fill', type: 'fill', source: 'grids', paint: { 'fill-color': '#2f80ed', 'fill-opacity': 0.25 } });
    map.addLayer({ id: 'grid-line', type: 'line', source: 'grids', paint: { 'line-color': '#7fb8ff', 'line-width': 0.6 } });
    map.addLayer({ id: 'district-line', type: 'line', source: 'districts', paint: { 'line-color': '#ffd166', 'line-width': 2 } });
    map.once('idle', () => {
      statusLine.textContent = `${districts.features.length} districts · ${grids.features.length} grids`;
      document.body.dataset.ready = 'true';
    });
  });
}

showGrids().catch((error: Error) => {
  statusLine.textContent = `error: ${error.message}`;
  document.body.dataset.ready = 'error';
});
