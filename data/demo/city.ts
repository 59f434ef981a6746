import { generateLandscape, type Landscape, type LandCoverRow, roadEdgeKey } from './landscape';
import { bisect, type CellRect, Lattice, rectRing, round7, WeightTable } from './lattice';
import type { CityOptions } from './options';
import { Random, WeightedPicker } from './random';

export type Position = [number, number];

export interface RoadRow {
  id: number;
  name: string;
  kind: 'arterial' | 'primary' | 'local';
  lanes: number;
  speedLimit: number;
  line: Position[];
}

export interface BuildingRow {
  id: number;
  code: string;
  address: string;
  use: 'residential' | 'commercial' | 'industrial' | 'public';
  floors: number;
  households: number;
  rentalUnits: number;
  ring: Position[];
  centre: Position;
  cell: [number, number];
}

export interface PersonRow {
  id: number;
  buildingId: number;
  category: '常住' | '流动' | '重点关注';
  householdNo: string;
  birthYear: number;
}

export interface GridRow {
  id: number;
  code: string;
  name: string;
  level: number;
  parentId: number | null;
  rect: CellRect;
  ring: Position[];
  leader: string;
  workers: string[];
  householdsTarget: number | null;
}

export interface PointRow {
  id: number;
  name: string;
  kind: string;
  at: Position;
}

export interface HazardRow extends PointRow {
  riskLevel: number;
  lastInspected: string;
  nextDue: string;
}

export interface KeyPlaceRow extends PointRow {
  capacity: number;
}

export interface City {
  options: CityOptions;
  lattice: Lattice;
  roads: RoadRow[];
  buildings: BuildingRow[];
  people: PersonRow[];
  grids: GridRow[];
  hazards: HazardRow[];
  keyPlaces: KeyPlaceRow[];
  landCover: LandCoverRow[];
  /** Lattice road segments not built because they would run through the lake (walkers go round). */
  drownedEdges: Set<string>;
  inWater(at: Position): boolean;
  /** Density centres (town centres, markets) that shape buildings and incident hotspots. */
  centres: Array<{ at: Position; sigmaCells: number; weight: number }>;
}

const roadSpacing = 6; // cells between local roads (300 m)
const primaryEvery = 12;
const arterialEvery = 30;
const nameSyllables = ['星湖', '金鸡', '独墅', '青剑', '斜塘', '娄葑', '胜浦', '唯亭', '钟南', '苏虹', '现代', '星海', '东环', '南施', '月亮湾', '翠园', '玲珑', '方洲', '淞泽', '湖畔', '东沙', '车坊', '白塘', '阳澄'];

function roadKind(index: number): RoadRow['kind'] {
  if (index % arterialEvery === 0) return 'arterial';
  if (index % primaryEvery === 0) return 'primary';
  return 'local';
}

const roadSuffix = { arterial: '大道', primary: '路', local: '街' } as const;
const roadProfile = { arterial: { lanes: 6, speedLimit: 60 }, primary: { lanes: 4, speedLimit: 50 }, local: { lanes: 2, speedLimit: 30 } } as const;

function roadName(index: number, vertical: boolean, kind: RoadRow['kind']): string {
  const syllable = nameSyllables[index % nameSyllables.length];
  const ordinal = Math.floor(index / nameSyllables.length);
  return `${syllable}${vertical ? '南北' : '东西'}${ordinal > 0 ? ordinal + 1 : ''}${roadSuffix[kind]}`;
}

/**
 * Roads along every 6th lattice line, split into one segment per block edge (the unit of accident risk), except
 * where the lake is; then the arterials that cut across the lattice, in segments of about 100 m.
 */
function generateRoads(lattice: Lattice, landscape: Landscape): RoadRow[] {
  const roads: RoadRow[] = [];
  const add = (vertical: boolean, line: number, from: number, to: number) => {
    const kind = roadKind(line);
    const [a, b]: Array<[number, number]> = vertical ? [[line, from], [line, to]] : [[from, line], [to, line]];
    if (landscape.drownedEdges.has(roadEdgeKey(a, b))) return;
    roads.push({
      id: roads.length + 1,
      name: roadName(line / roadSpacing, vertical, kind),
      kind,
      ...roadProfile[kind],
      line: [
        [lattice.lon(a[0]), lattice.lat(a[1])],
        [lattice.lon(b[0]), lattice.lat(b[1])],
      ],
    });
  };
  for (let i = 0; i <= lattice.nx; i += roadSpacing) {
    for (let j = 0; j + roadSpacing <= lattice.ny; j += roadSpacing) add(true, i, j, j + roadSpacing);
  }
  for (let j = 0; j <= lattice.ny; j += roadSpacing) {
    for (let i = 0; i + roadSpacing <= lattice.nx; i += roadSpacing) add(false, j, i, i + roadSpacing);
  }
  for (const { name, path } of landscape.freeRoads) {
    for (let k = 1; k < path.length; k++) {
      const line = [path[k - 1], path[k]].map(([x, y]): Position => [lattice.lon(x), lattice.lat(y)]);
      roads.push({ id: roads.length + 1, name, kind: 'arterial', ...roadProfile.arterial, line });
    }
  }
  return roads;
}

function generateCentres(random: Random, lattice: Lattice, count: number): City['centres'] {
  return Array.from({ length: count }, () => ({
    at: [random.float(0.1, 0.9) * lattice.nx, random.float(0.1, 0.9) * lattice.ny] as Position,
    sigmaCells: random.float(0.08, 0.2) * Math.min(lattice.nx, lattice.ny),
    weight: random.float(0.5, 1.5),
  }));
}

/** Relative population density of a cell: a floor plus Gaussian town centres. */
function densityAt(centres: City['centres'], i: number, j: number): number {
  let density = 0.12;
  for (const centre of centres) {
    const d2 = (i - centre.at[0]) ** 2 + (j - centre.at[1]) ** 2;
    density += centre.weight * Math.exp(-d2 / (2 * centre.sigmaCells ** 2));
  }
  return density;
}

function buildingUse(random: Random, density: number): { use: BuildingRow['use']; floors: number; households: number } {
  const roll = random.float();
  const highRise = Math.min(0.12, 0.03 * density);
  if (roll < highRise) {
    const floors = random.int(18, 33);
    return { use: 'residential', floors, households: floors * random.int(2, 4) };
  }
  if (roll < highRise + 0.2) {
    const floors = random.int(5, 11);
    return { use: 'residential', floors, households: floors * random.int(1, 2) };
  }
  if (roll < 0.85) return { use: 'residential', floors: random.int(2, 4), households: random.int(1, 4) };
  if (roll < 0.93) return { use: 'commercial', floors: random.int(1, 6), households: 0 };
  if (roll < 0.97) return { use: 'industrial', floors: random.int(1, 3), households: 0 };
  return { use: 'public', floors: random.int(1, 5), households: 0 };
}

function generateBuildings(random: Random, lattice: Lattice, centres: City['centres'], blocked: Uint8Array, count: number): BuildingRow[] {
  const capacity = lattice.nx * lattice.ny;
  const target = Math.min(count, Math.floor(capacity * 0.6));
  const occupied = new Uint8Array(capacity);
  let maxDensity = 0;
  for (let j = 0; j < lattice.ny; j += 4) for (let i = 0; i < lattice.nx; i += 4) maxDensity = Math.max(maxDensity, densityAt(centres, i, j));
  const cells: Array<[number, number, number]> = [];
  while (cells.length < target) {
    const i = random.int(0, lattice.nx - 1);
    const j = random.int(0, lattice.ny - 1);
    const density = densityAt(centres, i, j);
    if (occupied[lattice.cellIndex(i, j)] || blocked[lattice.cellIndex(i, j)] || !random.chance(density / maxDensity)) continue;
    occupied[lattice.cellIndex(i, j)] = 1;
    cells.push([i, j, density]);
  }
  // Spatial order (row-major by cell) keeps neighbouring buildings in neighbouring pages on disk.
  cells.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
  return cells.map(([i, j, density], index) => {
    const { use, floors, households } = buildingUse(random, density);
    const width = random.float(0.45, 0.75);
    const depth = random.float(0.4, 0.7);
    const x0 = i + random.float(0.12, 0.88 - width);
    const y0 = j + random.float(0.12, 0.88 - depth);
    const ring: Position[] = [
      [lattice.lon(x0), lattice.lat(y0)],
      [lattice.lon(x0 + width), lattice.lat(y0)],
      [lattice.lon(x0 + width), lattice.lat(y0 + depth)],
      [lattice.lon(x0), lattice.lat(y0 + depth)],
      [lattice.lon(x0), lattice.lat(y0)],
    ];
    const roadLine = Math.floor(i / roadSpacing) * roadSpacing;
    const street = roadName(roadLine / roadSpacing, true, roadKind(roadLine));
    const rentalShare = Math.min(0.6, 0.05 + 0.1 * density);
    return {
      id: index + 1,
      code: `B${String(index + 1).padStart(6, '0')}`,
      address: `${street}${j + 1}号${i + 1}幢`,
      use,
      floors,
      households,
      rentalUnits: Math.round(households * rentalShare * random.float(0.5, 1.5)),
      ring,
      centre: [lattice.lon(x0 + width / 2), lattice.lat(y0 + depth / 2)],
      cell: [i, j],
    };
  });
}

function generatePeople(random: Random, buildings: BuildingRow[], count: number): PersonRow[] {
  const totalHouseholds = buildings.reduce((sum, b) => sum + b.households, 0);
  const perHousehold = totalHouseholds > 0 ? count / totalHouseholds : 0;
  const people: PersonRow[] = [];
  for (const building of buildings) {
    const expected = building.households * perHousehold;
    const n = Math.floor(expected) + (random.chance(expected % 1) ? 1 : 0);
    const migrantShare = building.households > 0 ? 0.1 + (0.5 * building.rentalUnits) / building.households : 0;
    for (let k = 0; k < n; k++) {
      const roll = random.float();
      const category = roll < 0.05 ? '重点关注' : roll < 0.05 + migrantShare ? '流动' : '常住';
      people.push({
        id: people.length + 1,
        buildingId: building.id,
        category,
        householdNo: `${building.code}-${String(random.int(1, Math.max(1, building.households))).padStart(3, '0')}`,
        birthYear: random.int(1935, 2024),
      });
    }
  }
  return people;
}

/** Four nested levels by weighted recursive bisection; upper levels cut along roads, level 4 on any lattice line. */
function generateGrids(lattice: Lattice, buildings: BuildingRow[], options: CityOptions): GridRow[] {
  const households = new Float64Array(lattice.nx * lattice.ny);
  for (const b of buildings) households[lattice.cellIndex(b.cell[0], b.cell[1])] += b.households;
  const table = new WeightTable(lattice, households);
  const whole: CellRect = { x0: 0, y0: 0, x1: lattice.nx, y1: lattice.ny };
  const grids: GridRow[] = [];
  const levels = [
    { level: 1, parts: () => options.districts, step: arterialEvery, suffix: '区' },
    { level: 2, parts: (w: number) => Math.round(w / options.householdsPerStreet), step: roadSpacing, suffix: '街道' },
    { level: 3, parts: (w: number) => Math.round(w / options.householdsPerCommunity), step: roadSpacing, suffix: '社区' },
    { level: 4, parts: (w: number) => Math.round(w / options.householdsPerGrid), step: 1, suffix: '网格' },
  ];
  const split = (parent: GridRow | null, rect: CellRect, depth: number): void => {
    const { level, parts, step, suffix } = levels[depth];
    const pieces = bisect(table, rect, Math.max(1, parts(table.weight(rect))), step);
    pieces.forEach((piece, index) => {
      const code = parent ? `${parent.code}-${String(index + 1).padStart(level === 4 ? 3 : 2, '0')}` : `D${String(index + 1).padStart(2, '0')}`;
      const base = parent ? parent.name.replace(/(区|街道|社区|网格)$/, '') : nameSyllables[index % nameSyllables.length];
      const name = level === 4 ? `${base}第${index + 1}网格` : level === 1 ? `${base}${suffix}` : `${base}${nameSyllables[(index + level * 7) % nameSyllables.length]}${suffix}`;
      const grid: GridRow = {
        id: grids.length + 1,
        code,
        name,
        level,
        parentId: parent?.id ?? null,
        rect: piece,
        ring: rectRing(lattice, piece),
        leader: level === 4 ? `${code} 网格长` : `${code} 负责人`,
        workers: level === 4 ? [`${code}-W1`, `${code}-W2`] : [],
        householdsTarget: level === 4 ? options.householdsPerGrid : null,
      };
      grids.push(grid);
      if (depth + 1 < levels.length) split(grid, piece, depth + 1);
    });
  };
  split(null, whole, 0);
  return grids;
}

const hazardKinds = [
  { kind: '加油站', weight: 3 },
  { kind: '燃气调压站', weight: 2 },
  { kind: '危化品仓库', weight: 2 },
  { kind: '建筑工地', weight: 4 },
  { kind: '液化气供应站', weight: 1 },
  { kind: '电动车集中充电点', weight: 3 },
];

const keyPlaceKinds = [
  { kind: 'school', label: '学校', weight: 25, capacity: [300, 3000] },
  { kind: 'kindergarten', label: '幼儿园', weight: 15, capacity: [80, 400] },
  { kind: 'hospital', label: '医院', weight: 6, capacity: [100, 2000] },
  { kind: 'market', label: '农贸市场', weight: 18, capacity: [200, 3000] },
  { kind: 'mall', label: '商场', weight: 10, capacity: [500, 10000] },
  { kind: 'transport_hub', label: '交通枢纽', weight: 6, capacity: [1000, 50000] },
  { kind: 'elderly_home', label: '养老院', weight: 8, capacity: [50, 500] },
  { kind: 'park', label: '公园', weight: 12, capacity: [500, 20000] },
];

/** A point inside cell (i, j), or in the cell found by `retry` when it falls in the water. */
function cellPoint(random: Random, city: Pick<City, 'lattice' | 'inWater'>, i: number, j: number, retry: () => [number, number]): Position {
  for (let tries = 0; ; tries++) {
    const at: Position = [city.lattice.lon(i + random.float(0.1, 0.9)), city.lattice.lat(j + random.float(0.1, 0.9))];
    if (!city.inWater(at) || tries === 50) return at;
    [i, j] = retry();
  }
}

function clampCell(value: number, max: number): number {
  return Math.min(max - 1, Math.max(0, Math.round(value)));
}

function generateHazards(random: Random, city: Pick<City, 'lattice' | 'inWater'>, count: number, year: number): HazardRow[] {
  const { lattice } = city;
  const anyCell = (): [number, number] => [random.int(0, lattice.nx - 1), random.int(0, lattice.ny - 1)];
  const kinds = new WeightedPicker(hazardKinds, (k) => k.weight);
  return Array.from({ length: count }, (_, index) => {
    const { kind } = kinds.pick(random);
    const inspected = new Date(Date.UTC(year, 0, 1) + random.int(0, 364) * 86_400_000);
    const due = new Date(inspected.getTime() + random.pick([90, 180, 365]) * 86_400_000);
    return {
      id: index + 1,
      name: `${random.pick(nameSyllables)}${kind}${index + 1}`,
      kind,
      riskLevel: random.float() < 0.4 ? 1 : random.float() < 0.55 ? 2 : random.float() < 0.7 ? 3 : 4,
      lastInspected: inspected.toISOString().slice(0, 10),
      nextDue: due.toISOString().slice(0, 10),
      at: cellPoint(random, city, ...anyCell(), anyCell),
    };
  });
}

/** Key places cluster around the density centres, markets and malls most tightly (they drive incident hotspots). */
function generateKeyPlaces(random: Random, city: Pick<City, 'lattice' | 'inWater' | 'centres'>, count: number): KeyPlaceRow[] {
  const { lattice, centres } = city;
  const kinds = new WeightedPicker(keyPlaceKinds, (k) => k.weight);
  const centrePicker = new WeightedPicker(centres, (c) => c.weight);
  return Array.from({ length: count }, (_, index) => {
    const kind = kinds.pick(random);
    const centre = centrePicker.pick(random);
    const spread = kind.kind === 'market' || kind.kind === 'mall' ? 0.8 : 1.5;
    const near = (): [number, number] => [
      clampCell(random.normal(centre.at[0], centre.sigmaCells * spread), lattice.nx),
      clampCell(random.normal(centre.at[1], centre.sigmaCells * spread), lattice.ny),
    ];
    return {
      id: index + 1,
      name: `${random.pick(nameSyllables)}${kind.label}${index + 1}`,
      kind: kind.kind,
      capacity: random.int(kind.capacity[0], kind.capacity[1]),
      at: cellPoint(random, city, ...near(), near),
    };
  });
}

/** The static city: roads, buildings, people, nested grids, hazards and key places. Same options, same city. */
export function generateCity(options: CityOptions): City {
  const random = new Random(options.seed);
  const lattice = new Lattice(options.bbox, options.cellMetres, roadSpacing);
  const centres = generateCentres(random, lattice, Math.max(2, Math.round((lattice.nx * lattice.ny) / 15_000)));
  const landscape = generateLandscape(random, lattice, roadSpacing);
  const roads = generateRoads(lattice, landscape);
  const buildings = generateBuildings(random, lattice, centres, landscape.blocked, options.buildings);
  const placed = { lattice, centres, inWater: landscape.inWater };
  return {
    options,
    lattice,
    roads,
    buildings,
    people: generatePeople(random, buildings, options.people),
    grids: generateGrids(lattice, buildings, options),
    hazards: generateHazards(random, placed, options.hazards, options.year),
    keyPlaces: generateKeyPlaces(random, placed, options.keyPlaces),
    landCover: landscape.landCover,
    drownedEdges: landscape.drownedEdges,
    inWater: landscape.inWater,
    centres,
  };
}

export { round7 };
