// The layers of the feature API (/api/layers/<name>), derived from the layer catalogue.
import { z } from 'zod';
import type { Role } from '../auth/roles';
import { attributeFields } from '../catalogue/attributes';
import type { Catalogue } from '../catalogue/catalogue';
import type { CatalogueLayer, GridPlacement } from '../catalogue/types';
import { areaGeometry, pointGeometry } from '../geo/schemas';
import { wholeNumber } from '../http/request-schemas';

/** Everything the generic layer service and routes need to know about one table. */
export interface LayerDefinition {
  name: string;
  table: string;
  /** Stored geometry type; null for people, who live in a building. */
  geometry: 'MultiPolygon' | 'Point' | null;
  geometrySchema: z.ZodType | null;
  properties: z.ZodObject;
  /** Attribute columns in output and CSV order (the keys of `properties`). */
  columns: readonly string[];
  /** Columns holding numbers: a CSV cell there is read as a number for the schema to check. */
  numericColumns: ReadonlySet<string>;
  /** How a row's grid follows from its geometry (point or point-on-surface). */
  placement: GridPlacement | null;
  /** Personal data: readable and writable only by admin and by grid workers of the row's grid. */
  personal: boolean;
  read: readonly Role[];
  write: readonly Role[];
  /** Attribute columns a list may be narrowed to by equality (`?kind=school`), with their query-string schemas. */
  filters: Record<string, z.ZodType>;
}

function unwrapped(schema: z.ZodType): z.ZodType {
  let inner = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodNullable) inner = inner.unwrap() as z.ZodType;
  return inner;
}

/** Query strings are text: whole numbers are read from digits within the attribute's own bounds. */
function listFilters(layer: CatalogueLayer): Record<string, z.ZodType> {
  const fields = new Map(attributeFields(layer.attributes).map((field) => [field.name, field]));
  return Object.fromEntries(
    (layer.features?.listFilters ?? []).map((name) => {
      const { type, schema } = fields.get(name)!;
      if (type !== 'integer') return [name, unwrapped(layer.attributes.shape[name] as z.ZodType)];
      const min = typeof schema.minimum === 'number' ? schema.minimum : typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + 1 : undefined;
      const max = typeof schema.maximum === 'number' && schema.maximum < Number.MAX_SAFE_INTEGER ? schema.maximum : undefined;
      return [name, wholeNumber({ min, max })];
    }),
  );
}

function definitionOf(layer: CatalogueLayer): LayerDefinition {
  const geometry = (layer.geometry?.type ?? null) as LayerDefinition['geometry'];
  const fields = attributeFields(layer.attributes);
  return {
    name: layer.name,
    table: layer.table!,
    geometry,
    geometrySchema: geometry === 'MultiPolygon' ? areaGeometry : geometry === 'Point' ? pointGeometry : null,
    properties: layer.attributes,
    columns: fields.map((field) => field.name),
    numericColumns: new Set(fields.filter((field) => field.type === 'integer' || field.type === 'number').map((field) => field.name)),
    placement: layer.grid ?? null,
    personal: layer.personal === true,
    read: layer.read,
    write: layer.features!.write,
    filters: listFilters(layer),
  };
}

/** The catalogue's layers that the feature API serves, in catalogue order. */
export function featureLayersOf(catalogue: Catalogue): LayerDefinition[] {
  return catalogue.layers.filter((layer) => layer.features).map(definitionOf);
}

/**
 * SQL for the point that places a row in a grid: a point surely inside a building's footprint (the centroid may
 * fall outside an L-shaped one), or the point itself. `geom` is a trusted SQL expression.
 */
export function anchorExpression(definition: LayerDefinition, geom: string): string {
  return definition.placement === 'point-on-surface' ? `ST_PointOnSurface(${geom})` : geom;
}

/** SQL for a row's grid: the level-4 grid holding its anchor point (grid_at, sql/004). */
export function gridExpression(definition: LayerDefinition, geom: string): string {
  return `grid_at(${anchorExpression(definition, geom)})`;
}

/** Whole-layer reads and writes of personal data cannot be scoped row by row cheaply: they are for admins. */
export function bulkAccess(layer: LayerDefinition, roles: readonly Role[]): readonly Role[] {
  return layer.personal ? ['admin'] : roles;
}
