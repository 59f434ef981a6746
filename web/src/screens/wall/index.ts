import '../../map/setup';
import './wall.css';
import { MapLibreOverlay } from '@deck.gl/maplibre';
import { type LngLatBoundsLike, Map as MapLibreMap } from 'maplibre-gl';
import { apiToken, authorizeRequest, followIncidents, getJson, type IncidentEvent, type StreamState } from '../../shell/api';
import { formatCount, formatDateTime, formatRate, formatTime } from '../../shell/format';
import { applyTexts, languageToggle, onLanguageChange, t, valueName } from '../../shell/messages';
import { darkBasemap, showDistrictNames } from '../../map/basemap';
import { WallCharts } from './charts';
import { heatCells, hexagonCells, loadPatrols, loadSummary, type WallSummary } from './data';
import { heatPoints, replayWindow, type WallLayerData, wallLayers } from './layers';

const kpis: Array<{ key: keyof WallSummary['kpis']; text: Parameters<typeof t>[0]; rate?: boolean; tone?: string }> = [
  { key: 'reports', text: 'kpiReports' },
  { key: 'closureRate', text: 'kpiClosureRate', rate: true, tone: 'good' },
  { key: 'onTimeRate', text: 'kpiOnTimeRate', rate: true, tone: 'good' },
  { key: 'overdue', text: 'kpiOverdue', tone: 'bad' },
  { key: 'supervising', text: 'kpiSupervising', tone: 'warn' },
  { key: 'workersOnPatrol', text: 'kpiWorkers', tone: 'good' },
];

// How often each part is read again; live reports arrive by the stream in between. Bounded data per minute.
const summaryEveryMs = 30_000;
const cellsEveryMs = 300_000;
const patrolsEveryMs = 120_000;
const tourStepMs = 20_000;
const maxLive = 200;
const maxTicker = 14;

const layout = `
  <div id="wall-map"></div>
  <header class="wall-header">
    <div class="wall-title"><h1 data-text="wallTitle"></h1><span data-text="wallSubtitle"></span></div>
    <div class="wall-meta">
      <span id="wall-day"></span><span id="wall-view"></span>
      <span id="wall-connection" data-state="connecting"></span>
      <span id="wall-clock"></span>
    </div>
  </header>
  <aside class="wall-side wall-left">
    <section class="kpis">${kpis.map((kpi) => `<div class="kpi ${kpi.tone ?? ''}" data-kpi="${kpi.key}"><span data-text="${kpi.text}"></span><b>—</b></div>`).join('')}</section>
    <section class="panel grow"><h2 data-text="trendTitle"></h2><div class="chart" id="chart-trend"></div></section>
    <section class="panel grow"><h2 data-text="sourceTitle"></h2><div class="chart" id="chart-source"></div></section>
  </aside>
  <aside class="wall-side wall-right">
    <section class="panel grow"><h2 data-text="categoryTitle"></h2><div class="chart" id="chart-category"></div></section>
    <section class="panel grow2"><h2 data-text="overdueGridsTitle"></h2><div class="chart" id="chart-overdue"></div></section>
  </aside>
  <div class="wall-legend">
    <span><i class="swatch heat"></i><b data-text="legendHeat"></b></span>
    <span><i class="swatch hex"></i><b data-text="legendHex"></b></span>
    <span><i class="swatch tracks"></i><b data-text="legendTracks"></b></span>
    <span><i class="swatch workers"></i><b data-text="legendWorkers"></b></span>
    <span><i class="swatch live"></i><b data-text="legendLive"></b></span>
  </div>
  <footer class="wall-ticker"><h2 data-text="tickerTitle"></h2><ol id="ticker"><li class="empty" data-text="tickerEmpty"></li></ol></footer>`;

/**
 * The command-centre wall (大屏): a dark city map with incident heat, H3 counts, the day's patrols and live reports,
 * ECharts panels around it, a ticker below. It needs no interaction: it tours the city and its busiest districts,
 * refreshes itself, and reconnects by itself after the server or the network drops (saying so meanwhile).
 */
export async function mount(root: HTMLElement): Promise<void> {
  root.className = 'wall';
  root.innerHTML = layout;
  root.querySelector('.wall-meta')?.append(languageToggle());
  const element = <T extends HTMLElement>(selector: string) => root.querySelector(selector) as T;
  if (!apiToken()) {
    element('#wall-connection').textContent = t('noToken');
    document.body.dataset.ready = 'error';
    return;
  }
  const replayDay = new URLSearchParams(location.search).get('day');
  const charts = new WallCharts({ trend: element('#chart-trend'), category: element('#chart-category'), source: element('#chart-source'), overdue: element('#chart-overdue') });
  const data: WallLayerData = { heat: [], hexagons: [], patrols: undefined, replay: undefined, live: [] };
  let summary: WallSummary | undefined;
  let streamState: StreamState = 'connecting';
  let pullFailed = false;

  const showConnection = () => {
    const state = pullFailed && streamState === 'live' ? 'reconnecting' : streamState;
    const badge = element('#wall-connection');
    badge.dataset.state = state;
    badge.textContent = t(state);
  };
  const showTexts = () => {
    applyTexts(root);
    document.title = t('wallTitle');
    element('#wall-day').textContent = replayDay ? `${t('replay')} ${replayDay}` : '';
    showConnection();
    if (summary) showSummary(summary);
  };
  const showSummary = (next: WallSummary) => {
    summary = next;
    summaryReadAt = Date.now();
    for (const kpi of kpis) {
      const value = next.kpis[kpi.key];
      const cell = element(`[data-kpi="${kpi.key}"]`);
      cell.dataset.value = value === null ? '' : String(value);
      (cell.querySelector('b') as HTMLElement).textContent = kpi.rate ? formatRate(value) : formatCount(value);
    }
    charts.update(next);
    void mapLoaded.then(() => showDistrictNames(map, next.districts));
  };

  const { bounds } = await getJson('/tiles/{layer}.json', { level: 1 }, { layer: 'grids' });
  const padding = () => {
    const [w, h] = [window.innerWidth, window.innerHeight];
    return { left: w * 0.27, right: w * 0.27, top: h * 0.1, bottom: h * 0.12 };
  };
  const map = new MapLibreMap({
    container: element('#wall-map'),
    style: darkBasemap(location.origin, window.innerHeight / 1080),
    bounds: bounds as LngLatBoundsLike,
    fitBoundsOptions: { padding: padding() },
    attributionControl: false,
    interactive: false,
    transformRequest: authorizeRequest,
  });
  const mapLoaded = new Promise((resolve) => map.once('load', resolve));
  const overlay = new MapLibreOverlay({ interleaved: false, layers: [] });
  map.addControl(overlay);

  // Each part is read on its own schedule; a failed read marks the wall as reconnecting and is tried again soon.
  const every = (ms: number, read: () => Promise<void>) => {
    const run = () =>
      read()
        .then(() => {
          pullFailed = false;
          showConnection();
          window.setTimeout(run, ms);
        })
        .catch(() => {
          pullFailed = true;
          showConnection();
          window.setTimeout(run, 5000);
        });
    return run();
  };
  // Live events make the figures change: read them again 2 s after an event, but not more often than every 10 s
  // however busy the city (each read is a dozen aggregate queries on the server).
  let summaryDue: number | undefined;
  let summaryReadAt = 0;
  const refreshSummarySoon = () => {
    summaryDue ??= window.setTimeout(
      () => {
        summaryDue = undefined;
        loadSummary().then(showSummary, () => undefined);
      },
      Math.max(2000, summaryReadAt + 10_000 - Date.now()),
    );
  };
  const first = Promise.all([
    every(summaryEveryMs, async () => showSummary(await loadSummary())),
    every(cellsEveryMs, async () => {
      const [heat, hexagons] = await Promise.all([heatCells(), hexagonCells()]);
      data.heat = heatPoints(heat);
      data.hexagons = hexagons;
    }),
    every(patrolsEveryMs, async () => {
      data.patrols = await loadPatrols();
      data.replay = replayWindow(data.patrols);
    }),
  ]);

  const ticker = element('#ticker');
  const onIncident = (event: IncidentEvent) => {
    refreshSummarySoon();
    if (event.kind !== 'reported') return;
    data.live = [{ id: event.incidentId, position: event.incident.location.coordinates, arrived: performance.now() }, ...data.live].slice(0, maxLive);
    ticker.querySelector('.empty')?.remove();
    const item = document.createElement('li');
    item.dataset.incidentId = String(event.incidentId);
    item.dataset.shownAt = String(Date.now());
    item.innerHTML = `<time></time><b></b><span></span>`;
    (item.children[0] as HTMLElement).textContent = formatTime(event.at);
    (item.children[1] as HTMLElement).textContent = valueName(event.incident.category);
    (item.children[2] as HTMLElement).textContent = event.incident.department ?? '';
    ticker.prepend(item);
    while (ticker.children.length > maxTicker) ticker.lastElementChild?.remove();
  };
  followIncidents(onIncident, (state) => {
    const recovered = streamState === 'reconnecting' && state === 'live';
    streamState = state;
    showConnection();
    if (recovered) refreshSummarySoon();
  });

  element('#wall-view').textContent = t('cityView');

  window.setInterval(() => (element('#wall-clock').textContent = formatDateTime(new Date())), 1000);
  onLanguageChange(showTexts);
  showTexts();

  // deck.gl layers are cheap to describe: a new set per frame animates trips and pulses, 20 fps at most. What a
  // frame costs shows as the time until the next animation frame; the animation waits five times that before the
  // next one. Without a GPU (software WebGL) one frame a second at most: the page must stay responsive.
  const minFrameMs = softwareRendering() ? 1000 : 50;
  let lastDraw = 0;
  let lastTick = 0;
  let drawCost = 0;
  let drew = false;
  const frame = (now: number) => {
    if (drew) drawCost = now - lastTick;
    drew = false;
    lastTick = now;
    if (now - lastDraw > Math.max(minFrameMs, drawCost * 5)) {
      lastDraw = now;
      drew = true;
      overlay.setProps({ layers: wallLayers(data, now) });
    }
    requestAnimationFrame(frame);
  };
  // The tour: the whole city, then each of the three busiest districts of the week, and round again.
  let stop = 0;
  const startTour = () =>
    window.setInterval(() => {
      const districts = summary?.districts.slice(0, 3) ?? [];
      stop = (stop + 1) % (districts.length + 1);
      const district = districts[stop - 1];
      element('#wall-view').textContent = district ? `${t('districtView')} · ${district.name}` : t('cityView');
      map.fitBounds((district?.bbox ?? bounds) as LngLatBoundsLike, { padding: padding(), duration: 4000, essential: true });
    }, tourStepMs);

  await Promise.all([first, mapLoaded]);
  requestAnimationFrame(frame);
  // Ready once the city view is drawn with its data; the tour starts from there.
  map.once('idle', () =>
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        document.body.dataset.ready = 'true';
        startTour();
      }),
    ),
  );
  map.triggerRepaint();
}

/** Whether WebGL runs on the CPU (SwiftShader, llvmpipe): a PC without a usable GPU. */
function softwareRendering(): boolean {
  const gl = document.createElement('canvas').getContext('webgl2');
  const info = gl?.getExtension('WEBGL_debug_renderer_info');
  const renderer = gl && info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : '';
  gl?.getExtension('WEBGL_lose_context')?.loseContext();
  return /swiftshader|llvmpipe|software/i.test(renderer);
}
