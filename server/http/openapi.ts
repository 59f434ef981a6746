import { OpenAPIRegistry, OpenApiGeneratorV3, type ResponseConfig, extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import type { RouteDefinition } from './route';

extendZodWithOpenApi(z);

const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
  })
  .passthrough();

const idempotencyHeaders = z.object({
  'Idempotency-Key': z.string().max(255).optional().openapi({
    description:
      'Makes a retry safe: the same key with the same request within 24 hours returns the first answer instead of creating ' +
      'again; with another request, 422 idempotency-key-reused. Keys are per token; 1–255 visible ASCII characters (a UUID).',
    example: '8e03978e-40d5-43e8-bc93-6894a57f9324',
  }),
});

function openApiPath(koaPath: string): string {
  return koaPath.replace(/:(\w+)/g, '{$1}');
}

/** The OpenAPI 3 document, built from the route definitions themselves so it cannot drift from the code. */
export class ApiDocument {
  private readonly registry = new OpenAPIRegistry();
  private readonly operationIds = new Set<string>();

  addRoute(route: RouteDefinition): void {
    const operation = `${route.method.toUpperCase()} ${route.path}`;
    if (!/^[a-z]+[A-Za-z0-9]*$/.test(route.operationId)) throw new Error(`${operation}: operationId ${route.operationId} is not camelCase`);
    if (this.operationIds.has(route.operationId)) throw new Error(`${operation}: operationId ${route.operationId} is taken`);
    this.operationIds.add(route.operationId);
    const answers = Object.entries(route.responses).filter(([status]) => status.startsWith('2'));
    if (!answers.some(([status, response]) => response.schema || response.headers || status === '204')) throw new Error(`${operation}: no 2xx response with a schema`);
    const responses: Record<string, ResponseConfig> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      responses[status] = {
        description: response.description,
        ...(response.schema && { content: Object.fromEntries([response.contentType ?? 'application/json'].flat().map((type) => [type, { schema: response.schema! }])) }),
        ...(response.headers && {
          headers: Object.fromEntries(Object.entries(response.headers).map(([name, description]) => [name, { description, schema: { type: 'string' as const } }])),
        }),
      };
    }
    responses.default = route.errorFormat
      ? { description: 'Error', content: { [route.errorFormat.contentType]: { schema: route.errorFormat.schema } } }
      : { description: 'Error (RFC 9457 problem details)', content: { 'application/problem+json': { schema: problemSchema } } };
    this.registry.registerPath({
      method: route.method,
      path: openApiPath(route.path),
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      security: route.access === 'public' ? [] : [{ bearer: [] }],
      description: route.access === 'public' ? 'Public.' : `Roles: ${route.access.join(', ')}.`,
      request: {
        params: route.params as never,
        query: route.query as never,
        headers: route.idempotent ? idempotencyHeaders : undefined,
        body:
          route.body || route.multipart
            ? { content: { ...(route.body && { 'application/json': { schema: route.body } }), ...(route.multipart && { 'multipart/form-data': { schema: route.multipart } }) } }
            : undefined,
      },
      responses,
    });
  }

  private built: object | undefined;

  /** The document, built once: routes added after the first build are not in it. */
  build(): object {
    this.built ??= this.generate();
    return this.built;
  }

  private generate(): object {
    this.registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
    const generator = new OpenApiGeneratorV3(this.registry.definitions);
    return generator.generateDocument({
      openapi: '3.0.3',
      info: { title: 'citygrid API', version: '0.1.0', description: 'GIS analytics server for city grid management.' },
    });
  }
}
