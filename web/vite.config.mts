import { defineConfig } from 'vite';

// Built into web/dist, which the Koa server serves at /. In `npm run web:dev`, API calls go to the server.
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 4000 },
  server: { proxy: { '/api': 'http://127.0.0.1:8080', '/tiles': 'http://127.0.0.1:8080', '/health': 'http://127.0.0.1:8080' } },
});
