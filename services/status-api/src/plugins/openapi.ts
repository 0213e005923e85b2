import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { OPENAPI_PATH, STATUS_API_VERSION } from '../paths.js';

declare module 'fastify' {
  interface FastifySchema {
    /** OpenAPI operation summary. */
    summary?: string;
    /** OpenAPI operation description (CommonMark). */
    description?: string;
    /** OpenAPI tags. */
    tags?: readonly string[];
  }
}

interface DocumentedRoute {
  method: string;
  url: string;
  schema: NonNullable<RouteOptions['schema']>;
}

/**
 * Records every route as it is added, so the OpenAPI document is built from the routes the app really serves
 * (a route cannot be served undocumented, nor documented but missing). Must run before any route is added.
 */
export function collectRoutes(app: FastifyInstance): DocumentedRoute[] {
  const routes: DocumentedRoute[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      // HEAD twins of GET routes are added by fastify itself and documented by HTTP semantics.
      if (method === 'HEAD') continue;
      routes.push({ method: method.toLowerCase(), url: route.url, schema: route.schema ?? {} });
    }
  });
  return routes;
}

/** An OpenAPI 3.1 document for `routes`; response schemas are the ones fastify serializes with. */
export function buildOpenApiDocument(routes: readonly DocumentedRoute[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const responses: Record<string, unknown> = {};
    const declared = (route.schema.response ?? {}) as Record<string, Record<string, unknown>>;
    for (const [status, schema] of Object.entries(declared)) {
      const description = String(schema.description ?? STATUS_CODES[Number(status)] ?? status);
      responses[status] =
        'content' in schema
          ? { description, content: schema.content }
          : { description, content: { 'application/json': { schema } } };
    }
    paths[path] ??= {};
    paths[path][route.method] = {
      operationId: `${route.method}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c?: string) => (c ? c.toUpperCase() : ''))}`,
      ...(route.schema.summary ? { summary: route.schema.summary } : {}),
      ...(route.schema.description ? { description: route.schema.description } : {}),
      ...(route.schema.tags ? { tags: route.schema.tags } : {}),
      responses: Object.keys(responses).length > 0 ? responses : { 200: { description: 'OK' } },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'realtime-voice status API',
      version: STATUS_API_VERSION,
      description:
        'Cluster-wide status, health and Prometheus metrics of a realtime-voice deployment, read from the ' +
        'heartbeats, streams and session queue its gateways and session workers keep in Redis.',
    },
    tags: [
      { name: 'seed', description: 'The seed protocol endpoints (also served on every gateway port)' },
      { name: 'observability', description: 'Metrics and this document' },
      { name: 'probes', description: 'Liveness and readiness of the status API process itself' },
    ],
    paths,
  };
}

/** Serves the OpenAPI document at {@link OPENAPI_PATH}; built once, on first request, from `routes`. */
export async function openApiRoutes(
  app: FastifyInstance,
  opts: { routes: readonly DocumentedRoute[] },
): Promise<void> {
  let document: Record<string, unknown> | undefined;
  app.get(
    OPENAPI_PATH,
    {
      schema: {
        summary: 'This OpenAPI document',
        tags: ['observability'],
        response: {
          200: {
            description: 'OpenAPI 3.1 document',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
        },
      },
    },
    async (_req, reply) => {
      document ??= buildOpenApiDocument(opts.routes);
      reply.header('content-type', 'application/json; charset=utf-8');
      return JSON.stringify(document);
    },
  );
}
