import { z } from 'zod';
import type { AppDeps } from '../deps';
import { cityExtentOf } from '../geo/extent';
import { idParam, jsonAnswer, versionedAnswer } from '../http/request-schemas';
import { featureCollection, featureAnswer, featureCollectionAnswer } from '../geo/schemas';
import { answerVersioned, ifMatchVersion } from '../http/conditional';
import { defineRoute, type RouteDefinition } from '../http/route';
import { type LayerDefinition, bulkAccess, featureLayersOf } from './registry';
import { disconnectWhenStalled } from '../http/stalled-clients';
import { exportFormats, exportLayer } from './export';
import { importFeatures } from './import';
import { createBody, exportQuery, importQuery, listQueryOf, updateBody, importReportAnswer } from './schemas';
import { createFeature, deleteFeature, getFeature, listFeatures, updateFeature } from './service';

/** One 200 answer per export format, each a file download. */
const exportResponses = {
  200: {
    description: 'The whole layer as a file (Content-Disposition: attachment) in the format asked for',
    schema: z.string().openapi({ format: 'binary' }),
    contentType: Object.values(exportFormats).map((format) => format.contentType),
  },
};

/** key_places → KeyPlaces: the layer's part of its operationIds (importKeyPlaces, getKeyPlacesFeature). */
function pascalCase(name: string): string {
  return name.replace(/(^|_)([a-z])/g, (_, _separator, letter: string) => letter.toUpperCase());
}

/** Import and export come before /:id so that their names are not read as ids. */
function bulkRoutes({ heavy, config, log }: AppDeps, layer: LayerDefinition): RouteDefinition[] {
  const base = `/api/layers/${layer.name}`;
  const pascal = pascalCase(layer.name);
  return [
    defineRoute({
      method: 'post',
      path: `${base}/import`,
      operationId: `import${pascal}`,
      responses: jsonAnswer(importReportAnswer, 'Imported (or checked, with dryRun)'),
      summary: `Imports ${layer.name} from CSV (wkt, or lon/lat columns) or a GeoJSON FeatureCollection, all or nothing, with a per-row error report`,
      tag: 'layers',
      access: bulkAccess(layer, layer.write),
      query: importQuery,
      rawBody: true,
      async handler(ctx, { query, writer }) {
        const format = query.format ?? (ctx.is('text/csv') ? 'csv' : 'geojson');
        ctx.body = await heavy.run('import', (pool) => {
          disconnectWhenStalled(ctx, config.CLIENT_STALL_TIMEOUT_S, log, { uploadOnly: true });
          return importFeatures(pool, layer, ctx.req, { format, dryRun: query.dryRun, city: cityExtentOf(config) }, writer);
        });
      },
    }),
    defineRoute({
      method: 'get',
      path: `${base}/export`,
      operationId: `export${pascal}`,
      summary: `The whole ${layer.name} layer as GeoJSON, CSV, GeoPackage or FlatGeobuf, streamed; the columns are the importable ones`,
      tag: 'layers',
      access: bulkAccess(layer, layer.read),
      query: exportQuery,
      responses: exportResponses,
      async handler(ctx, { query }) {
        const stream = await exportLayer(heavy, layer, query.format);
        disconnectWhenStalled(ctx, config.CLIENT_STALL_TIMEOUT_S, log);
        const { contentType, extension } = exportFormats[query.format];
        ctx.type = contentType;
        ctx.attachment(`${layer.name}.${extension}`);
        ctx.body = stream;
      },
    }),
  ];
}

/** The same five routes for every layer of the feature API (catalogue: `features`), each with that layer's own schemas and roles. */
function crudRoutes({ pool, config }: AppDeps, layer: LayerDefinition): RouteDefinition[] {
  const city = cityExtentOf(config);
  const base = `/api/layers/${layer.name}`;
  const pascal = pascalCase(layer.name);
  const tag = 'layers';
  return [
    defineRoute({
      method: 'get',
      path: base,
      operationId: `list${pascal}`,
      responses: jsonAnswer(featureCollectionAnswer()),
      summary: `${layer.name} as a GeoJSON FeatureCollection, paginated by id; narrowed by bbox, grid or ${Object.keys(layer.filters).join(', ')}`,
      tag,
      access: layer.read,
      query: listQueryOf(layer.filters),
      async handler(ctx, { query, actor }) {
        const page = await listFeatures(pool, layer, query, actor);
        ctx.body = featureCollection(page.features, { nextCursor: page.nextCursor });
      },
    }),
    defineRoute({
      method: 'get',
      path: `${base}/:id`,
      operationId: `get${pascal}Feature`,
      responses: versionedAnswer(featureAnswer()),
      summary: `One of ${layer.name} as a GeoJSON Feature`,
      tag,
      access: layer.read,
      params: idParam,
      async handler(ctx, { params, actor }) {
        const { feature, version } = await getFeature(pool, layer, params.id, actor);
        answerVersioned(ctx, feature, version);
      },
    }),
    defineRoute({
      method: 'post',
      path: base,
      operationId: `create${pascal}Feature`,
      responses: jsonAnswer(featureAnswer(), 'Created', 201),
      summary: `Creates one of ${layer.name}; its grid is assigned from its location`,
      tag,
      access: layer.write,
      idempotent: true,
      body: createBody(layer.properties, layer.geometrySchema),
      async handler(ctx, { body, writer }) {
        const { feature, version } = await createFeature(pool, layer, body, writer, city);
        answerVersioned(ctx, feature, version, 201);
      },
    }),
    defineRoute({
      method: 'patch',
      path: `${base}/:id`,
      operationId: `update${pascal}Feature`,
      responses: jsonAnswer(featureAnswer()),
      summary: `Changes some properties and/or the geometry of one of ${layer.name}`,
      tag,
      access: layer.write,
      params: idParam,
      body: updateBody(layer.properties, layer.geometrySchema),
      async handler(ctx, { params, body, writer }) {
        const { feature, version } = await updateFeature(pool, layer, params.id, body, writer, city, { expectedVersion: ifMatchVersion(ctx) });
        answerVersioned(ctx, feature, version);
      },
    }),
    defineRoute({
      method: 'delete',
      path: `${base}/:id`,
      operationId: `delete${pascal}Feature`,
      responses: { 204: { description: 'Deleted' } },
      summary: `Deletes one of ${layer.name}`,
      tag,
      access: layer.write,
      params: idParam,
      async handler(ctx, { params, writer }) {
        await deleteFeature(pool, layer, params.id, writer, { expectedVersion: ifMatchVersion(ctx) });
        ctx.status = 204;
      },
    }),
  ];
}

export function layerRoutes(deps: AppDeps): RouteDefinition[] {
  return featureLayersOf(deps.catalogue).flatMap((layer) => [...bulkRoutes(deps, layer), ...crudRoutes(deps, layer)]);
}
