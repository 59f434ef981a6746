import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../server/config';
import { useTestApp } from '../support/app';
import type { TestDatabase } from '../support/db';
import { type BodyInput, type GeometryType, badGeometries, genericBodies, ownBodies, ownQueries, parameterInputs, toJsonText, unknownName, wrongType } from './inputs';

/**
 * House rule: bad input gets a clear 4xx JSON error (problem+json: what was wrong, where) and changes nothing.
 * This sweep takes every route from the app's own OpenAPI document (so a new route is swept without editing this
 * file), sends it hostile parameters, bodies and geometries as an admin, and checks every answer and that the
 * database (and the photo directory) is the same afterwards.
 */

interface Schema {
  type?: string;
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean | number;
  exclusiveMaximum?: boolean | number;
  properties?: Record<string, Schema>;
  oneOf?: Schema[];
  anyOf?: Schema[];
  $ref?: string;
}

interface Parameter {
  in: 'path' | 'query' | 'header' | 'cookie';
  name: string;
  schema?: Schema;
}

interface Operation {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI template, e.g. /api/grids/{id} */
  path: string;
  key: string;
  pathParams: Parameter[];
  queryParams: Parameter[];
  jsonBody?: Schema;
  takesBody: boolean;
  /** The documented error content type: problem+json, or a route's own format (Open311's error array). */
  errorType: string;
}

interface Case {
  operation: Operation;
  label: string;
  url: string;
  body?: BodyInput;
  /** A value the route may take as it is: free text in a read (a category named "' OR '1'='1" matches nothing). */
  mayAccept?: boolean;
  /** Text a 400 answer must contain, so the caller learns where the problem is. */
  names?: string;
}

const problemType = 'application/problem+json';
const uploadDir = fs.mkdtempSync(path.join(os.tmpdir(), 'citygrid-corpus-'));
const bodyLimitBytes = (() => {
  const [, amount, unit] = /^(\d+)(kb|mb)$/i.exec(loadConfig({}).BODY_LIMIT)!;
  return Number(amount) * (unit.toLowerCase() === 'mb' ? 1024 * 1024 : 1024);
})();

/** Routes not swept, each with why. Keep it empty unless a route truly cannot be sent bad input. */
const skipped: Record<string, string> = {};

function operationsOf(document: { paths: Record<string, Record<string, { parameters?: Parameter[]; requestBody?: { content: Record<string, { schema: Schema }> }; responses: Record<string, { content?: Record<string, unknown> }> }>> }): Operation[] {
  const operations: Operation[] = [];
  for (const [template, methods] of Object.entries(document.paths)) {
    for (const [method, spec] of Object.entries(methods)) {
      const parameters = spec.parameters ?? [];
      const content = spec.requestBody?.content ?? {};
      const errorContent = Object.keys(spec.responses.default?.content ?? {});
      operations.push({
        method: method as Operation['method'],
        path: template,
        key: `${method.toUpperCase()} ${template}`,
        pathParams: parameters.filter((parameter) => parameter.in === 'path'),
        queryParams: parameters.filter((parameter) => parameter.in === 'query'),
        jsonBody: content['application/json']?.schema,
        // Every write takes a body, documented or not (raw uploads, Open311's form): each gets the bad bodies.
        takesBody: !['get', 'delete', 'options'].includes(method),
        errorType: errorContent[0] ?? problemType,
      });
    }
  }
  return operations;
}

/** The GeoJSON members of a body schema: name and the geometry types it takes. */
function geometryMembers(schema: Schema | undefined): Array<{ name: string; types: GeometryType[] }> {
  const members: Array<{ name: string; types: GeometryType[] }> = [];
  for (const [name, property] of Object.entries(schema?.properties ?? {})) {
    const variants = property.oneOf ?? property.anyOf ?? [property];
    const types = variants.filter((variant) => variant.properties?.coordinates).map((variant) => variant.properties!.type!.enum![0] as GeometryType);
    if (types.length) members.push({ name, types });
  }
  return members;
}

/**
 * Whether a parameter's own schema takes this value: free text, a pattern it matches, a number within bounds.
 * Such a value is not bad input to a read (a category named "' OR '1'='1" matches nothing; grid 2147483648 does
 * not exist); it may be answered 2xx or 4xx, never 5xx. Writes refuse or 404 whatever the value.
 */
function schemaAccepts(schema: Schema | undefined, encoded: string): boolean {
  let value: string;
  try {
    value = decodeURIComponent(encoded);
  } catch {
    // Malformed percent-encoding is never a value: read as raw text or U+FFFD it would match something else.
    return false;
  }
  if (schema?.type === 'string') {
    if (schema.enum) return schema.enum.includes(value);
    if (schema.format || (schema.pattern && !new RegExp(schema.pattern).test(value))) return false;
    return value.length >= (schema.minLength ?? 0) && value.length <= (schema.maxLength ?? Infinity);
  }
  if (schema?.type !== 'integer' && schema?.type !== 'number') return false;
  const number = Number(value);
  if (!/^-?\d+(\.\d+)?$/.test(value) || !Number.isFinite(number) || (schema.type === 'integer' && !Number.isInteger(number))) return false;
  const { minimum, maximum, exclusiveMinimum, exclusiveMaximum } = schema;
  if (minimum !== undefined && (exclusiveMinimum === true ? number <= minimum : number < minimum)) return false;
  if (typeof exclusiveMinimum === 'number' && number <= exclusiveMinimum) return false;
  if (maximum !== undefined && (exclusiveMaximum === true ? number >= maximum : number > maximum)) return false;
  if (typeof exclusiveMaximum === 'number' && number >= exclusiveMaximum) return false;
  return true;
}

/** Reads any answer as text; an event stream that opened is closed at once (it never ends). */
function rawText(response: IncomingMessage, callback: (error: Error | null, body: string) => void): void {
  if (String(response.headers['content-type']).startsWith('text/event-stream')) {
    response.destroy();
    callback(null, '');
    return;
  }
  response.setEncoding('utf8');
  let text = '';
  response.on('data', (chunk: string) => (text += chunk));
  response.on('end', () => callback(null, text));
}

/** Row count and a hash of every row of every table: equal before and after means nothing was written. */
async function fingerprint(db: TestDatabase): Promise<Record<string, string>> {
  const { rows: tables } = await db.pool.query<{ schema: string; name: string }>(
    `SELECT schemaname AS schema, tablename AS name FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
  );
  const prints: Record<string, string> = {};
  await Promise.all(
    tables.map(async ({ schema, name }) => {
      const table = `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}`;
      const { rows } = await db.pool.query<{ n: string; hash: string }>(`SELECT count(*) AS n, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS hash FROM ${table} t`);
      prints[`${schema}.${name}`] = `${rows[0].n} rows, ${rows[0].hash}`;
    }),
  );
  return prints;
}

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe('bad input on every route: a clear 4xx, never a 5xx, nothing changed', () => {
  const suite = useTestApp({ env: { UPLOAD_DIR: uploadDir } });
  afterAll(() => fs.rmSync(uploadDir, { recursive: true, force: true }));

  // About 4,000 requests, more with every route: 40–70 s on the shared 2-core machine, beyond jest's default minute.
  it('answers every hostile request with a 4xx error document and writes nothing', async () => {
    const { db, api } = suite;
    const document = (await api.request.get('/api').expect(200)).body;
    const operations = operationsOf(document);
    expect(operations.length).toBeGreaterThan(50);

    // Real ids, so that a request gets past "not found" to the part under test.
    const one = async <T>(sql: string) => (await db.pool.query(sql)).rows[0] as T;
    const grid = await one<{ id: number; version: number; parent_id: number; worker: string; lon: number; lat: number }>(
      `SELECT id, version, parent_id, workers[1] AS worker, ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT *, ST_PointOnSurface(geom) AS p FROM grids WHERE level = 4 ORDER BY id LIMIT 1) g`,
    );
    const incident = await one<{ id: number; category: string }>('SELECT id, category FROM incidents ORDER BY id LIMIT 1');
    const photo = await one<{ id: number } | undefined>(`SELECT id FROM incident_photos WHERE incident_id = ${Number(incident.id)} ORDER BY id LIMIT 1`);
    const serviceCode = (await api.request.get('/open311/v2/services.json').expect(200)).body[0].service_code as string;
    const layerIds: Record<string, number> = {};
    for (const layer of new Set(operations.map((operation) => /^\/api\/layers\/(\w+)\//.exec(operation.path)?.[1]).filter(Boolean) as string[])) {
      layerIds[layer] = (await one<{ id: number }>(`SELECT min(id) AS id FROM ${pg.escapeIdentifier(layer)}`)).id;
    }

    const hazard = await one<{ id: number }>('SELECT min(id) AS id FROM hazards');

    const sampleValue = (template: string, name: string): string => {
      // OGC API routes: an editable collection and one of its features.
      if (name === 'collectionId') return 'hazards';
      if (name === 'featureId') return String(hazard.id);
      const layer = /^\/api\/layers\/(\w+)\//.exec(template)?.[1];
      if (name === 'id' && layer) return String(layerIds[layer]);
      if (name === 'id' && template.startsWith('/api/grids/')) return String(grid.id);
      if (name === 'id') return String(incident.id); // incidents and Open311 requests
      if (name === 'photoId') return String(photo?.id ?? 1);
      if (name === 'name') return encodeURIComponent(incident.category);
      if (name === 'code') return encodeURIComponent(serviceCode);
      if (name === 'layer') return 'grids';
      return '0'; // tile z/x/y, and a parameter added later
    };
    const urlOf = (operation: Operation, replace: Record<string, string> = {}, query = '') =>
      operation.path.replace(/\{(\w+)\}/g, (_, name: string) => replace[name] ?? sampleValue(operation.path, name)) + (query ? `?${query}` : '');

    // A body that passes validation but for its geometry, per route that takes one.
    const feature = { type: 'Feature' };
    const validBodies: Record<string, Record<string, unknown>> = {
      'POST /api/grids': { code: 'CORPUS', name: 'corpus', level: 4, parentId: grid.parent_id },
      'PATCH /api/grids/{id}': {},
      'POST /api/grids/{id}/split': { commit: true, newCode: 'CORPUS' },
      'POST /api/layers/buildings': { ...feature, properties: {} },
      'PATCH /api/layers/buildings/{id}': feature,
      'POST /api/layers/hazards': { ...feature, properties: { name: 'corpus', kind: 'corpus', risk_level: 1 } },
      'PATCH /api/layers/hazards/{id}': feature,
      'POST /api/layers/key_places': { ...feature, properties: { name: 'corpus', kind: 'other' } },
      'PATCH /api/layers/key_places/{id}': feature,
      'POST /api/incidents': { category: incident.category, source: 'app' },
    };
    const apiKey = api.tokens.hotline;

    const cases: Case[] = [];
    const missing: string[] = [];
    for (const operation of operations) {
      if (skipped[operation.key]) continue;
      for (const parameter of operation.pathParams) {
        for (const input of parameterInputs) {
          const mayAccept = operation.method === 'get' && schemaAccepts(parameter.schema, input.encoded);
          cases.push({ operation, label: `path ${parameter.name}: ${input.label}`, url: urlOf(operation, { [parameter.name]: input.encoded }), mayAccept });
        }
      }
      for (const parameter of operation.queryParams) {
        const readOnly = operation.method === 'get';
        for (const input of parameterInputs) {
          cases.push({
            operation,
            label: `query ${parameter.name}: ${input.label}`,
            url: urlOf(operation, {}, `${parameter.name}=${input.encoded}`),
            mayAccept: readOnly && schemaAccepts(parameter.schema, input.encoded),
            names: parameter.name,
          });
        }
        cases.push({ operation, label: `query ${parameter.name}: repeated`, url: urlOf(operation, {}, `${parameter.name}=1&${parameter.name}=2`), names: parameter.name });
      }
      for (const own of ownQueries(operation.key)) cases.push({ operation, label: `query: ${own.label}`, url: urlOf(operation, own.params, own.query), names: own.names });
      // Every documented query schema is strict: a name it does not know is refused, not ignored.
      if (operation.queryParams.length) cases.push({ operation, label: 'unknown query parameter', url: urlOf(operation, {}, `${unknownName}=1`), names: unknownName });
      if (!operation.takesBody) continue;
      const url = urlOf(operation);
      for (const body of genericBodies(bodyLimitBytes)) cases.push({ operation, label: `body: ${body.label}`, url, body, names: body.label === 'an unknown field' && operation.jsonBody ? unknownName : undefined });
      for (const body of ownBodies(operation.key, { apiKey, serviceCode, lon: grid.lon, lat: grid.lat, worker: grid.worker })) cases.push({ operation, label: `body: ${body.label}`, url, body });
      const properties = Object.entries(operation.jsonBody?.properties ?? {});
      if (properties.length) {
        const wrong = Object.fromEntries(properties.map(([name, schema]) => [name, wrongType(schema)]));
        cases.push({ operation, label: 'body: every field of a wrong type', url, body: { label: 'wrong types', contentType: 'application/json', body: toJsonText(wrong) } });
      }
      const geometries = geometryMembers(operation.jsonBody);
      if (geometries.length && !validBodies[operation.key]) missing.push(operation.key);
      for (const { name, types } of geometries) {
        const base = validBodies[operation.key] ?? {};
        for (const type of types) {
          for (const { label, geometry } of badGeometries(type, grid)) {
            const body = { label: `${name} ${type}: ${label}`, contentType: 'application/json', body: toJsonText({ ...base, [name]: geometry }) };
            cases.push({ operation, label: `geometry ${body.label}`, url, body });
          }
        }
        const good = { type: types[0], coordinates: types[0] === 'Point' ? [grid.lon, grid.lat] : types[0] === 'LineString' ? [[grid.lon, grid.lat - 0.01], [grid.lon, grid.lat + 0.01]] : [[[grid.lon, grid.lat], [grid.lon + 1e-4, grid.lat], [grid.lon, grid.lat + 1e-4], [grid.lon, grid.lat]]] };
        const crs = { type: 'name', properties: { name: 'EPSG:3857' } };
        cases.push({ operation, label: `geometry ${name}: crs member on the body`, url, body: { label: 'crs', contentType: 'application/json', body: toJsonText({ ...base, [name]: good, crs }) }, names: 'crs' });
      }
    }
    // A new route with a geometry body needs a valid rest-of-body above, or its geometry would never be tested.
    expect(missing).toEqual([]);

    const before = await fingerprint(db);
    const filesBefore = filesUnder(uploadDir);
    const started = performance.now();

    const failures: string[] = [];
    const check = async (c: Case) => {
      const { operation } = c;
      let request = api.request[operation.method](c.url).set(api.auth('admin')).buffer(true).parse(rawText as never).ok(() => true);
      // Grid writes need If-Match; with the current version the request gets as far as its input allows.
      if (operation.path.startsWith('/api/grids/{id}')) request = request.set('If-Match', String(grid.version));
      if (c.body) request = request.set('Content-Type', c.body.contentType).send(c.body.body);
      const response = await request;
      const text = response.body as string;
      const where = `${operation.method.toUpperCase()} ${c.url.length > 100 ? `${c.url.slice(0, 100)}…` : c.url} [${c.label}]`;
      const fail = (what: string) => failures.push(`${where}: ${what} (${response.status} ${String(text).slice(0, 200)})`);
      if (response.status >= 500) return fail('server error');
      if (response.status < 400) return c.mayAccept && response.status < 300 ? undefined : fail('accepted');
      if (/\bat .*\.[tj]s\b/.test(text)) fail('stack trace in the body');
      const contentType = String(response.headers['content-type']).split(';')[0];
      if (contentType !== operation.errorType) return fail(`Content-Type ${contentType}, documented ${operation.errorType}`);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return fail('body is not JSON');
      }
      if (operation.path.startsWith('/ogc')) {
        // OGC API exception: {code, description}.
        const exception = body as { code?: unknown; description?: unknown };
        if (typeof exception.code !== 'string' || typeof exception.description !== 'string' || !exception.description) fail('not an OGC exception');
      } else if (operation.errorType === problemType) {
        const problem = body as { title?: unknown; detail?: unknown; status?: unknown };
        if (typeof problem.title !== 'string' || typeof problem.detail !== 'string' || !problem.detail) fail('problem without title/detail');
        if (problem.status !== response.status) fail(`problem status ${String(problem.status)}`);
      } else {
        // Open311 (GeoReport v2): an array of {code, description}, the code repeating the HTTP status.
        const errors = body as Array<{ code?: unknown; description?: unknown }>;
        if (!Array.isArray(errors) || !errors.length || errors.some((error) => error.code !== response.status || typeof error.description !== 'string')) fail('not a GeoReport error array');
      }
      if (c.names && response.status === 400 && !text.includes(c.names)) fail(`400 does not name ${c.names}`);
    };
    const queue = [...cases];
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) await check(next);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    if (process.env.CORPUS_VERBOSE) {
      const swept = new Set(cases.map((c) => c.operation.key));
      console.log(`${cases.length} requests over ${swept.size} of ${operations.length} routes in ${seconds.toFixed(1)} s; nothing to send: ${operations.filter((o) => !swept.has(o.key)).map((o) => o.key).join(', ')}`);
    }

    expect(failures).toEqual([]);
    expect(await fingerprint(db)).toEqual(before);
    expect(filesUnder(uploadDir)).toEqual(filesBefore);
    // Some 5,000 requests: about 35 s on a quiet 2-core machine, several times that when it is shared.
  }, 240_000);
});
