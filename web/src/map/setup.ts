import { setWorkerUrl } from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import 'maplibre-gl/dist/maplibre-gl.css';

// After a Vite build maplibre cannot find its worker by itself (shared/notes/web-and-browser.md).
setWorkerUrl(workerUrl);
