import { z } from 'zod';
import { bboxAnswer } from '../geo/schemas';
import { wholeNumber } from '../http/request-schemas';
import { tileLayers } from './registry';

const layerName = z.string().regex(/^[a-z_]{1,40}$/, 'a layer name such as buildings');

export const tileParams = z
  .object({
    layer: layerName,
    z: wholeNumber({ min: 0, max: 22 }),
    x: wholeNumber({ min: 0 }),
    y: wholeNumber({ min: 0 }),
  })
  .strict();

export const layerParams = z.object({ layer: layerName }).strict();

// Web maps cannot always send headers for tile requests, so the token may come as a query parameter.
const accessToken = { access_token: z.string().optional() };

/** Every layer's filters, each optional; the service rejects a filter the requested layer does not have. */
function allFilters(): Record<string, z.ZodType> {
  const shape: Record<string, z.ZodType> = {};
  const types = new Map<string, string>();
  for (const layer of tileLayers) {
    for (const [name, filter] of Object.entries(layer.filters)) {
      // One query schema serves every layer, so a filter name must mean the same thing on each.
      if (types.has(name) && types.get(name) !== filter.sqlType) throw new Error(`tile filter ${name} is declared with two types`);
      types.set(name, filter.sqlType);
      shape[name] ??= filter.schema.optional();
    }
  }
  return shape;
}

export const tileFilterQuery = z.object({ ...accessToken, ...allFilters() }).strict();

export const tokenOnlyQuery = z.object(accessToken).strict();

// Answers.
export const tileLayersAnswer = z.object({
  layers: z.array(
    z.object({ name: z.string(), description: z.string(), minzoom: z.number().int(), maxzoom: z.number().int(), filters: z.record(z.string(), z.string()), tilejson: z.string() }),
  ),
});

/** TileJSON 3.0.0 (https://github.com/mapbox/tilejson-spec). */
export const tileJsonAnswer = z.object({
  tilejson: z.literal('3.0.0'),
  name: z.string(),
  description: z.string(),
  tiles: z.array(z.string()),
  minzoom: z.number().int(),
  maxzoom: z.number().int(),
  bounds: bboxAnswer,
  center: z.tuple([z.number(), z.number(), z.number()]).openapi({ description: 'lon, lat, zoom' }),
  vector_layers: z.array(
    z.object({ id: z.string(), description: z.string(), minzoom: z.number().int(), maxzoom: z.number().int(), fields: z.record(z.string(), z.string()) }),
  ),
});
