import { spawnSync } from 'node:child_process';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { projectRoot } from '../../server/config';
import { useTestApp } from '../support/app';

interface Operation {
  operationId?: string;
  responses: Record<string, { content?: Record<string, { schema?: unknown }>; headers?: object }>;
}

const methods = ['get', 'post', 'put', 'patch', 'delete', 'options'];

/** The OpenAPI document is complete enough to generate a client from, and the web client is typed by it. */
describe('the OpenAPI document', () => {
  const suite = useTestApp();
  let document: { paths: Record<string, Record<string, Operation>> };
  let operations: Array<{ name: string; operation: Operation }>;
  beforeAll(async () => {
    document = (await suite.api.request.get('/api').expect(200)).body;
    operations = Object.entries(document.paths).flatMap(([route, item]) =>
      Object.entries(item)
        .filter(([method]) => methods.includes(method))
        .map(([method, operation]) => ({ name: `${method.toUpperCase()} ${route}`, operation })),
    );
  });

  it('is valid OpenAPI 3', async () => {
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
  });

  it('names every operation once, in camelCase, and gives each a 2xx answer with its schema (or its headers)', () => {
    expect(operations.length).toBeGreaterThan(60);
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(ids.filter((id) => !id || !/^[a-z][A-Za-z0-9]*$/.test(id))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    const withoutAnswer = operations.filter(({ operation }) =>
      // A bodiless 2xx answers with its status (204) or its headers (201 Created: Location).
      Object.entries(operation.responses).every(
        ([status, response]) => !status.startsWith('2') || (status !== '204' && !response.headers && !Object.values(response.content ?? {}).some((media) => media.schema)),
      ),
    );
    expect(withoutAnswer.map(({ name }) => name)).toEqual([]);
  });

  it('generates the web client types in web/src/shell/api-types.ts, and the web client type-checks against them', () => {
    // openapi-typescript runs as `npm run api:types` does; a stale file means schemas changed without it.
    const tsx = path.join(projectRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
    const generated = spawnSync(process.execPath, [tsx, path.join(projectRoot, 'scripts', 'api-types.ts'), '--check'], { cwd: projectRoot, encoding: 'utf8' });
    expect(generated.stdout + generated.stderr).toMatch(/is up to date/);
    const tsc = path.join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const checked = spawnSync(process.execPath, [tsc, '-p', path.join(projectRoot, 'web', 'tsconfig.json'), '--noEmit'], { encoding: 'utf8' });
    expect(checked.stdout + checked.stderr).toBe('');
    expect(checked.status).toBe(0);
    // Two TypeScript runs: a minute on a shared 2-core machine.
  }, 180_000);
});
