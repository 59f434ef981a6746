import { HeatmapLayer } from '@deck.gl/aggregation-layers';
import type { Layer } from '@deck.gl/core';
import { H3HexagonLayer, TripsLayer } from '@deck.gl/geo-layers';
import { ScatterplotLayer } from '@deck.gl/layers';
import { cellToLatLng } from 'h3-js';
import { heatRamp, rampColour } from '../../shell/format';
import type { HexCell, WallPatrols } from './data';

export interface LiveIncident {
  id: number;
  position: [number, number];
  arrived: number;
}

export interface WallLayerData {
  heat: Array<{ position: [number, number]; weight: number }>;
  hexagons: HexCell[];
  patrols: WallPatrols | undefined;
  /** The span of the day's patrols (seconds since the day began), played in a loop. */
  replay: { from: number; to: number } | undefined;
  live: LiveIncident[];
}

export function heatPoints(cells: Array<{ h3: string; count: number }>): WallLayerData['heat'] {
  return cells.map((cell) => {
    const [lat, lon] = cellToLatLng(cell.h3);
    return { position: [lon, lat], weight: cell.count };
  });
}

// The patrols of the day play in a loop of 60 seconds, each walker trailing 20 minutes of track.
const replayMs = 60_000;
const trailSeconds = 1200;

export function replayWindow(patrols: WallPatrols): WallLayerData['replay'] {
  const times = patrols.tracks.flatMap((track) => [track.seconds[0], track.seconds[track.seconds.length - 1]]);
  return times.length ? { from: Math.min(...times), to: Math.max(...times) + trailSeconds } : undefined;
}
const pulseMs = 1600;
// A new report pulses for this long, then stays as a small dot until it leaves the list.
const freshMs = 20_000;

/** The deck.gl layers of the wall at time `now` (ms): hexagons under the heatmap, then patrols, then live reports. */
export function wallLayers(data: WallLayerData, now: number): Layer[] {
  const maxHex = Math.max(1, ...data.hexagons.map((cell) => cell.value));
  const hexColour = (cell: HexCell): [number, number, number, number] => {
    if (cell.tone === 'hot') return [255, 80, 80, 150];
    if (cell.tone === 'cold') return [60, 140, 255, 120];
    const share = Math.sqrt(cell.value / maxHex);
    return [...rampColour(share * 0.8), Math.round(30 + 110 * share)];
  };
  const replay = data.replay ?? { from: 0, to: 1 };
  const replaySeconds = replay.from + ((now % replayMs) / replayMs) * (replay.to - replay.from);
  const layers: Layer[] = [
    new H3HexagonLayer<HexCell>({
      id: 'hexagons',
      data: data.hexagons,
      getHexagon: (cell) => cell.hex,
      getFillColor: hexColour,
      getLineColor: [90, 160, 230, 60],
      lineWidthMinPixels: 0.5,
      stroked: true,
      filled: true,
      extruded: false,
      highPrecision: true,
      updateTriggers: { getFillColor: [maxHex] },
    }),
    new HeatmapLayer<WallLayerData['heat'][number]>({
      id: 'heat',
      data: data.heat,
      getPosition: (point) => point.position,
      getWeight: (point) => point.weight,
      radiusPixels: Math.round(28 * (window.innerHeight / 1080)),
      intensity: 1,
      // Sparse areas stay clear, so the city shows through and only real concentrations glow.
      threshold: 0.18,
      colorRange: heatRamp,
      opacity: 0.7,
    }),
  ];
  if (data.patrols) {
    layers.push(
      new TripsLayer<WallPatrols['tracks'][number]>({
        id: 'patrols',
        data: data.patrols.tracks,
        getPath: (track) => track.path,
        getTimestamps: (track) => track.seconds,
        getColor: [61, 220, 151],
        widthMinPixels: 2.5,
        jointRounded: true,
        capRounded: true,
        fadeTrail: true,
        trailLength: trailSeconds,
        currentTime: replaySeconds,
      }),
      new ScatterplotLayer<[number, number]>({
        id: 'workers',
        data: data.patrols.positions,
        getPosition: (position) => position,
        getFillColor: [61, 220, 151, 255],
        getLineColor: [220, 255, 235, 255],
        stroked: true,
        lineWidthMinPixels: 1.5,
        radiusMinPixels: 5,
        radiusMaxPixels: 9,
        getRadius: 40,
      }),
    );
  }
  const phase = (now % pulseMs) / pulseMs;
  layers.push(
    new ScatterplotLayer<LiveIncident>({
      id: 'live-rings',
      data: data.live.filter((incident) => now - incident.arrived < freshMs),
      getPosition: (incident) => incident.position,
      getRadius: 60 + 340 * phase,
      radiusUnits: 'meters',
      radiusMinPixels: 6,
      stroked: true,
      filled: false,
      getLineColor: [255, 214, 102, Math.round(255 * (1 - phase))],
      lineWidthMinPixels: 2.5,
      updateTriggers: { getRadius: phase, getLineColor: phase },
    }),
    new ScatterplotLayer<LiveIncident>({
      id: 'live',
      data: data.live,
      getPosition: (incident) => incident.position,
      getFillColor: (incident) => (now - incident.arrived < freshMs ? [255, 214, 102, 255] : [255, 170, 60, 200]),
      getLineColor: [30, 20, 0, 255],
      stroked: true,
      lineWidthMinPixels: 1,
      radiusMinPixels: 5,
      getRadius: 30,
      updateTriggers: { getFillColor: Math.floor(now / 1000) },
    }),
  );
  return layers;
}
