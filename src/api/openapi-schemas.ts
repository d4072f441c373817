// The bodies of the OpenAPI document (openapi.ts): generated from the contract's zod schemas
// (src/contract/), requests as accepted and responses as sent, with descriptions merged in; the
// problem details, which the contract has as a type only, are written here.

import { z } from 'zod';
import { ORDER_STATUSES, orderEventSchema, orderSchema } from '../contract/events.js';
import { MAX_LISTED_ERRORS, newOrderSchema, orderUpdateSchema } from '../contract/rest.js';

export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

type JsonSchema = { properties?: Record<string, object>; [key: string]: unknown };

/**
 * A contract schema as JSON Schema (requests as accepted, responses as sent), with descriptions
 * merged into its properties. A timestamp keeps its `format` and drops zod's long pattern.
 */
function fromContract(
  schema: z.ZodType,
  io: 'input' | 'output',
  described: Record<string, object> = {},
  extra: Record<string, unknown> = {},
): JsonSchema {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  for (const [key, property] of Object.entries(json.properties ?? {})) {
    const { pattern: __, ...rest } = property as Record<string, unknown>;
    json.properties![key] = { ...('format' in rest ? rest : property), ...described[key] };
  }
  return { ...json, ...extra };
}

export const status = { type: 'string', enum: [...ORDER_STATUSES] };
const dateTime = { format: 'date-time' };

export const schemas = {
  Order: fromContract(orderSchema, 'output', {
    version: { description: 'Bumped by the database on every real change.' },
    created_at: dateTime,
    updated_at: dateTime,
  }),
  NewOrder: fromContract(newOrderSchema, 'input', { status: { default: 'pending' } }),
  OrderChanges: fromContract(
    orderUpdateSchema,
    'input',
    {
      id: { description: 'Must be the id in the path.' },
      version: { description: 'Acts as If-Match.' },
      created_at: { description: 'Must agree with the stored order.' },
      updated_at: { description: 'Must agree with the stored order.' },
    },
    {
      description:
        'Any subset of customer_name, product_name, status. The read-only fields of an order may come along, so that an order from GET can be sent back changed: `id` must be the id in the path (else 400), `version` acts as If-Match (412 when stale; 400 when it contradicts the header), `created_at` and `updated_at` must agree with the stored order (else 412).',
    },
  ),
  OrderEvent: fromContract(
    orderEventSchema,
    'output',
    {
      order: { anyOf: [ref('Order'), { type: 'null' }] },
      changes: { description: '{column: [old, new]} for updates.' },
      occurred_at: dateTime,
      published_at: dateTime,
      epoch: {
        description:
          'The history of the log the position belongs to; it changes after a failover that lost events.',
      },
    },
    { description: 'The event envelope of docs/design.md, the same on RabbitMQ and the socket.' },
  ),
  Problem: {
    type: 'object',
    description: 'RFC 9457 problem details.',
    properties: {
      type: { type: 'string' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      code: { type: 'string', description: 'Stable machine-readable reason, e.g. version_mismatch.' },
      errors: {
        type: 'array',
        items: {
          type: 'object',
          properties: { field: { type: 'string' }, message: { type: 'string' } },
        },
        maxItems: MAX_LISTED_ERRORS,
        description: `The first ${MAX_LISTED_ERRORS} bad fields.`,
      },
      error_count: { type: 'integer', description: 'How many problems there were, listed or not.' },
      retryable: { type: 'boolean' },
    },
  },
};
