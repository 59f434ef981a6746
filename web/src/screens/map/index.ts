import '../../map/setup';
import { Map as MapLibreMap, type StyleSpecification } from 'maplibre-gl';
import { apiToken, authorizeRequest, getJson } from '../../shell/api';
import { language, t } from '../../shell/messages';
import { cityLayers, drawnLayers, type TileLayerEntry } from '../../map/city-layers';

/** The legend: each drawn layer's title (from the server's layer catalogue) and colour, top layer first. */
function renderLegend(list: HTMLElement, layers: TileLayerEntry[]): void {
  list.replaceChildren(
    ...drawnLayers(layers)
      .reverse()
      .map((entry) => {
        const item = document.createElement('li');
        item.dataset.layer = entry.name;
        const swatch = document.createElement('span');
        swatch.className = `swatch swatch-${entry.style.kind}`;
        swatch.style.background = entry.style.color;
        item.append(swatch, entry.title[language()]);
        return item;
      }),
  );
}

// A background colour only; every layer comes from this server's tiles.
const style: StyleSpecification = {
  version: 8,
  sources: {},
  layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#0b1726' } }],
};

/**
 * The whole city from the server's vector tiles: every tile layer this role may see (GET /tiles), each a vector
 * source read through its TileJSON, with district outlines on top. The map asks only for the tiles in view.
 */
export async function mount(root: HTMLElement): Promise<void> {
  root.className = 'city-map';
  root.innerHTML = `<header><strong>${t('appTitle')}</strong><span id="status">…</span></header><div id="map"></div><ul id="legend" aria-label="${t('legend')}"></ul>`;
  const status = root.querySelector('#status') as HTMLElement;
  if (!apiToken()) {
    status.textContent = t('noToken');
    return;
  }
  try {
    const [{ layers }, districts] = await Promise.all([getJson('/tiles'), getJson('/tiles/{layer}.json', { level: 1 }, { layer: 'grids' })]);
    const map = new MapLibreMap({
      container: 'map',
      style,
      bounds: districts.bounds,
      fitBoundsOptions: { padding: 40 },
      attributionControl: false,
      transformRequest: authorizeRequest,
    });
    renderLegend(root.querySelector('#legend') as HTMLElement, layers);
    map.on('load', () => {
      for (const { source, url, layers: styleLayers } of cityLayers(layers)) {
        map.addSource(source, { type: 'vector', url });
        for (const layer of styleLayers) map.addLayer(layer);
      }
      map.once('idle', () => {
        status.textContent = `${layers.length} ${t('tileLayers')} · ${t('zoom')} ${map.getZoom().toFixed(1)}`;
        document.body.dataset.ready = 'true';
      });
    });
  } catch (error) {
    status.textContent = `error: ${(error as Error).message}`;
    document.body.dataset.ready = 'error';
  }
}
