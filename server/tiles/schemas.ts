import { z } from 'zod';
import { bboxAnswer } from '../geo/schemas';
import { wholeNumber } from '../http/request-schemas';
import type { TileLayers } from './service';

/** The layer path segment; the names the catalogue holds are listed in the OpenAPI document. */
function layerName(layers: TileLayers) {
  return z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,39}$/, 'a layer name such as buildings')
    .openapi({ description: `A tile layer: ${[...layers.keys()].join(', ')}`, example: 'buildings' });
}

export function tileParams(layers: TileLayers) {
  return z
    .object({
      layer: layerName(layers),
      z: wholeNumber({ min: 0, max: 22 }),
      x: wholeNumber({ min: 0 }),
      y: wholeNumber({ min: 0 }),
    })
    .strict();
}

export type TileParams = z.infer<ReturnType<typeof tileParams>>;

export function layerParams(layers: TileLayers) {
  return z.object({ layer: layerName(layers) }).strict();
}

// Web maps cannot always send headers for tile requests, so the token may come as a query parameter.
const accessToken = { access_token: z.string().optional() };

/**
 * Every layer's filters, each optional; the service rejects a filter the requested layer does not have. The
 * catalogue checks that a filter name means the same thing on every layer.
 */
export function tileFilterQuery(layers: TileLayers) {
  const shape: Record<string, z.ZodType> = {};
  for (const layer of layers.values()) {
    for (const [name, filter] of Object.entries(layer.filters)) shape[name] ??= filter.schema.optional();
  }
  return z.object({ ...accessToken, ...shape }).strict();
}

export const tokenOnlyQuery = z.object(accessToken).strict();

// Answers.
export const tileLayersAnswer = z.object({
  layers: z.array(
    z.object({
      name: z.string(),
      title: z.object({ zh: z.string(), en: z.string() }),
      description: z.string(),
      geometryType: z.string(),
      minzoom: z.number().int(),
      maxzoom: z.number().int(),
      filters: z.record(z.string(), z.string()),
      style: z
        .object({ kind: z.enum(['fill', 'line', 'circle']), color: z.string(), order: z.number().int() })
        .optional()
        .openapi({ description: 'How the city map draws the layer by default (bottom order 0); absent: not on the city map' }),
      tilejson: z.string(),
    }),
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
