import { attributeFields } from './attributes';
import type { CatalogueLayer, GridPlacement } from './types';

/** A table whose rows belong to level-4 grids, and the rule that places them. */
export interface GridMemberTable {
  /** The layer's name, as change events name it. */
  layer: string;
  table: string;
  placement: GridPlacement;
}

export interface Catalogue {
  readonly layers: readonly CatalogueLayer[];
  layer(name: string): CatalogueLayer | undefined;
  readonly gridMembers: readonly GridMemberTable[];
  /** This catalogue with more layers (a city's own, or a test's). */
  with(...layers: CatalogueLayer[]): Catalogue;
}

/** Geometry types the feature API writes: areas stored as MultiPolygon, places as Point. */
const writableGeometries = new Set(['Point', 'MultiPolygon']);

function problems(layer: CatalogueLayer): string[] {
  const found: string[] = [];
  const fields = new Map(attributeFields(layer.attributes).map((field) => [field.name, field]));
  const known = (name: string) => fields.has(name) || (name === 'grid_id' && layer.grid !== undefined) || layer.tiles?.expressions?.[name] !== undefined;
  if (!/^[a-z][a-z0-9_]{0,39}$/.test(layer.name)) found.push('its name must be lower-case letters, digits and _ (a URL segment)');
  if (layer.temporal && !['date', 'date-time'].includes(fields.get(layer.temporal)?.type ?? '')) found.push(`temporal ${layer.temporal} is not a date or date-time attribute`);
  if (layer.grid && !layer.geometry) found.push('grid membership needs a geometry');
  if (layer.owner && fields.get(layer.owner)?.type !== 'string') found.push(`owner ${layer.owner} is not a text attribute`);
  for (const name of layer.features?.listFilters ?? []) if (!fields.has(name)) found.push(`list filter ${name} is not an attribute`);
  if (layer.features && layer.geometry && !writableGeometries.has(layer.geometry.type)) found.push(`the feature API writes Point or MultiPolygon layers, not ${layer.geometry.type}`);
  if (layer.features && layer.geometry && layer.grid === 'longest-stretch') found.push('the feature API places rows by a point');
  if (layer.features && !layer.table) found.push('the feature API needs a table');
  const tiles = layer.tiles;
  if (!tiles) return found;
  for (const name of tiles.fields) if (!known(name)) found.push(`tile field ${name} is neither an attribute nor an expression`);
  if (tiles.computed && !tiles.boundsTable) found.push('a computed layer names its boundsTable');
  if (!tiles.computed && !(layer.table && layer.geometry?.tileColumn)) found.push('tiles are drawn from a table with an EPSG:3857 tileColumn');
  if (tiles.bands.length === 0) found.push('tiles need at least one zoom band');
  return found;
}

/** One query schema serves every layer's tiles, so a filter name must mean the same thing on each. */
function filterTypeProblems(layers: readonly CatalogueLayer[]): string[] {
  const types = new Map<string, string>();
  const found: string[] = [];
  for (const layer of layers) {
    for (const [name, filter] of Object.entries(layer.tiles?.filters ?? {})) {
      if (types.has(name) && types.get(name) !== filter.sqlType) found.push(`tile filter ${name} of ${layer.name} is declared with another type elsewhere`);
      types.set(name, filter.sqlType);
    }
  }
  return found;
}

/** Checks the layers once, at start-up: a mistake in a declaration stops the server with its reason. */
export function createCatalogue(layers: readonly CatalogueLayer[]): Catalogue {
  const found = layers.flatMap((layer) => problems(layer).map((problem) => `layer ${layer.name}: ${problem}`));
  const names = layers.map((layer) => layer.name);
  found.push(...names.filter((name, index) => names.indexOf(name) !== index).map((name) => `layer ${name} is declared twice`));
  found.push(...filterTypeProblems(layers));
  if (found.length > 0) throw new Error(`The layer catalogue is inconsistent:\n${found.join('\n')}`);
  const byName = new Map(layers.map((layer) => [layer.name, layer]));
  return {
    layers,
    layer: (name) => byName.get(name),
    gridMembers: layers.flatMap((layer) => (layer.grid && layer.table ? [{ layer: layer.name, table: layer.table, placement: layer.grid }] : [])),
    with: (...more) => createCatalogue([...layers, ...more]),
  };
}
