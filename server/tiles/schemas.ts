import { z } from 'zod';
import { tileLayers } from './registry';

const layerName = z.string().regex(/^[a-z_]{1,40}$/, 'a layer name such as buildings');

export const tileParams = z
  .object({
    layer: layerName,
    z: z.coerce.number().int().min(0).max(22),
    x: z.coerce.number().int().min(0),
    y: z.coerce.number().int().min(0),
  })
  .strict();

export const layerParams = z.object({ layer: layerName }).strict();

// Web maps cannot always send headers for tile requests, so the token may come as a query parameter.
const accessToken = { access_token: z.string().optional() };

/** Every layer's filters, each optional; the service rejects a filter the requested layer does not have. */
export const tileFilterQuery = z
  .object({
    ...accessToken,
    ...Object.fromEntries(tileLayers.flatMap((layer) => Object.entries(layer.filters).map(([name, f]) => [name, f.schema.optional()]))),
  })
  .strict();

export const tokenOnlyQuery = z.object(accessToken).strict();
