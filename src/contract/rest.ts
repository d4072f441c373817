// The REST part of the wire contract: what the API accepts (zod schemas, with the messages a
// client sees) and answers, as types derived from those schemas. The API validates with them; the
// dashboard and the client code import the types only, so zod stays out of the browser bundle.

import { z } from 'zod';
import { ORDER_STATUSES, type Order } from './events.js';

/** Names longer than this are refused: enough for any real name, small enough for any screen. */
export const MAX_NAME_LENGTH = 200;
/** Page sizes of GET /orders and GET /events. */
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1_000;
/** Ids and positions are bigint in PostgreSQL but numbers in JSON: the safe range of both. */
export const MAX_ID = Number.MAX_SAFE_INTEGER;
/** The largest version an order can have: `orders.version` is a PostgreSQL integer. */
export const MAX_VERSION = 2_147_483_647;

const STATUS_LIST = ORDER_STATUSES.join(', ');

const nameSchema = z
  .string({ error: (issue) => typeMessage(issue.input, 'a string') })
  .superRefine((value, ctx) => {
    const problem = nameProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  // What nameProblem enforces, for the OpenAPI document (in code points; JSON Schema counts them too).
  .meta({ minLength: 1, maxLength: MAX_NAME_LENGTH });

const statusSchema = z.enum(ORDER_STATUSES, {
  error: (issue) =>
    issue.input === undefined ? 'is required' : `must be one of ${STATUS_LIST}; got ${show(issue.input)}`,
});

const objectError = { error: (issue: { input?: unknown }) => typeMessage(issue.input, 'a JSON object') };

const timestampSchema = z.iso.datetime({
  offset: true,
  error: (issue) =>
    `must be an RFC 3339 timestamp such as 2026-11-24T10:00:00.123456Z; got ${show(issue.input)}`,
});

/** POST /orders. */
export const newOrderSchema = z.strictObject(
  { customer_name: nameSchema, product_name: nameSchema, status: statusSchema.optional() },
  objectError,
);
export type NewOrder = z.infer<typeof newOrderSchema>;

/**
 * PUT and PATCH /orders/:id: any subset of the writable fields. The read-only fields of an order
 * may come along, so that what GET returned can be sent back: `id` must be the path's, `version`
 * acts as If-Match, and the timestamps must agree with the stored order.
 */
export const orderUpdateSchema = z.strictObject(
  {
    customer_name: nameSchema.optional(),
    product_name: nameSchema.optional(),
    status: statusSchema.optional(),
    id: z.number({ error: (issue) => typeMessage(issue.input, 'a number') }).optional(),
    // Not .int(): it calls a whole number beyond 2^53 "not a whole number"; the bound says why.
    version: z
      .number({ error: (issue) => typeMessage(issue.input, 'a number') })
      .refine(Number.isInteger, 'must be a whole number')
      .min(1, 'must be 1 or more')
      .max(MAX_VERSION, `must be at most ${MAX_VERSION}`)
      .optional(),
    created_at: timestampSchema.optional(),
    updated_at: timestampSchema.optional(),
  },
  objectError,
);
export type OrderUpdate = z.infer<typeof orderUpdateSchema>;
/** The writable part of an update. */
export type OrderChanges = Pick<OrderUpdate, 'customer_name' | 'product_name' | 'status'>;

/** GET /orders (plus the `X-Event-Position` and `X-Event-Epoch` headers). */
export interface OrdersPageBody {
  orders: Order[];
  /** The `after` cursor of the next page, or null on the last one. */
  next: number | null;
}

/** GET /events. */
export interface EventsPageBody<Event> {
  events: Event[];
  /** The `after` of the next call: the same `after` when nothing new was published. */
  next: number;
}

/** GET /orders/:id/events: one order's events. */
export interface OrderHistoryBody<Event> {
  /** Newest first. */
  events: Event[];
  /** The `before` of the next (older) page; null after the oldest. */
  next: number | null;
}

/** One invalid input: `field` is a body member ("customer_name"), a parameter or a header. */
export interface FieldError {
  field: string;
  message: string;
}

/** RFC 9457 problem details (application/problem+json), as the API answers every error. */
export interface Problem {
  type?: string;
  /** HTTP status. */
  status: number;
  /** Short, stable summary of the problem type ("Bad Request"). */
  title: string;
  /** What exactly went wrong with this request, in words a caller can act on. */
  detail: string;
  /** A stable name for the error, e.g. `invalid_input`, `version_mismatch`. */
  code?: string;
  /** One entry per bad field, for 400 invalid_input: the first MAX_LISTED_ERRORS of them. */
  errors?: FieldError[];
  /** How many problems were found, listed or not (with `errors`). */
  error_count?: number;
  /** Other extension members. */
  [extension: string]: unknown;
}

/** A problem lists at most this many field errors; `error_count` tells how many there were. */
export const MAX_LISTED_ERRORS = 20;

/** GET /access: what the token sent with the request allows. */
export interface AccessBody {
  /** API_TOKENS is set: reads and writes need a token. */
  tokens_required: boolean;
  /** The token's name; null without tokens configured. */
  caller: string | null;
  /** `read`: reads only (a read-only token); `write`: reads and changes. */
  access: 'read' | 'write';
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

export function typeMessage(input: unknown, expected: string): string {
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
export function show(value: unknown): string {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
    return describe(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
