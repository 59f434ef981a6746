/**
 * The OGC API collections, derived from the layer catalogue (through the layer and tile views of it): the one
 * module that knows where the collections come from. People are
 * never a collection: personal data is not served to GIS clients.
 */
import { z } from 'zod';
import type { Role } from '../auth/roles';
import { listGridsQuery } from '../grids/schemas';
import { tableAs } from '../db/identifiers';
import { servedDecimals } from '../grids/sql';
import type { Catalogue } from '../catalogue/catalogue';
import { featureLayersOf } from '../layers/registry';
import { type TileLayer, tileLayersOf } from '../tiles/registry';
import { type FeatureEditor, gridEditor, layerEditor } from './editing';
import { gridVersionSql, layerVersionSql, readOnlyVersionSql } from './sql';

export interface OgcCollection {
  id: string;
  title: string;
  description: string;
  /** Roles that see the collection at all; to every other role it does not exist (404). */
  read: readonly Role[];
  /** FROM clause (trusted SQL of the registries), with the row alias used by the expressions below. */
  from: string;
  where?: string;
  idSql: string;
  /** WGS84 geometry expression. */
  geometry: string;
  geometryType: 'MultiPolygon' | 'Point' | 'LineString';
  /** Coordinate decimals in degrees, when not the default (grids are served as the grid API serves them). */
  decimals?: number;
  /** Output property name → SQL expression. */
  properties: Record<string, string>;
  /** Properties a list may be narrowed to by equality (?kind=school), with their query-string schemas. */
  filters: Record<string, z.ZodType>;
  /** The instant `datetime` compares with. */
  temporal?: string;
  /** SQL of the row's level-4 grid: a grid worker sees only rows of their grids. */
  grid?: string;
  /** SQL of the worker whose trace the row is: a grid worker sees only their own rows (catalogue `owner`). */
  owner?: string;
  /** SQL of the row's entity tag (ETag). */
  version: string;
  /** Absent: read-only. */
  editor?: FeatureEditor;
  /** Where a read-only collection's rows are changed instead, for the 405 answer. */
  changedElsewhere?: string;
}

const chineseTitles: Record<string, string> = {
  buildings: '房屋',
  hazards: '隐患点',
  key_places: '重点场所',
  incidents: '事件',
  accidents: '交通事故',
  roads: '道路',
  patrol_tracks: '巡查轨迹',
};

/** A tile layer of the catalogue by name (collections describe themselves as the tile layers do). */
type TileLayerLookup = (name: string) => TileLayer;

function tileLayerLookup(catalogue: Catalogue): TileLayerLookup {
  const byName = tileLayersOf(catalogue);
  return (name) => {
    const layer = byName.get(name);
    if (!layer) throw new Error(`tile registry has no layer ${name}`);
    return layer;
  };
}

/** Grids, one collection per level, with the grid API's property names; written through the grid service. */
function gridCollections(catalogue: Catalogue, tileLayer: TileLayerLookup): OgcCollection[] {
  const tiles = tileLayer('grids');
  return [1, 2, 3, 4].map((level) => ({
    id: `grids_level_${level}`,
    title: `网格（${level}级） · Grids, level ${level}`,
    description: `Grid polygons of level ${level} (1 = district … 4 = the grids workers serve); version is the ETag`,
    read: tiles.access,
    from: 'grids t',
    where: `t.level = ${level}`,
    idSql: 't.id',
    geometry: 't.geom',
    geometryType: 'MultiPolygon',
    decimals: servedDecimals,
    properties: {
      code: 't.code',
      name: 't.name',
      level: 't.level',
      parentId: 't.parent_id',
      leader: 't.leader',
      workers: 't.workers',
      householdsTarget: 't.households_target',
      version: 't.version',
      areaM2: 'round(ST_Area(t.geom::geography)::numeric, 1)',
    },
    filters: { code: z.string().min(1).max(64), parentId: listGridsQuery.shape.parent },
    version: gridVersionSql('t'),
    editor: gridEditor(level, ['admin', 'planner'], catalogue.gridMembers),
  }));
}

/** The layers of the layer registry with a geometry of their own, written through the layer service. */
function layerCollections(catalogue: Catalogue, tileLayer: TileLayerLookup): OgcCollection[] {
  return featureLayersOf(catalogue)
    .filter((layer) => layer.geometry && !layer.personal)
    .map((layer) => ({
      id: layer.name,
      title: `${chineseTitles[layer.name] ?? layer.name} · ${layer.name.replace('_', ' ')}`,
      description: tileLayer(layer.name).description,
      read: layer.read,
      from: tableAs(layer.table, 't'),
      idSql: 't.id',
      geometry: 't.geom',
      geometryType: layer.geometry!,
      properties: Object.fromEntries([...layer.columns, 'grid_id'].map((column) => [column, `t.${column}`])),
      filters: layer.filters,
      grid: 't.grid_id',
      version: layerVersionSql('t'),
      editor: layerEditor(layer),
    }));
}

/**
 * Read-only layers, as the tile registry serves them at full detail (its last zoom band): the same attributes,
 * roles and grid scope. Incidents change through their workflow (/api/incidents), not as features.
 */
function tileCollection(
  tileLayer: TileLayerLookup,
  name: string,
  options: { geometryType: OgcCollection['geometryType']; temporal?: string; where?: string; filters?: string[]; changedElsewhere?: string },
): OgcCollection {
  const layer = tileLayer(name);
  const source = layer.sources[layer.sources.length - 1];
  const alias = source.id.split('.')[0];
  return {
    id: name,
    title: `${chineseTitles[name] ?? name} · ${name.replace('_', ' ')}`,
    description: layer.description.replace(/ \(from z\d+\)|: counts per level-4 grid.*$/, ''),
    read: layer.access,
    from: source.from,
    where: options.where,
    idSql: source.id,
    geometry: `${alias}.geom`,
    geometryType: options.geometryType,
    properties: Object.fromEntries(Object.entries(source.attributes).map(([field, attribute]) => [field, attribute.sql])),
    filters: Object.fromEntries((options.filters ?? []).map((filter) => [filter, layer.filters[filter].schema])),
    temporal: options.temporal,
    grid: source.grid,
    owner: source.owner,
    version: readOnlyVersionSql(alias),
    changedElsewhere: options.changedElsewhere,
  };
}

/** The collections of a catalogue: its grids per level, its feature layers, and the read-only layers. */
export function ogcCollections(catalogue: Catalogue): readonly OgcCollection[] {
  const tileLayer = tileLayerLookup(catalogue);
  return [
    ...gridCollections(catalogue, tileLayer),
    ...layerCollections(catalogue, tileLayer),
    // An imported report at a placeholder point (sql/130) has no real location: not a feature to map.
    tileCollection(tileLayer, 'incidents', {
      geometryType: 'Point',
      temporal: 't.reported_at',
      where: 'NOT t.location_placeholder',
      filters: ['category', 'status'],
      changedElsewhere: 'incidents change through their workflow, /api/incidents',
    }),
    tileCollection(tileLayer, 'accidents', { geometryType: 'Point', temporal: 't.occurred_at' }),
    tileCollection(tileLayer, 'roads', { geometryType: 'LineString' }),
    tileCollection(tileLayer, 'patrol_tracks', { geometryType: 'LineString', temporal: 't.started_at' }),
  ];
}

/** The collections this role may read, in catalogue order. */
export function readableCollections(collections: readonly OgcCollection[], role: Role): OgcCollection[] {
  return collections.filter((collection) => collection.read.includes(role));
}
