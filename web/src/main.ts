import { Map as MapLibreMap, setWorkerUrl, type LngLatBoundsLike, type StyleSpecification } from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import { apiToken, getJson } from './api';
import { cityLayers, type TileLayerEntry } from './layers';

setWorkerUrl(workerUrl);

// Offline basemap: a background colour only; no remote style, glyphs, sprites or tiles.
const style: StyleSpecification = {
  version: 8,
  sources: {},
  layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#0b1726' } }],
};

const statusLine = document.getElementById('status') as HTMLElement;

interface TileJson {
  bounds: [number, number, number, number];
}

/**
 * The whole city from the server's vector tiles: every tile layer this role may see (GET /tiles), each a
 * vector source read through its TileJSON, with district outlines on top. The map asks only for the tiles in
 * view, so 15,000 grids and a year of incidents cost what one screen shows.
 */
async function showCity(token: string): Promise<void> {
  const [{ layers }, districts] = await Promise.all([getJson<{ layers: TileLayerEntry[] }>('/tiles'), getJson<TileJson>('/tiles/grids.json?level=1')]);
  const map = new MapLibreMap({
    container: 'map',
    style,
    bounds: districts.bounds as LngLatBoundsLike,
    fitBoundsOptions: { padding: 40 },
    attributionControl: false,
    // TileJSON and tiles come from this server and need the token; nothing else is fetched.
    transformRequest: (url) => (new URL(url, location.href).origin === location.origin ? { url, headers: { Authorization: `Bearer ${token}` } } : { url }),
  });
  map.on('load', () => {
    for (const { source, url, layers: styleLayers } of cityLayers(layers)) {
      map.addSource(source, { type: 'vector', url });
      for (const layer of styleLayers) map.addLayer(layer);
    }
    map.once('idle', () => {
      statusLine.textContent = `${layers.length} tile layers · zoom ${map.getZoom().toFixed(1)}`;
      document.body.dataset.ready = 'true';
    });
  });
}

const token = apiToken();
if (!token) statusLine.textContent = 'no API token: open the link printed by npm start (…/?token=…)';
else
  showCity(token).catch((error: Error) => {
    statusLine.textContent = `error: ${error.message}`;
    document.body.dataset.ready = 'error';
  });
