import type { Bbox } from './lattice';

export interface CityOptions {
  seed: string;
  bbox: Bbox;
  cellMetres: number;
  buildings: number;
  people: number;
  hazards: number;
  keyPlaces: number;
  incidents: number;
  accidents: number;
  patrolWorkers: number;
  patrolDays: number;
  /** Demo activity happens in this calendar year (Asia/Shanghai), independent of today's date. */
  year: number;
  districts: number;
  householdsPerStreet: number;
  householdsPerCommunity: number;
  householdsPerGrid: number;
}

/** The default demo city: around Suzhou Industrial Park. */
export const demoCityOptions: CityOptions = {
  seed: 'citygrid',
  bbox: [120.6, 31.25, 120.8, 31.37],
  cellMetres: 50,
  buildings: 20_000,
  people: 60_000,
  hazards: 300,
  keyPlaces: 400,
  incidents: 200_000,
  accidents: 20_000,
  patrolWorkers: 50,
  patrolDays: 7,
  year: 2025,
  districts: 4,
  householdsPerStreet: 15_000,
  householdsPerCommunity: 3_000,
  householdsPerGrid: 250,
};

/** A small city with the same structure, for tests: seconds to build, every level present. */
export const testCityOptions: CityOptions = {
  ...demoCityOptions,
  seed: 'citygrid-test',
  bbox: [120.7, 31.3, 120.74, 31.33],
  // Enough households for 50 level-4 grids around the lake and parks (tests pick grids by rank).
  buildings: 2_200,
  people: 6_000,
  hazards: 30,
  keyPlaces: 40,
  incidents: 5_000,
  accidents: 1_000,
  patrolWorkers: 5,
  patrolDays: 2,
  districts: 2,
  householdsPerStreet: 4_000,
  householdsPerCommunity: 2_000,
};
