// What the API accepts: zod schemas for bodies and query strings, and parsers for ids and
// If-Match. Every failure is a ProblemError 400 naming each bad field; nothing here does I/O.

import { z } from 'zod';
import {
  DEFAULT_PAGE_LIMIT,
  MAX_ID,
  MAX_PAGE_LIMIT,
  type NewOrder,
  newOrderSchema,
  type OrderChanges,
  orderUpdateSchema,
  show,
} from '../contract/rest.js';
import type { ListQuery, WriteOptions } from '../db/orders.js';
import { type FieldError, invalidInput } from './problem.js';

const listQuerySchema = z.strictObject({
  status: newOrderSchema.shape.status,
  after: integerParam(0, MAX_ID).default(0),
  limit: integerParam(1, MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
});

const eventsQuerySchema = z.strictObject({
  after: integerParam(0, MAX_ID).default(0),
  limit: integerParam(1, MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
});

const orderEventsQuerySchema = z.strictObject({
  /** Only events before this position (the previous page's `next`); absent: from the newest. */
  before: integerParam(1, Number.MAX_SAFE_INTEGER).optional(),
  limit: integerParam(1, MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
});

export function parseNewOrder(body: unknown): NewOrder {
  return parse(newOrderSchema, requireBody(body), 'body', 'is not a field of an order');
}

/**
 * A PUT or PATCH body. Read-only fields of the order may come along (a GET's answer sent back):
 * `id` must be the path's; `version` becomes the If-Match (or must agree with the header); the
 * timestamps are returned as conditions the stored order must meet.
 */
export function parseOrderUpdate(
  body: unknown,
  id: number,
  ifMatchHeader: string | undefined,
): { changes: OrderChanges; options: Pick<WriteOptions, 'ifMatch' | 'unchanged'> } {
  const update = parse(orderUpdateSchema, requireBody(body), 'body', 'is not a field of an order');
  const { id: _id, version, created_at, updated_at, ...changes } = update;
  const problems: FieldError[] = [];
  if (update.id !== undefined && update.id !== id)
    problems.push({
      field: 'id',
      message: `must be ${id}, the id in the path (an order's id cannot change); got ${show(update.id)}`,
    });
  let ifMatch = parseIfMatch(ifMatchHeader);
  if (version !== undefined) {
    // `If-Match: *` asks only that the order exists; the body's version asks more.
    if (ifMatch === undefined || ifMatch === 'any') ifMatch = [version];
    else if (!ifMatch.includes(version))
      problems.push({
        field: 'version',
        message: `is ${version} but If-Match says ${ifMatchHeader}: send one of them`,
      });
  }
  if (problems.length > 0) throw invalidInput(problems);
  const unchanged =
    created_at === undefined && updated_at === undefined ? undefined : { created_at, updated_at };
  return { changes, options: { ifMatch, unchanged } };
}

export function parseListQuery(query: unknown): ListQuery {
  return parse(listQuerySchema, query, 'query', 'is not a query parameter of GET /orders');
}

export function parseEventsQuery(query: unknown): { after: number; limit: number } {
  return parse(eventsQuerySchema, query, 'query', 'is not a query parameter of GET /events');
}

export function parseOrderEventsQuery(query: unknown): { before?: number; limit: number } {
  return parse(orderEventsQuerySchema, query, 'query', 'is not a query parameter of GET /orders/{id}/events');
}

/** An order id from the path: 1 … 2^53-1, digits only. */
export function parseId(raw: unknown): number {
  const id = typeof raw === 'string' && /^[1-9]\d{0,15}$/.test(raw) ? Number(raw) : Number.NaN;
  if (id <= MAX_ID) return id;
  throw invalidInput([
    { field: 'id', message: `must be a whole number from 1 to ${MAX_ID}; got ${show(raw)}` },
  ]);
}

/** `*`, or a list of strong ETags ("3", "4"); weak ETags (W/"3") never match a write (RFC 9110). */
export function parseIfMatch(header: string | undefined): WriteOptions['ifMatch'] {
  if (header === undefined) return undefined;
  if (header.trim() === '*') return 'any';
  const versions: number[] = [];
  for (const tag of header.split(',').map((t) => t.trim())) {
    const match = /^(W\/)?"(\d{1,16})"$/.exec(tag);
    if (!match) {
      throw invalidInput([
        { field: 'If-Match', message: `must be * or quoted ETags such as "3"; got ${show(header)}` },
      ]);
    }
    if (!match[1]) versions.push(Number(match[2]));
  }
  return versions;
}

/** A query parameter holding a whole number in [min, max]. */
function integerParam(min: number, max: number) {
  const message = (input: unknown) => `must be a whole number from ${min} to ${max}; got ${show(input)}`;
  return z
    .string({ error: (issue) => message(issue.input) })
    .superRefine((value, ctx) => {
      const n = /^\d{1,16}$/.test(value) ? Number(value) : Number.NaN;
      if (!(n >= min && n <= max)) ctx.addIssue({ code: 'custom', message: message(value) });
    })
    .transform(Number);
}

function requireBody(body: unknown): unknown {
  if (body !== undefined) return body;
  throw invalidInput([{ field: 'body', message: 'is required: send a JSON object as application/json' }]);
}

function parse<T extends z.ZodType>(
  schema: T,
  input: unknown,
  root: string,
  unknownField: string,
): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw invalidInput(fieldErrors(result.error, root, unknownField));
}

function fieldErrors(error: z.ZodError, root: string, unknownField: string): FieldError[] {
  return error.issues.flatMap((issue): FieldError[] => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: path ? `${path}.${key}` : key, message: unknownField }));
    }
    return [{ field: path || root, message: issue.message }];
  });
}
