// npm run tiles:export -- [--layers grids,buildings,...] [--minzoom 0] [--maxzoom 16] --out city.pmtiles
// Writes the public tile layers (every role reads them in full) into one PMTiles v3 archive, for a CDN or a laptop.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadConfig } from '../server/config';
import { resolveDatabaseUrl } from '../server/db/connect';
import { createPool } from '../server/db/pool';
import { publicTileLayers, writeTileArchive } from '../server/tiles/archive';

const usage = `usage: npm run tiles:export -- [--layers ${publicTileLayers.map((layer) => layer.name).join(',')}] [--minzoom 0] [--maxzoom 16] --out city.pmtiles`;

const zoom = z.coerce.number().int().min(0).max(22);
const optionsSchema = z
  .object({
    layers: z.string().optional().transform((text) => (text ?? '').split(',').map((name) => name.trim()).filter(Boolean)),
    minzoom: zoom.default(0),
    maxzoom: zoom.default(16),
    out: z.string().min(1, 'name the archive to write, e.g. --out city.pmtiles'),
  })
  .refine((options) => options.minzoom <= options.maxzoom, { message: 'minzoom must not be above maxzoom', path: ['minzoom'] });

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { layers: { type: 'string' }, minzoom: { type: 'string' }, maxzoom: { type: 'string' }, out: { type: 'string' } } });
  const parsed = optionsSchema.safeParse({ ...values, out: values.out ?? '' });
  if (!parsed.success) throw new Error(`${parsed.error.issues.map((issue) => `--${issue.path.join('.')}: ${issue.message}`).join('\n')}\n${usage}`);
  const options = parsed.data;
  const config = loadConfig();
  const pool = createPool(await resolveDatabaseUrl(config), config.PG_POOL_MAX);
  try {
    const started = performance.now();
    const summary = await writeTileArchive(pool, {
      layers: options.layers,
      minZoom: options.minzoom,
      maxZoom: options.maxzoom,
      out: options.out,
      concurrency: config.PG_POOL_MAX,
      onZoom: (z, tiles) => console.log(`zoom ${z}: ${tiles} tiles`),
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`wrote ${options.out}: ${summary.layers.join(', ')}; ${summary.addressedTiles} tiles (${summary.tileContents} distinct), ${(summary.bytes / 1e6).toFixed(1)} MB in ${seconds} s`);
  } finally {
    await pool.end();
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
