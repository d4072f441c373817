// The API described as OpenAPI 3.1, served at GET /openapi.json: the routes and their answers,
// written next to the routes they describe; the bodies' schemas come from the contract
// (openapi-schemas.ts). test/integration/api-server.test.ts checks that every route is listed.

import { DEFAULT_PAGE_LIMIT, MAX_ID, MAX_PAGE_LIMIT } from '../contract/rest.js';
import { ref, schemas, status } from './openapi-schemas.js';

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});
const json = (schema: object) => ({ 'application/json': { schema } });
const etag = { description: 'The order version, quoted: "3".', schema: { type: 'string' } };

const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'integer', minimum: 1, maximum: MAX_ID },
};
const ifMatch = {
  name: 'If-Match',
  in: 'header',
  required: false,
  description: 'The ETag last seen; the write fails with 412 when the order has changed since.',
  schema: { type: 'string', examples: ['"3"', '*'] },
};
const pageParams = (what: string) => [
  {
    name: 'after',
    in: 'query',
    description: `Only ${what} after this one (the previous page's \`next\`).`,
    schema: { type: 'integer', minimum: 0, maximum: MAX_ID, default: 0 },
  },
  {
    name: 'limit',
    in: 'query',
    schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT },
  },
];

/** What any route that returns or changes data may answer before it looks at the request. */
const accessErrors = {
  '401': problem('A bearer token is needed (when API_TOKENS is set) or the one sent is wrong.'),
  '403': problem(
    'A read-only token tried to write (`forbidden`), or the request came from a page of an origin that is neither this server nor in ALLOWED_ORIGINS (`origin_not_allowed`).',
  ),
  '421': problem(
    'The Host is not a name of this server: without API_TOKENS only loopback names and ALLOWED_HOSTS are served (`host_not_allowed`).',
  ),
  '429': {
    ...problem('Over RATE_LIMIT for this client (its token, else its address); see Retry-After.'),
    headers: {
      'Retry-After': { description: 'Seconds until the window resets.', schema: { type: 'integer' } },
    },
  },
};

/** What a write may answer; `body`: it takes a JSON body; `order`: it names an order by id. */
const writeErrors = ({ body, order }: { body: boolean; order: boolean }) => ({
  '400': problem('Invalid id, body or If-Match; `errors` names the first 20 fields, `error_count` all.'),
  ...accessErrors,
  ...(order ? { '404': problem('No such order.') } : {}),
  ...(body
    ? {
        '413': problem('The body is larger than BODY_LIMIT.'),
        '415': problem('The body is not application/json.'),
      }
    : {}),
  '503': problem('The database is unavailable or the write collided; retry.'),
});

const orderResponse = (description: string) => ({
  description,
  headers: { ETag: etag },
  content: json(ref('Order')),
});

const changeOrder = (summary: string) => ({
  summary,
  security: [{ bearer: [] }],
  parameters: [ifMatch],
  requestBody: { required: true, content: json(ref('OrderChanges')) },
  responses: {
    '200': orderResponse('The order after the change.'),
    ...writeErrors({ body: true, order: true }),
    '412': problem(
      "Stale: If-Match, the body's version, or a read-only field differs from the stored order.",
    ),
  },
});

const paths = {
  '/orders': {
    get: {
      summary: 'A page of orders by id, with the event position it reflects',
      security: [{ bearer: [] }],
      parameters: [{ name: 'status', in: 'query', schema: status }, ...pageParams('orders')],
      responses: {
        '200': {
          description: 'Apply GET /events?after=<X-Event-Position> to catch the page up.',
          headers: {
            'X-Event-Position': { schema: { type: 'integer' } },
            'X-Event-Epoch': {
              description: "The epoch of X-Event-Position: send it as the socket handshake's `epoch`.",
              schema: { type: 'integer' },
            },
          },
          content: json({
            type: 'object',
            properties: {
              orders: { type: 'array', items: ref('Order') },
              next: { type: ['integer', 'null'], description: 'The `after` of the next page.' },
            },
          }),
        },
        '400': problem('A bad query parameter.'),
        ...accessErrors,
      },
    },
    post: {
      summary: 'Create an order',
      security: [{ bearer: [] }],
      requestBody: { required: true, content: json(ref('NewOrder')) },
      responses: {
        '201': {
          ...orderResponse('Created.'),
          headers: { ETag: etag, Location: { schema: { type: 'string' } } },
        },
        ...writeErrors({ body: true, order: false }),
      },
    },
  },
  '/orders/{id}': {
    parameters: [idParam],
    get: {
      summary: 'One order',
      security: [{ bearer: [] }],
      responses: { '200': orderResponse('The order.'), ...accessErrors, '404': problem('No such order.') },
    },
    put: changeOrder('Change any of customer_name, product_name, status (same as PATCH)'),
    patch: changeOrder('Change any of customer_name, product_name, status'),
    delete: {
      summary: 'Delete an order',
      security: [{ bearer: [] }],
      parameters: [ifMatch],
      responses: {
        '204': { description: 'Deleted.' },
        ...writeErrors({ body: false, order: true }),
        '412': problem('Stale.'),
      },
    },
  },
  '/events': {
    get: {
      summary: 'Published change events by position',
      security: [{ bearer: [] }],
      parameters: pageParams('events'),
      responses: {
        '200': {
          description: '`next` is the last position returned, or `after` when none was.',
          content: json({
            type: 'object',
            properties: { events: { type: 'array', items: ref('OrderEvent') }, next: { type: 'integer' } },
          }),
        },
        '400': problem('A bad query parameter.'),
        ...accessErrors,
      },
    },
  },
  '/orders/{id}/events': {
    parameters: [idParam],
    get: {
      summary: "One order's published events, newest first (deleted orders too, while retained)",
      security: [{ bearer: [] }],
      parameters: [
        {
          name: 'before',
          in: 'query',
          description: "Only events before this position (the previous page's `next`).",
          schema: { type: 'integer', minimum: 1 },
        },
        pageParams('events')[1]!,
      ],
      responses: {
        '200': {
          description: '`next` is the `before` of the next (older) page, null after the oldest.',
          content: json({
            type: 'object',
            properties: {
              events: { type: 'array', items: ref('OrderEvent') },
              next: { type: ['integer', 'null'] },
            },
          }),
        },
        '400': problem('A bad id or query parameter.'),
        ...accessErrors,
        '404': problem('The log holds no event of this order (never existed, or past retention).'),
      },
    },
  },
  '/access': {
    get: {
      summary: 'What the token sent allows',
      security: [{ bearer: [] }],
      responses: {
        '200': {
          description:
            'Without API_TOKENS: `{tokens_required: false, caller: null, access: "write"}`. With them: the token\'s name and `read` or `write`.',
          content: json({
            type: 'object',
            required: ['tokens_required', 'caller', 'access'],
            properties: {
              tokens_required: { type: 'boolean' },
              caller: { type: ['string', 'null'] },
              access: { type: 'string', enum: ['read', 'write'] },
            },
          }),
        },
        ...accessErrors,
      },
    },
  },
  '/healthz': {
    get: { summary: 'Liveness; open, under any Host', responses: { '200': { description: 'Alive.' } } },
  },
  '/readyz': {
    get: {
      summary: 'Readiness of the dependencies; open, under any Host',
      responses: { '200': { description: 'Ready.' }, '503': problem('A dependency is not ready.') },
    },
  },
  '/metrics': {
    get: {
      summary: 'Prometheus metrics; with METRICS_PORT set, only on that loopback listener',
      security: [{ bearer: [] }],
      responses: {
        '200': { description: 'Text format.' },
        '401': accessErrors['401'],
        '404': problem('Served on METRICS_PORT instead.'),
      },
    },
  },
  '/openapi.json': {
    get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1.' } } },
  },
};

/** The OpenAPI 3.1 document of the REST API. */
export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'orders-live',
    version: '0.1.0',
    description:
      'Orders and their change log. Errors are application/problem+json. When API_TOKENS is ' +
      'configured, every route that returns or changes data needs `Authorization: Bearer <token>`: ' +
      'reads any token, writes a read-write one. Without tokens the server answers only under ' +
      'loopback Host names. Browser pages of other origins are refused unless in ALLOWED_ORIGINS, ' +
      'which get CORS. Each client is held to RATE_LIMIT.',
  },
  paths,
  components: {
    schemas,
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
  },
} as const;
