import { incidentCells } from '../../server/geo/h3';
import type { City, Position, RoadRow } from './city';
import { roadEdgeKey } from './landscape';
import { type Lattice, round7 } from './lattice';
import { Random, WeightedPicker } from './random';

export interface IncidentRow {
  id: number;
  category: string;
  source: 'app' | 'hotline' | 'wechat' | 'patrol';
  status: string;
  description: string;
  reportedAt: Date;
  closedAt: Date | null;
  at: Position;
  /** h3_r7, h3_r8, h3_r9, h3_r10 (server/geo/h3.ts). */
  cells: [string, string, string, string];
}

export interface AccidentRow {
  id: number;
  occurredAt: Date;
  severity: 'fatal' | 'serious' | 'slight';
  vehicles: number;
  casualties: number;
  roadId: number;
  at: Position;
}

export interface PhoneFix {
  at: Position;
  time: Date;
  accuracy: number;
}

/** One worker's walk of one day as their phone recorded it: with gaps and a few bad fixes. */
export interface PatrolWalk {
  worker: string;
  fixes: PhoneFix[];
}

export interface Activity {
  incidents: IncidentRow[];
  accidents: AccidentRow[];
  patrols: PatrolWalk[];
}

const hourMs = 3_600_000;
const dayMs = 24 * hourMs;
const shanghaiOffsetMs = 8 * hourMs;

/** Midnight in Asia/Shanghai (UTC+8, no daylight saving) of a day of the demo year. */
function localMidnight(year: number, dayOfYear: number): number {
  return Date.UTC(year, 0, 1) - shanghaiOffsetMs + dayOfYear * dayMs;
}

// Reports follow the working day: a morning and an afternoon peak, a quieter evening, little at night.
const incidentHourWeights = [1, 0.5, 0.3, 0.3, 0.4, 0.8, 2, 4, 7, 9, 9, 7, 5, 6, 8, 8, 7, 6, 5, 5, 4, 3, 2, 1.5];
// Accidents peak in the commuting hours.
const accidentHourWeights = [2, 1.5, 1, 1, 1, 2, 4, 9, 10, 6, 5, 5, 5, 5, 5, 6, 8, 10, 9, 6, 4, 3, 3, 2];
const hours = Array.from({ length: 24 }, (_, h) => h);

/** Categories by where a report comes from; the incidents catalogue maps each to a department and deadlines. */
const categoriesByPlace = {
  building: [
    ['群租', 4],
    ['消防隐患', 3],
    ['违章建筑', 3],
    ['矛盾纠纷', 3],
    ['噪音扰民', 2],
    ['环境卫生', 3],
  ],
  market: [
    ['环境卫生', 6],
    ['占道经营', 5],
    ['矛盾纠纷', 2],
    ['违规停车', 2],
  ],
  road: [
    ['窨井盖', 4],
    ['道路破损', 4],
    ['路灯故障', 3],
    ['违规停车', 3],
    ['绿化养护', 2],
  ],
  anywhere: [
    ['环境卫生', 3],
    ['绿化养护', 2],
    ['违章建筑', 1],
  ],
} satisfies Record<string, Array<[string, number]>>;

type PlaceKind = keyof typeof categoriesByPlace;

const sources = new WeightedPicker(
  [
    ['app', 40],
    ['hotline', 30],
    ['patrol', 20],
    ['wechat', 10],
  ] as const,
  ([, w]) => w,
);
const openStatuses = ['reported', 'accepted', 'dispatched', 'handling', 'supervising'];

function pointOnRoad(random: Random, lattice: Lattice, road: RoadRow, nearEnd: boolean): Position {
  const t = nearEnd ? random.pick([random.float(0, 0.06), random.float(0.94, 1)]) : random.float(0, 1);
  const [[x0, y0], [x1, y1]] = road.line;
  // A few metres off the centre line, as a GPS or a geocoder would place it.
  const offset = random.normal(0, 0.00004);
  const [lon, lat] = lattice.clamp([x0 + (x1 - x0) * t + (y0 === y1 ? 0 : offset), y0 + (y1 - y0) * t + (x0 === x1 ? 0 : offset)]);
  return [round7(lon), round7(lat)];
}

function jitter(random: Random, lattice: Lattice, at: Position, metres: number): Position {
  const d = metres / 111_320;
  const [lon, lat] = lattice.clamp([at[0] + random.normal(0, d * 1.17), at[1] + random.normal(0, d)]);
  return [round7(lon), round7(lat)];
}

function generateIncidents(random: Random, city: City, count: number, year: number): IncidentRow[] {
  const { buildings, keyPlaces, roads, lattice } = city;
  const residential = buildings.filter((b) => b.households > 0);
  const buildingPicker = new WeightedPicker(residential.length ? residential : buildings, (b) => b.households + 3 * b.rentalUnits + 1);
  const busyPlaces = keyPlaces.filter((p) => p.kind === 'market' || p.kind === 'mall');
  const placePicker = new WeightedPicker(busyPlaces.length ? busyPlaces : keyPlaces, (p) => Math.sqrt(p.capacity));
  const roadPicker = new WeightedPicker(roads, (r) => (r.kind === 'arterial' ? 4 : r.kind === 'primary' ? 2 : 1));
  const placeKinds = new WeightedPicker<PlaceKind>(['building', 'market', 'road', 'anywhere'], (k) => ({ building: 50, market: 25, road: 15, anywhere: 10 })[k]);
  const categoryPickers = Object.fromEntries(
    Object.entries(categoriesByPlace).map(([kind, list]) => [kind, new WeightedPicker(list, ([, w]) => w)]),
  ) as Record<PlaceKind, WeightedPicker<[string, number]>>;
  const days = Array.from({ length: 365 }, (_, d) => d);
  // Weekends bring more neighbourhood complaints; summer more sanitation reports.
  const dayPicker = new WeightedPicker(days, (d) => {
    const weekday = new Date(localMidnight(year, d) + shanghaiOffsetMs).getUTCDay();
    return (weekday === 0 || weekday === 6 ? 1.2 : 1) * (1 + 0.25 * Math.sin(((d - 100) / 365) * 2 * Math.PI));
  });
  const hourPicker = new WeightedPicker(hours, (h) => incidentHourWeights[h]);
  const yearEnd = localMidnight(year, 365);
  const rows: IncidentRow[] = [];
  const placeOf = (place: PlaceKind): Position =>
    place === 'building'
      ? jitter(random, lattice, buildingPicker.pick(random).centre, 15)
      : place === 'market'
        ? jitter(random, lattice, placePicker.pick(random).at, 120)
        : place === 'road'
          ? pointOnRoad(random, lattice, roadPicker.pick(random), false)
          : [lattice.lon(random.float(0, lattice.nx)), lattice.lat(random.float(0, lattice.ny))];
  for (let id = 1; id <= count; id++) {
    const place = placeKinds.pick(random);
    // Nobody reports a pothole in the lake: a point that falls in the water is drawn again.
    let at = placeOf(place);
    while (city.inWater(at)) at = placeOf(place);
    const category = categoryPickers[place].pick(random)[0];
    const reportedAt = new Date(localMidnight(year, dayPicker.pick(random)) + hourPicker.pick(random) * hourMs + random.int(0, 3599) * 1000);
    // Handling time is log-normal: a median of about 20 hours with a long tail of hard cases.
    const handlingMs = Math.exp(random.normal(Math.log(20), 1.1)) * hourMs;
    const closes = random.chance(0.94) && reportedAt.getTime() + handlingMs < yearEnd;
    rows.push({
      id,
      category,
      source: sources.pick(random)[0],
      status: closes ? 'closed' : random.pick(openStatuses),
      description: `${category}（演示数据）`,
      reportedAt,
      closedAt: closes ? new Date(reportedAt.getTime() + handlingMs) : null,
      at,
      cells: incidentCells(at[0], at[1]),
    });
  }
  return rows.sort((a, b) => a.reportedAt.getTime() - b.reportedAt.getTime()).map((row, index) => ({ ...row, id: index + 1 }));
}

/** Accidents concentrate on arterials and on a few black-spot segments, near junctions, at rush hour. */
function generateAccidents(random: Random, city: City, count: number, year: number): AccidentRow[] {
  const blackSpots = new Set(Array.from({ length: Math.max(5, Math.round(city.roads.length / 120)) }, () => random.int(1, city.roads.length)));
  const roadPicker = new WeightedPicker(city.roads, (r) => (r.kind === 'arterial' ? 5 : r.kind === 'primary' ? 2 : 0.5) * (blackSpots.has(r.id) ? 15 : 1));
  const hourPicker = new WeightedPicker(hours, (h) => accidentHourWeights[h]);
  const rows: AccidentRow[] = [];
  for (let id = 1; id <= count; id++) {
    const road = roadPicker.pick(random);
    const hour = hourPicker.pick(random);
    const night = hour < 6 || hour >= 22;
    const roll = random.float();
    const severity = roll < (night ? 0.03 : 0.01) ? 'fatal' : roll < (night ? 0.25 : 0.15) ? 'serious' : 'slight';
    rows.push({
      id,
      occurredAt: new Date(localMidnight(year, random.int(0, 364)) + hour * hourMs + random.int(0, 3599) * 1000),
      severity,
      vehicles: random.int(1, 3),
      casualties: random.int(severity === 'slight' ? 0 : 1, 3),
      roadId: road.id,
      at: pointOnRoad(random, city.lattice, road, random.chance(0.4)),
    });
  }
  return rows.sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime()).map((row, index) => ({ ...row, id: index + 1 }));
}

// Patrols are walked on the days from this day of the demo year (early June, a Monday-to-Sunday week).
const firstPatrolDay = 152;

/** A day of the demo year with everything on it (reports, patrols): the wall link `npm start` prints replays it. */
export function demoShowcaseDay(year: number): string {
  return new Date(Date.UTC(year, 0, 1) + (firstPatrolDay + 2) * dayMs).toISOString().slice(0, 10);
}

/**
 * What a phone makes of a walk: in two walks of five a stretch of 12–25 minutes without fixes (no signal, app in the
 * background), which splits the day's track; about one fix in 400 with an accuracy of hundreds of metres; about
 * one in 600 a jump of some 2 km (a multipath fix). Drawn from their own random stream, so the walks themselves and
 * everything generated after them are the same as without the noise.
 */
function asPhoneRecorded(noise: Random, city: City, fixes: PhoneFix[]): PhoneFix[] {
  const [minLon, , maxLon] = city.options.bbox;
  const gapStart = noise.chance(0.4) ? noise.int(20, Math.max(20, fixes.length - 60)) : -1;
  const gapLength = noise.int(24, 50);
  return fixes.flatMap((fix, i) => {
    if (gapStart >= 0 && i >= gapStart && i < gapStart + gapLength) return [];
    if (noise.chance(1 / 400)) return [{ ...fix, accuracy: Math.round(noise.float(150, 600)) }];
    if (i > 0 && noise.chance(1 / 600)) {
      const towardsCentre = fix.at[0] < (minLon + maxLon) / 2 ? 1 : -1;
      return [{ ...fix, at: [round7(fix.at[0] + towardsCentre * 0.02), fix.at[1]] as Position }];
    }
    return [fix];
  });
}

/** Each worker walks the road network around their grid for about three hours a day; a GPS fix every 30 s. */
function generatePatrols(random: Random, city: City, workers: number, days: number, year: number): PatrolWalk[] {
  const { lattice } = city;
  const gridsL4 = city.grids.filter((g) => g.level === 4);
  const chosen = Array.from({ length: Math.min(workers, gridsL4.length) }, (_, k) => gridsL4[Math.floor((k * gridsL4.length) / Math.min(workers, gridsL4.length))]);
  const spacing = 6;
  const maxNode = [Math.floor(lattice.nx / spacing), Math.floor(lattice.ny / spacing)];
  const noise = new Random(`${city.options.seed}/phone`);
  const walks: PatrolWalk[] = [];
  for (const grid of chosen) {
    const worker = grid.workers[0];
    const lo = [Math.max(0, Math.floor(grid.rect.x0 / spacing) - 1), Math.max(0, Math.floor(grid.rect.y0 / spacing) - 1)];
    const hi = [Math.min(maxNode[0], Math.ceil(grid.rect.x1 / spacing) + 1), Math.min(maxNode[1], Math.ceil(grid.rect.y1 / spacing) + 1)];
    for (let day = 0; day < days; day++) {
      const start = localMidnight(year, firstPatrolDay + day) + 9 * hourMs + random.int(0, 3600) * 1000;
      const durationS = random.int(2.5 * 3600, 3.5 * 3600);
      const speed = random.float(1.0, 1.4); // metres per second, walking
      // A start on the lake shore with every street drowned would leave the walker nowhere to go.
      const connected = ([x, y]: number[]) =>
        [[1, 0], [-1, 0], [0, 1], [0, -1]].some(([dx, dy]) => !city.drownedEdges.has(roadEdgeKey([x * spacing, y * spacing], [(x + dx) * spacing, (y + dy) * spacing])));
      let node = [random.int(lo[0], hi[0]), random.int(lo[1], hi[1])];
      for (let tries = 0; !connected(node) && tries < 50; tries++) node = [random.int(lo[0], hi[0]), random.int(lo[1], hi[1])];
      let previous = node;
      const fixes: PhoneFix[] = [];
      let t = 0;
      let positionOnEdge = 0;
      let next = node;
      const edgeMetres = spacing * lattice.cellMetres;
      while (t <= durationS) {
        if (positionOnEdge >= edgeMetres || next === node) {
          if (next !== node) [previous, node] = [node, next];
          positionOnEdge = 0;
          const options = [
            [node[0] + 1, node[1]],
            [node[0] - 1, node[1]],
            [node[0], node[1] + 1],
            [node[0], node[1] - 1],
          ].filter(
            ([x, y]) =>
              x >= lo[0] && x <= hi[0] && y >= lo[1] && y <= hi[1] && !(x === previous[0] && y === previous[1]) &&
              !city.drownedEdges.has(roadEdgeKey([node[0] * spacing, node[1] * spacing], [x * spacing, y * spacing])),
          );
          next = options.length ? random.pick(options) : previous;
        }
        const f = positionOnEdge / edgeMetres;
        const at: Position = [lattice.lon((node[0] + (next[0] - node[0]) * f) * spacing), lattice.lat((node[1] + (next[1] - node[1]) * f) * spacing)];
        const accuracy = random.float(3, 12);
        fixes.push({ at: jitter(random, lattice, at, accuracy / 2), time: new Date(start + t * 1000), accuracy: Math.round(accuracy * 10) / 10 });
        t += 30;
        positionOnEdge += 30 * speed;
      }
      walks.push({ worker, fixes: asPhoneRecorded(noise, city, fixes) });
    }
  }
  return walks;
}

/** A year of reports and accidents and a week of patrols over a generated city; deterministic per seed. */
export function generateActivity(city: City): Activity {
  const { options } = city;
  const random = new Random(`${options.seed}/activity`);
  return {
    incidents: generateIncidents(random, city, options.incidents, options.year),
    accidents: generateAccidents(random, city, options.accidents, options.year),
    patrols: generatePatrols(random, city, options.patrolWorkers, options.patrolDays, options.year),
  };
}
