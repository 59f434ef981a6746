import '../../map/setup';
import './police.css';
import { type GeoJSONSource, type LngLatBoundsLike, Map as MapLibreMap } from 'maplibre-gl';
import { apiToken, authorizeRequest, getJson } from '../../shell/api';
import { formatDateTime, formatRate } from '../../shell/format';
import { applyTexts, language, languageToggle, onLanguageChange, t } from '../../shell/messages';
import { darkBasemap } from '../../map/basemap';
import { accidentHotspots, deployment, type Deployment, followPredictions, insideWindow, listedUnits, riskWindow, type RiskWindow, unitCentre, windowCount, windowStarts } from './data';
import { addPoliceLayers, deploymentFeatures, riskColours, riskFeatures, severityColours, showAccidentsSince } from './layers';

const layout = `
  <header class="police-header"><h1 data-text="policeTitle"></h1>
    <div class="police-meta"><span><span data-text="policeModel"></span> <b id="model-version"></b></span><span><span data-text="policeUpdated"></span> <b id="model-updated"></b></span></div></header>
  <div id="police-map"></div>
  <aside class="police-side">
    <section><h2 data-text="policeWindow"></h2><input id="window-slider" type="range" min="0" max="${windowCount - 1}" step="1" value="0" /><div id="window-label"></div></section>
    <section><h2 data-text="policeLegend"></h2><div class="legend" id="legend"></div></section>
    <section><h2 data-text="deploymentTitle"></h2>
      <div class="deployment-form"><label><span data-text="deploymentUnits"></span> <input id="deployment-units" type="number" min="1" max="50" value="5" /></label>
      <label><span data-text="deploymentRadius"></span> <input id="deployment-radius" type="number" min="100" max="10000" step="100" value="1500" /></label></div>
      <div><span data-text="deploymentCovered"></span> <span id="deployment-share"></span></div></section>
    <section><h2 data-text="topTitle"></h2><ol id="top-list"></ol></section>
  </aside>`;

/**
 * The police view: predicted accident risk per road segment for a 2-hour window of the next six (slider), the top
 * 20 with their reasons, past accidents and Gi* hotspots, and suggested patrol-car points with their catchments.
 * New predictions (the risk stream) redraw it in place.
 */
export async function mount(root: HTMLElement): Promise<void> {
  root.className = 'police';
  root.innerHTML = layout;
  root.querySelector('.police-meta')?.append(languageToggle());
  const element = <T extends HTMLElement>(selector: string) => root.querySelector(selector) as T;
  if (!apiToken()) {
    element('#window-label').textContent = t('noToken');
    document.body.dataset.ready = 'error';
    return;
  }
  const slider = element<HTMLInputElement>('#window-slider');
  const unitsInput = element<HTMLInputElement>('#deployment-units');
  const radiusInput = element<HTMLInputElement>('#deployment-radius');
  let windows: string[] = [];
  let shown: RiskWindow | undefined;
  let placed: Deployment | undefined;

  const { bounds } = await getJson('/tiles/{layer}.json', {}, { layer: 'roads' });
  const map = new MapLibreMap({
    container: element('#police-map'),
    style: darkBasemap(location.origin),
    bounds: bounds as LngLatBoundsLike,
    fitBoundsOptions: { padding: 30 },
    attributionControl: false,
    transformRequest: authorizeRequest,
  });
  await new Promise((resolve) => map.once('load', resolve));
  // Where the map looks, for whoever drives the page (a browser test, a kiosk script).
  map.on('moveend', () => (root.dataset.center = JSON.stringify(map.getCenter().toArray())));
  addPoliceLayers(map, location.origin);

  const showLegend = () => {
    const rows = [4, 3, 2, 1].map((level) => `<i style="background:${riskColours[level]}"></i><span>${t(`riskLevel${level}` as 'riskLevel1')}</span>`);
    rows.push(`<i class="dot" style="background:${severityColours.serious}"></i><span>${t('legendAccidents')}</span>`);
    rows.push(`<i style="background:rgba(255,80,80,0.35);border:1px solid #ff5050"></i><span>${t('legendHotspots')}</span>`);
    rows.push(`<i class="dot" style="background:#37c3ff;border:2px solid #fff"></i><span>${t('deploymentTitle')}</span>`);
    element('#legend').innerHTML = rows.join('');
  };
  const showWindowLabel = () => {
    const start = windows[Number(slider.value)];
    if (!start) return;
    const end = new Date(Date.parse(start) + 2 * 3600_000);
    element('#window-label').textContent = `${formatDateTime(new Date(start))} – ${formatDateTime(end).slice(-8)}`;
  };
  const showTopList = (risk: RiskWindow) => {
    const list = element('#top-list');
    list.replaceChildren(
      ...risk.units.slice(0, listedUnits).map((unit) => {
        const item = document.createElement('li');
        item.dataset.unitKey = unit.unitKey;
        item.dataset.level = String(unit.level);
        const reasons = unit.topFeatures.map((feature) => `${language() === 'zh' ? feature.label : feature.feature} ×${feature.factor.toFixed(2)}`).join('，');
        item.innerHTML = '<span></span><span></span><b></b><small></small>';
        const [rank, name, expected, why] = Array.from(item.children) as HTMLElement[];
        rank.textContent = String(unit.rank);
        name.textContent = `${unit.roadId === null ? t('cellUnit') : t('roadSegment')} ${unit.unitKey}`;
        expected.textContent = unit.expected.toFixed(3);
        expected.title = t('expectedAccidents');
        why.textContent = reasons;
        item.addEventListener('click', () => map.flyTo({ center: unitCentre(unit.geometry), zoom: 15.5, duration: 800 }));
        return item;
      }),
    );
  };
  const showMeta = (risk: RiskWindow) => {
    element('#model-version').textContent = `v${risk.modelVersion}`;
    element('#model-updated').textContent = formatDateTime(new Date(risk.issuedAt));
    root.dataset.issuedAt = risk.issuedAt;
  };

  const loadWindow = async () => {
    const at = insideWindow(windows[Number(slider.value)]);
    const risk = await riskWindow(at);
    shown = risk;
    map.getSource<GeoJSONSource>('risk')?.setData(riskFeatures(risk));
    root.dataset.windowStart = risk.windowStart;
    showMeta(risk);
    showTopList(risk);
    showWindowLabel();
    await loadDeployment();
  };
  const loadDeployment = async () => {
    if (!shown || !unitsInput.checkValidity() || !radiusInput.checkValidity()) return;
    placed = await deployment(insideWindow(shown.windowStart), Number(unitsInput.value), Number(radiusInput.value));
    map.getSource<GeoJSONSource>('deployment')?.setData(deploymentFeatures(placed));
    element('#deployment-share').textContent = formatRate(placed.coveredShare);
    element('#deployment-share').dataset.share = String(placed.coveredShare);
    root.dataset.deployment = JSON.stringify(placed.points.map((point) => [point.lon, point.lat]));
  };
  // Reads run one after another, so a slow earlier answer is never drawn over the answer to a later input.
  let pending = Promise.resolve();
  const queue = (work: () => Promise<void>) => {
    root.dataset.loading = 'true';
    pending = pending.then(work).catch((error: Error) => {
        element('#window-label').textContent = error.message;
      }).finally(() => delete root.dataset.loading);
    return pending;
  };
  const loadAll = async () => {
    const current = await riskWindow();
    windows = windowStarts(current.windowStart);
    // The last 30 days before the prediction's now (the server's clock, not this PC's).
    showAccidentsSince(map, new Date(Date.parse(current.windowStart) - 30 * 86_400_000).toISOString());
    await loadWindow();
  };

  slider.addEventListener('input', () => void queue(loadWindow));
  unitsInput.addEventListener('change', () => void queue(loadDeployment));
  radiusInput.addEventListener('change', () => void queue(loadDeployment));
  followPredictions(() => void queue(loadAll));
  void accidentHotspots().then((hotspots) => map.getSource<GeoJSONSource>('hotspots')?.setData(hotspots));

  const showTexts = () => {
    applyTexts(root);
    document.title = t('policeTitle');
    showLegend();
    showWindowLabel();
    if (shown) showTopList(shown);
  };
  onLanguageChange(showTexts);
  showTexts();
  await queue(loadAll);
  map.once('idle', () => requestAnimationFrame(() => requestAnimationFrame(() => (document.body.dataset.ready = 'true'))));
  map.triggerRepaint();
}
