import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';

const compressible = /\.(js|mjs|css|html|svg|json|wasm|txt)$/;

/**
 * Writes a .br and a .gz next to every text asset of the build, at the highest levels (time spent once, at build),
 * so the server sends them as they are (server/web/static.ts) and never compresses per request. Two calls to
 * node:zlib; no plugin dependency needed for that.
 */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'citygrid-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    writeBundle(_options, bundle) {
      for (const file of Object.keys(bundle).filter((name) => compressible.test(name))) {
        const full = path.join(outDir, file);
        const content = fs.readFileSync(full);
        if (content.length < 1024) continue;
        fs.writeFileSync(`${full}.gz`, zlib.gzipSync(content, { level: 9 }));
        fs.writeFileSync(`${full}.br`, zlib.brotliCompressSync(content, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: content.length } }));
      }
    },
  };
}

// Built into web/dist, which the Koa server serves (every screen path answers index.html). In `npm run web:dev`,
// API calls go to the server.
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [precompress()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 4000 },
  server: { proxy: { '/api': 'http://127.0.0.1:8080', '/tiles': 'http://127.0.0.1:8080', '/health': 'http://127.0.0.1:8080' } },
});
