/**
 * The hostile inputs of the bad-input sweep (bad-input.test.ts): what a caller may put in a path or query
 * parameter, a JSON body or a geometry. Each is already in its wire form (URL-encoded text, raw JSON text) so the
 * sweep sends exactly these bytes.
 */

export interface ParameterInput {
  label: string;
  /** URL-encoded, as it goes into the path or query string. */
  encoded: string;
}

const text = (label: string, value: string): ParameterInput => ({ label, encoded: encodeURIComponent(value) });

/** For every path and query parameter. */
export const parameterInputs: ParameterInput[] = [
  text('sql: stacked statement', '1;DROP TABLE grids'),
  text('sql: tautology', "' OR '1'='1"),
  text('sql: union', '1 UNION SELECT null,version()--'),
  text('sql: comment and cast', "1'::int--"),
  { label: 'NUL byte', encoded: '%00' },
  { label: 'NUL after a number', encoded: '1%00' },
  { label: 'malformed percent-encoding', encoded: '%E0%A4%A' },
  text('very long text', 'x'.repeat(5000)),
  text('very long number', '9'.repeat(400)),
  text('negative', '-1'),
  text('zero', '0'),
  text('beyond int4', '2147483648'),
  text('overflowing float', '1e309'),
  text('NaN', 'NaN'),
  text('Infinity', 'Infinity'),
  text('fraction', '1.5'),
  text('hex', '0x10'),
  text('path traversal', '../../etc/passwd'),
  text('markup', '<script>alert(1)</script>'),
  text('JSON', '{"$gt":""}'),
  // A date-time zod took and PostgreSQL's timestamptz does not (SQLSTATE 22009 was a 500).
  text('time-zone offset beyond ±15:59', '2025-01-01T00:00:00-20:00'),
];

/** A query parameter no route documents: every query schema is strict. */
export const unknownName = '__corpus_unknown';

/** Serialised with JSON.stringify, then these strings become JSON number literals that parse to ±Infinity. */
const infinityMark = '__corpus_infinity__';
export function toJsonText(value: unknown): string {
  return JSON.stringify(value).replaceAll(`"${infinityMark}"`, '1e309').replaceAll(`"-${infinityMark}"`, '-1e309');
}

export interface BodyInput {
  label: string;
  contentType: string;
  body: string;
}

const json = (label: string, value: unknown): BodyInput => ({ label, contentType: 'application/json', body: toJsonText(value) });

/** For every route that takes a request body, whatever its schema. */
export function genericBodies(bodyLimitBytes: number): BodyInput[] {
  return [
    { label: 'malformed JSON', contentType: 'application/json', body: '{"name": ' },
    { label: 'JSON with a trailing comma', contentType: 'application/json', body: '{"name": "x",}' },
    { label: 'not JSON at all', contentType: 'application/json', body: "' OR '1'='1" },
    { label: 'wrong content type', contentType: 'text/plain', body: 'hello' },
    { label: 'multipart without a boundary', contentType: 'multipart/form-data', body: 'x' },
    { label: 'broken multipart', contentType: 'multipart/form-data; boundary=corpus', body: '--corpus\r\nContent-Disposition: form-data; name="report"\r\n\r\n{"a":' },
    { label: 'body over the limit', contentType: 'application/json', body: JSON.stringify({ pad: 'x'.repeat(bodyLimitBytes + 1024) }) },
    json('an array', []),
    json('a string', 'text'),
    json('a number', 42),
    json('null', null),
    json('true', true),
    json('an unknown field', { [unknownName]: 1 }),
    json('prototype pollution', JSON.parse('{"__proto__": {"admin": true}}')),
    { label: 'deeply nested', contentType: 'application/json', body: `${'['.repeat(5000)}${']'.repeat(5000)}` },
  ];
}

/** A value of another JSON type than the one an OpenAPI schema names (for every documented body property). */
export function wrongType(schema: { type?: string } | undefined): unknown {
  switch (schema?.type) {
    case 'string':
      return 12345;
    case 'number':
    case 'integer':
      return '1;DROP TABLE grids';
    case 'boolean':
      return 'yes';
    case 'array':
      return 'not an array';
    default:
      return [[['nested']]];
  }
}

export type GeometryType = 'Polygon' | 'MultiPolygon' | 'Point' | 'LineString';

/** Geometries every route must refuse, by the geometry type the route takes; `at` is a point inside the city. */
export function badGeometries(type: GeometryType, at: { lon: number; lat: number }): Array<{ label: string; geometry: unknown }> {
  const { lon: x, lat: y } = at;
  const d = 0.0005;
  const square = (sx: number, sy: number, side: number) => [[[sx, sy], [sx + side, sy], [sx + side, sy + side], [sx, sy + side], [sx, sy]]];
  const crs3857 = { type: 'name', properties: { name: 'urn:ogc:def:crs:EPSG::3857' } };
  if (type === 'Point') {
    return [
      { label: 'lon 200', geometry: { type, coordinates: [200, y] } },
      { label: 'lat 95', geometry: { type, coordinates: [x, 95] } },
      { label: 'EPSG:3857 metres', geometry: { type, coordinates: [13_420_000, 3_650_000] } },
      { label: 'crs member naming EPSG:3857', geometry: { type, coordinates: [x, y], crs: crs3857 } },
      { label: 'Infinity', geometry: { type, coordinates: [infinityMark, y] } },
      { label: '-Infinity in z', geometry: { type, coordinates: [x, y, `-${infinityMark}`] } },
      { label: 'NaN as a string', geometry: { type, coordinates: ['NaN', y] } },
      { label: 'one ordinate', geometry: { type, coordinates: [x] } },
      { label: 'lat 90', geometry: { type, coordinates: [x, 90] } },
      { label: 'a Z coordinate', geometry: { type, coordinates: [x, y, 12] } },
      { label: 'outside the city', geometry: { type, coordinates: [x + 5, y] } },
      { label: 'no coordinates', geometry: { type, coordinates: [] } },
      { label: 'another geometry type', geometry: { type: 'Polygon', coordinates: square(x, y, d) } },
    ];
  }
  if (type === 'LineString') {
    return [
      { label: 'lon 200', geometry: { type, coordinates: [[x, y], [200, y]] } },
      { label: 'lat 95', geometry: { type, coordinates: [[x, y], [x, 95]] } },
      { label: 'crs member naming EPSG:3857', geometry: { type, coordinates: [[x, y - d], [x, y + d]], crs: crs3857 } },
      { label: 'Infinity', geometry: { type, coordinates: [[x, y], [infinityMark, y]] } },
      { label: 'NaN as a string', geometry: { type, coordinates: [[x, y], ['NaN', y]] } },
      { label: 'one point', geometry: { type, coordinates: [[x, y]] } },
      { label: 'zero length', geometry: { type, coordinates: [[x, y], [x, y]] } },
      { label: 'another geometry type', geometry: { type: 'Point', coordinates: [x, y] } },
    ];
  }
  const polygons: Array<{ label: string; rings: unknown }> = [
    { label: 'self-intersecting (bow-tie)', rings: [[[x, y], [x + d, y + d], [x + d, y], [x, y + d], [x, y]]] },
    { label: 'unclosed ring', rings: [[[x, y], [x + d, y], [x + d, y + d], [x, y + d]]] },
    { label: 'zero-area ring', rings: [[[x, y], [x + d, y], [x + 2 * d, y], [x, y]]] },
    { label: 'hole outside the shell', rings: [...square(x, y, d), ...square(x + 2 * d, y, d / 4)] },
    { label: 'lon 200', rings: square(200, y, d) },
    { label: 'lat 95', rings: square(x, 95, d) },
    { label: 'EPSG:3857 metres', rings: square(13_420_000, 3_650_000, 100) },
    { label: 'Infinity', rings: [[[x, y], [infinityMark, y], [x + d, y + d], [x, y]]] },
    { label: 'NaN as a string', rings: [[[x, y], ['NaN', y], [x + d, y + d], [x, y]]] },
    { label: 'no rings', rings: [] },
    { label: 'the whole world', rings: [[[-180, -85], [180, -85], [180, 85], [-180, 85], [-180, -85]]] },
    { label: 'across the antimeridian', rings: [[[179.9, y], [-179.9, y], [-179.9, y + d], [179.9, y + d], [179.9, y]]] },
    { label: 'outside the city', rings: square(x + 5, y, d) },
    { label: 'a Z coordinate', rings: square(x, y, d).map((ring) => ring.map(([px, py]) => [px, py, 12])) },
  ];
  const shaped = polygons.map(({ label, rings }) => ({ label, geometry: type === 'Polygon' ? { type, coordinates: rings } : { type, coordinates: [rings] } }));
  return [
    ...shaped,
    { label: 'crs member naming EPSG:3857', geometry: { type: 'Polygon', coordinates: square(x, y, d), crs: crs3857 } },
    { label: 'another geometry type', geometry: { type: 'LineString', coordinates: [[x, y], [x + d, y]] } },
    { label: 'GeometryCollection', geometry: { type: 'GeometryCollection', geometries: [{ type: 'Polygon', coordinates: square(x, y, d) }] } },
  ];
}

/**
 * Routes that parse their body themselves (rawBody), so the generic sweep cannot reach past their parsing: their
 * own bad bodies. Open311 takes form-encoded GeoReport fields; `apiKey` is a valid reporting token. Patrol fixes
 * come as JSON or CSV; `worker` is a known worker id.
 */
export function ownBodies(route: string, context: { apiKey: string; serviceCode: string; lon: number; lat: number; worker: string }): BodyInput[] {
  if (route === 'POST /api/patrols/points') return patrolBatches(context);
  if (route !== 'POST /open311/v2/requests.json') return [];
  const valid = { service_code: context.serviceCode, lat: String(context.lat), long: String(context.lon), api_key: context.apiKey };
  const form = (label: string, fields: Record<string, string>): BodyInput => ({ label: `form: ${label}`, contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams(fields).toString() });
  return [
    form('lat 95', { ...valid, lat: '95' }),
    form('long 200', { ...valid, long: '200' }),
    form('lat NaN', { ...valid, lat: 'NaN' }),
    form('long 1e309', { ...valid, long: '1e309' }),
    form('lat empty', { ...valid, lat: '' }),
    form('service_code injection', { ...valid, service_code: "' OR '1'='1" }),
    form('service_code with NUL', { ...valid, service_code: 'a\u0000b' }),
    form('api_key injection', { ...valid, api_key: "' OR '1'='1" }),
    form('api_key with NUL', { ...valid, api_key: 'a\u0000b' }),
    form('media_url javascript:', { ...valid, media_url: 'javascript:alert(1)' }),
    form('unknown field', { ...valid, [unknownName]: '1' }),
    { label: 'form: repeated field', contentType: 'application/x-www-form-urlencoded', body: `${new URLSearchParams(valid).toString()}&lat=1&lat=2` },
    { label: 'form: malformed percent-encoding', contentType: 'application/x-www-form-urlencoded', body: `${new URLSearchParams(valid).toString()}&description=%E0%A4%A` },
    json('JSON: lat 95', { ...valid, lat: 95 }),
    json('JSON: long Infinity', { ...valid, long: infinityMark }),
    json('JSON: unknown field', { ...valid, [unknownName]: 1 }),
  ];
}

/** Batches of GPS fixes that must be refused whole (issue 17): each names its row or line. */
function patrolBatches({ worker, lon, lat }: { worker: string; lon: number; lat: number }): BodyInput[] {
  const t = Date.UTC(2024, 0, 1);
  const fix = { workerId: worker, t, lon, lat };
  const batch = (label: string, ...changes: Array<Record<string, unknown>>) => json(`fixes: ${label}`, { fixes: [fix, ...changes.map((change) => ({ ...fix, t: t + 1000, ...change }))] });
  const csv = (label: string, body: string): BodyInput => ({ label: `CSV: ${label}`, contentType: 'text/csv', body });
  const header = 'workerId,t,lon,lat,accuracy';
  return [
    batch('unknown worker', { workerId: 'NO-SUCH-WORKER' }),
    batch('another worker id with injection', { workerId: "' OR '1'='1" }),
    batch('time in the future', { t: Date.UTC(2999, 0, 1) }),
    batch('time before 2000', { t: Date.UTC(1999, 11, 31) }),
    batch('time not a date', { t: 'yesterday' }),
    batch('time with an offset beyond ±15:59', { t: '2025-01-01T00:00:00-20:00' }),
    batch('negative epoch', { t: -1 }),
    batch('lat 95', { lat: 95 }),
    batch('lon Infinity', { lon: infinityMark }),
    batch('lon as a string', { lon: String(lon) }),
    batch('negative accuracy', { accuracy: -1 }),
    batch('heading 400', { heading: 400 }),
    batch('worker id with NUL', { workerId: 'a\u0000b' }),
    batch('unknown field', { [unknownName]: 1 }),
    json('fixes: empty', { fixes: [] }),
    json('fixes: not an array', { fixes: fix }),
    json('fixes: 10,001 of them', { fixes: Array.from({ length: 10_001 }, (_, i) => ({ ...fix, t: t + i * 1000 })) }),
    csv('unterminated quote', `${header}\n${worker},${t},${lon},${lat},5\n"${worker},${t + 1000},${lon},${lat},5\n`),
    csv('unknown column', `${header},colour\n${worker},${t},${lon},${lat},5,red\n`),
    csv('missing column', `workerId,t,lon\n${worker},${t},${lon}\n`),
    csv('header only', `${header}\n`),
    csv('too few cells', `${header}\n${worker},${t},${lon}\n`),
    csv('lat not a number', `${header}\n${worker},${t},${lon},north,5\n`),
    csv('lat 95 on line 3', `${header}\n${worker},${t},${lon},${lat},5\n${worker},${t + 1000},${lon},95,5\n`),
    csv('unknown worker', `${header}\nNO-SUCH-WORKER,${t},${lon},${lat},5\n`),
    { label: 'fixes as text/plain', contentType: 'text/plain', body: `${header}\n${worker},${t},${lon},${lat},5\n` },
  ];
}

export interface QueryInput {
  label: string;
  /** Path parameters to use instead of the sweep's samples (a tile of another layer). */
  params?: Record<string, string>;
  /** Raw query string. */
  query: string;
  /** The parameter the 400 must name. */
  names: string;
}

const hotspotQueries: QueryInput[] = [
  { label: 'res below 6', query: 'res=5', names: 'res' },
  { label: 'res above 10', query: 'res=11', names: 'res' },
  { label: 'unknown source', query: 'source=buses', names: 'source' },
  { label: 'unknown category', query: `category=${encodeURIComponent('不存在的类别')}`, names: 'category' },
  { label: 'an incident category for accidents', query: `source=accidents&category=${encodeURIComponent('窨井盖')}`, names: 'category' },
  { label: 'status for accidents', query: 'source=accidents&status=closed', names: 'status' },
  { label: 'unknown status', query: 'status=lost', names: 'status' },
  { label: 'bbox outside the city', query: 'bbox=0,0,1,1', names: 'bbox' },
  { label: 'bbox with three numbers', query: 'bbox=120.7,31.3,120.8', names: 'bbox' },
  { label: 'bbox upside down', query: 'bbox=120.8,31.4,120.7,31.3', names: 'bbox' },
  { label: 'bbox and grid together', query: 'bbox=120.6,31.2,120.8,31.4&grid=1', names: 'grid' },
];
const spanQueries: QueryInput[] = [
  { label: 'from after to', query: 'from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z', names: 'from' },
  { label: 'from equal to to', query: 'from=2025-02-01T00:00:00Z&to=2025-02-01T00:00:00Z', names: 'from' },
  { label: 'span beyond the maximum', query: 'from=2023-01-01T00:00:00Z&to=2025-01-01T00:00:00Z', names: 'from' },
  { label: 'from without an offset', query: 'from=2025-01-01T00:00:00', names: 'from' },
];
const neighbourhoodQueries: QueryInput[] = [
  { label: 'k 0', query: 'k=0', names: 'k' },
  { label: 'k 4', query: 'k=4', names: 'k' },
  { label: 'fdr not a boolean', query: 'fdr=yes', names: 'fdr' },
];

/** Hostile queries of particular routes, beyond the generic parameter inputs: rules between parameters, the database's values. */
export function ownQueries(operationKey: string): QueryInput[] {
  const tile = { layer: 'hotspots', z: '12', x: '3421', y: '1672' };
  switch (operationKey) {
    case 'GET /api/hotspots':
      return [...hotspotQueries, ...spanQueries];
    case 'GET /api/hotspots/gi':
      return [...hotspotQueries, ...spanQueries, ...neighbourhoodQueries];
    case 'GET /api/hotspots/trend':
      return [
        ...hotspotQueries,
        ...neighbourhoodQueries,
        { label: 'window in weeks', query: 'window=2w', names: 'window' },
        { label: 'two windows', query: 'windows=2', names: 'windows' },
        { label: 'windows beyond the maximum span', query: 'window=30d&windows=52', names: 'windows' },
        { label: 'from (windows end at to)', query: 'from=2025-01-01T00:00:00Z', names: 'from' },
      ];
    case 'GET /tiles/{layer}/{z}/{x}/{y}.mvt':
      return [
        { label: 'hotspots res above 10', params: tile, query: 'res=11', names: 'res' },
        { label: 'hotspots k 4', params: tile, query: 'k=4', names: 'k' },
        { label: 'hotspots unknown source', params: tile, query: 'source=buses', names: 'source' },
        { label: 'hotspots from after to', params: tile, query: 'from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z', names: 'from' },
        { label: 'hotspots unknown category', params: tile, query: `category=${encodeURIComponent('不存在的类别')}`, names: 'category' },
      ];
    default:
      return [];
  }
}
