import Router from '@koa/router';
import Koa from 'koa';
import supertest from 'supertest';
import { z } from 'zod';
import { createAuthenticator } from '../../server/http/auth';
import { problemMiddleware } from '../../server/http/problem';
import { defineRoute, mountRoutes } from '../../server/http/route';
import { RuleViolationError } from '../../server/errors';
import { createLogger } from '../../server/logger';
import { useTestApp } from '../support/app';

describe('errors are application/problem+json', () => {
  const suite = useTestApp();
  let echo: ReturnType<typeof supertest>;
  beforeAll(async () => {
    // A route built with the same machinery every domain uses, so body handling is tested through HTTP.
    const app = new Koa();
    const router = new Router();
    mountRoutes(
      router,
      [
        defineRoute({
          method: 'post',
          path: '/echo',
          operationId: 'echo',
          summary: 'echo',
          responses: { 200: { description: 'The body', schema: z.unknown() } },
          tag: 'test',
          access: 'public',
          body: z.object({ name: z.string().min(1), count: z.number().int().max(10) }).strict(),
          handler(ctx, { body }) {
            if (body.name === 'rule') throw new RuleViolationError('name may not be rule', { rule: 'no-rule' });
            ctx.body = body;
          },
        }),
      ],
      { authorize: createAuthenticator(suite.db.pool).authorize, bodyLimit: '1kb' },
    );
    app.use(problemMiddleware(createLogger('silent')));
    app.use(router.routes());
    echo = supertest(app.callback());
  });

  it('names the failing field of a bad body', async () => {
    const response = await echo.post('/echo').send({ name: '', count: 3 }).expect(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.body).toMatchObject({ type: 'invalid-request', status: 400, instance: '/echo' });
    expect(response.body.errors).toEqual([expect.objectContaining({ in: 'body', path: 'name' })]);
    expect(JSON.stringify(response.body)).not.toMatch(/at .*\.ts/); // no stack trace
  });

  it('refuses unknown fields, malformed JSON, wrong content type and huge bodies', async () => {
    const unknown = await echo.post('/echo').send({ name: 'a', count: 1, admin: true }).expect(400);
    expect(unknown.body.errors[0].message).toMatch(/admin/);
    const malformed = await echo.post('/echo').set('Content-Type', 'application/json').send('{"name":').expect(400);
    expect(malformed.headers['content-type']).toMatch(/problem\+json/);
    await echo.post('/echo').set('Content-Type', 'text/plain').send('name=a').expect(415);
    const huge = await echo.post('/echo').send({ name: 'x'.repeat(5000), count: 1 }).expect(413);
    expect(huge.body.status).toBe(413);
  });

  it('maps domain errors through the one table and passes good bodies', async () => {
    const rule = await echo.post('/echo').send({ name: 'rule', count: 1 }).expect(422);
    expect(rule.body).toMatchObject({ type: 'rule-violation', rule: 'no-rule' });
    await echo.post('/echo').send({ name: 'ok', count: 2 }).expect(200, { name: 'ok', count: 2 });
  });

  it('answers unknown routes, bad query values and injection attempts with 4xx problems', async () => {
    await suite.api.request.get('/no/such/route').expect(404).expect('Content-Type', /problem\+json/);
    const badLevel = await suite.api.request.get('/api/grids?level=9').set(suite.api.auth('planner')).expect(400);
    expect(badLevel.body.errors[0]).toMatchObject({ in: 'query', path: 'level' });
    await suite.api.request.get('/api/grids?level=1;DROP TABLE grids').set(suite.api.auth('planner')).expect(400);
    await suite.api.request.get("/api/grids?bbox=1,2,3,4'--").set(suite.api.auth('planner')).expect(400);
    await suite.api.request.get('/api/grids?color=red').set(suite.api.auth('planner')).expect(400);
    const { rows } = await suite.db.pool.query('SELECT count(*)::int AS n FROM grids');
    expect(rows[0].n).toBeGreaterThan(0);
  });

  it('requires a valid bearer token on non-public routes', async () => {
    await suite.api.request.get('/api/grids').expect(401).expect('WWW-Authenticate', 'Bearer');
    await suite.api.request.get('/api/grids').set('Authorization', 'Bearer cg_not_a_token').expect(401);
    await suite.api.request.get('/api/grids?level=1').set(suite.api.auth('commander')).expect(200);
  });

  it('documents every route in the OpenAPI document', async () => {
    const response = await suite.api.request.get('/api').expect(200);
    expect(response.body.openapi).toMatch(/^3\./);
    expect(Object.keys(response.body.paths)).toEqual(expect.arrayContaining(['/health', '/api/grids']));
  });
});
