import { type LngLatBoundsLike, Map as MapLibreMap } from 'maplibre-gl';
import { authorizeRequest, getJson } from '../shell/api';
import { darkBasemap } from './basemap';

/** An interactive map on the dark basemap, framed on the city's roads, resolved once its style has loaded. */
export async function openDarkCityMap(container: HTMLElement): Promise<MapLibreMap> {
  const { bounds } = await getJson('/tiles/{layer}.json', {}, { layer: 'roads' });
  const map = new MapLibreMap({
    container,
    style: darkBasemap(location.origin),
    bounds: bounds as LngLatBoundsLike,
    fitBoundsOptions: { padding: 30 },
    attributionControl: false,
    transformRequest: authorizeRequest,
  });
  await new Promise((resolve) => map.once('load', resolve));
  return map;
}
