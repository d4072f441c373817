// What the API accepts: zod schemas for bodies and query strings, and parsers for ids and
// If-Match. Every failure is a ProblemError 400 naming each bad field; nothing here does I/O.

import { z } from 'zod';
import { ORDER_STATUSES } from '../contract/events.js';
import type { ListQuery, NewOrder, OrderChanges, WriteOptions } from '../db/orders.js';
import { type FieldError, invalidInput } from './problem.js';

/** Names longer than this are refused: enough for any real name, small enough for any screen. */
export const MAX_NAME_LENGTH = 200;
/** Page sizes of GET /orders and GET /events. */
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1_000;
/** Ids and positions are bigint in PostgreSQL but numbers in JSON: the safe range of both. */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

const STATUS_LIST = ORDER_STATUSES.join(', ');

const nameSchema = z
  .string({ error: (issue) => typeMessage(issue.input, 'a string') })
  .superRefine((value, ctx) => {
    const problem = nameProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const statusSchema = z.enum(ORDER_STATUSES, {
  error: (issue) =>
    issue.input === undefined ? 'is required' : `must be one of ${STATUS_LIST}; got ${show(issue.input)}`,
});

const objectError = { error: (issue: { input?: unknown }) => typeMessage(issue.input, 'a JSON object') };

const newOrderSchema = z.strictObject(
  { customer_name: nameSchema, product_name: nameSchema, status: statusSchema.optional() },
  objectError,
);

const orderChangesSchema = z.strictObject(
  {
    customer_name: nameSchema.optional(),
    product_name: nameSchema.optional(),
    status: statusSchema.optional(),
  },
  objectError,
);

const listQuerySchema = z.strictObject({
  status: statusSchema.optional(),
  after: integerParam(0, MAX_ID).default(0),
  limit: integerParam(1, MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
});

const eventsQuerySchema = z.strictObject({
  after: integerParam(0, MAX_ID).default(0),
  limit: integerParam(1, MAX_PAGE_LIMIT).default(DEFAULT_PAGE_LIMIT),
});

export function parseNewOrder(body: unknown): NewOrder {
  return parse(newOrderSchema, requireBody(body), 'body', 'is not a field of an order');
}

export function parseOrderChanges(body: unknown): OrderChanges {
  return parse(orderChangesSchema, requireBody(body), 'body', 'is not a field of an order');
}

export function parseListQuery(query: unknown): ListQuery {
  return parse(listQuerySchema, query, 'query', 'is not a query parameter of GET /orders');
}

export function parseEventsQuery(query: unknown): { after: number; limit: number } {
  return parse(eventsQuerySchema, query, 'query', 'is not a query parameter of GET /events');
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

/** What is wrong with a customer or product name, if anything. */
function nameProblem(value: string): string | undefined {
  if (value.trim() === '') return 'must not be empty';
  if (value.includes('\u0000')) return 'must not contain NUL characters (\\u0000)';
  // With the u flag, only unpaired surrogates match: PostgreSQL cannot store them.
  if (/\p{Cs}/u.test(value)) return 'must be valid Unicode text (it contains an unpaired surrogate)';
  const length = [...value].length; // characters as PostgreSQL counts them: code points
  if (length > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters; got ${length}`;
  return undefined;
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

function typeMessage(input: unknown, expected: string): string {
  return input === undefined ? 'is required' : `must be ${expected}, not ${describe(input)}`;
}

function describe(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'an array';
  const type = typeof input;
  return `${type === 'object' ? 'an' : 'a'} ${type}`;
}

/**
 * A value quoted for a message, cut short so that a 1 MB string does not come back whole. Only
 * scalars are quoted: stringifying an array nested thousands deep would overflow the stack.
 */
function show(value: unknown): string {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
    return describe(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
