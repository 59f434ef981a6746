import type { z } from 'zod';
import { type Role, allRoles } from '../auth/roles';
import { wholeNumber } from '../http/request-schemas';
import {
  buildingGeometry,
  buildingProperties,
  hazardProperties,
  keyPlaceProperties,
  personProperties,
  placeGeometry,
} from './schemas';

export type LayerName = 'buildings' | 'people' | 'hazards' | 'key_places';

/** Everything the generic layer service and routes need to know about one table. */
export interface LayerDefinition {
  name: LayerName;
  table: LayerName;
  /** Stored geometry type; null for people, who live in a building. */
  geometry: 'MultiPolygon' | 'Point' | null;
  geometrySchema: z.ZodType | null;
  properties: z.ZodObject;
  /** Attribute columns in output and CSV order (the keys of `properties`). */
  columns: readonly string[];
  /** Personal data: readable and writable only by admin and by grid workers of the row's grid. */
  personal: boolean;
  read: readonly Role[];
  write: readonly Role[];
  /** Attribute columns a list may be narrowed to by equality (`?kind=school`), with their query-string schemas. */
  filters: Record<string, z.ZodType>;
}

function columnsOf(properties: z.ZodObject): string[] {
  return Object.keys(properties.shape);
}

function layer(definition: Omit<LayerDefinition, 'columns' | 'table'>): LayerDefinition {
  return { ...definition, table: definition.name, columns: columnsOf(definition.properties) };
}

const editors: readonly Role[] = ['admin', 'planner'];
const personalDataRoles: readonly Role[] = ['admin', 'grid_worker'];

export const layers: readonly LayerDefinition[] = [
  layer({
    name: 'buildings',
    geometry: 'MultiPolygon',
    geometrySchema: buildingGeometry,
    properties: buildingProperties,
    personal: false,
    read: allRoles,
    write: editors,
    filters: { use: buildingProperties.shape.use.unwrap(), floors: wholeNumber({ min: 1, max: 200 }) },
  }),
  layer({
    name: 'people',
    geometry: null,
    geometrySchema: null,
    properties: personProperties,
    personal: true,
    read: personalDataRoles,
    write: personalDataRoles,
    filters: { category: personProperties.shape.category, building_id: wholeNumber({ min: 1 }) },
  }),
  layer({
    name: 'hazards',
    geometry: 'Point',
    geometrySchema: placeGeometry,
    properties: hazardProperties,
    personal: false,
    read: allRoles,
    write: editors,
    filters: { kind: hazardProperties.shape.kind, risk_level: wholeNumber({ min: 1, max: 4 }) },
  }),
  layer({
    name: 'key_places',
    geometry: 'Point',
    geometrySchema: placeGeometry,
    properties: keyPlaceProperties,
    personal: false,
    read: allRoles,
    write: editors,
    filters: { kind: keyPlaceProperties.shape.kind },
  }),
];

/**
 * SQL for the point that places a row in a grid: a point surely inside a building's footprint (the centroid may
 * fall outside an L-shaped one), or the point itself. `geom` is a trusted SQL expression.
 */
export function anchorExpression(definition: LayerDefinition, geom: string): string {
  return definition.geometry === 'MultiPolygon' ? `ST_PointOnSurface(${geom})` : geom;
}

/** SQL for a row's grid: the level-4 grid holding its anchor point (grid_at, sql/004). */
export function gridExpression(definition: LayerDefinition, geom: string): string {
  return `grid_at(${anchorExpression(definition, geom)})`;
}

/** Whole-layer reads and writes of personal data cannot be scoped row by row cheaply: they are for admins. */
export function bulkAccess(layer: LayerDefinition, roles: readonly Role[]): readonly Role[] {
  return layer.personal ? ['admin'] : roles;
}
