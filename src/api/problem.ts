// RFC 9457 problem details: the one shape of every HTTP error this service answers, and the
// error that carries one through Express to the error handler.

import { STATUS_CODES } from 'node:http';
import type { RequestHandler, Response } from 'express';
import { type FieldError, MAX_LISTED_ERRORS, type Problem } from '../contract/rest.js';
import { AppError } from '../lib/errors.js';

export type { FieldError, Problem };

export function sendProblem(res: Response, problem: Problem): void {
  res
    .status(problem.status)
    .type('application/problem+json')
    .send(JSON.stringify({ type: 'about:blank', ...problem }));
}

/** The title of a status: its standard reason phrase. */
export function statusTitle(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/**
 * An AppError that knows its problem document: extension members (`errors`, `retryable`) and
 * response headers (`Allow`, `WWW-Authenticate`). Thrown by handlers, answered by the error handler.
 */
export class ProblemError extends AppError {
  readonly extensions: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: string,
    status: number,
    detail: string,
    options: { extensions?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(code, detail, status, { cause: options.cause });
    this.name = 'ProblemError';
    this.extensions = options.extensions ?? {};
    this.headers = options.headers ?? {};
  }
}

/**
 * 400 (or `status`) naming the bad fields in `errors` and in one sentence of `detail`: the first
 * MAX_LISTED_ERRORS, each field name cut short, and how many there were in all (`error_count`),
 * so that a body of thousands of unknown keys gets an answer of a few kilobytes.
 */
export function invalidInput(
  errors: readonly FieldError[],
  status = 400,
  code = 'invalid_input',
): ProblemError {
  const listed = errors.slice(0, MAX_LISTED_ERRORS).map((e) => ({ ...e, field: shortField(e.field) }));
  const more = errors.length - listed.length;
  const detail =
    listed.map((e) => `${e.field}: ${e.message}`).join('; ') +
    (more > 0 ? `; and ${more} more (${errors.length} problems in all)` : '');
  return new ProblemError(code, status, detail, {
    extensions: { errors: listed, error_count: errors.length },
  });
}

/** Field names come from the client (unknown keys): a long one is cut. */
function shortField(field: string): string {
  return field.length > MAX_FIELD_LENGTH ? `${field.slice(0, MAX_FIELD_LENGTH - 1)}…` : field;
}

const MAX_FIELD_LENGTH = 64;

/** The last handler of a known path: OPTIONS lists the methods, any other method gets 405. */
export function methodNotAllowed(allow: string): RequestHandler {
  return (req, res) => {
    res.set('Allow', allow);
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    throw new ProblemError(
      'method_not_allowed',
      405,
      `${req.method} is not allowed on ${req.path}; use ${allow}`,
      {
        headers: { Allow: allow },
      },
    );
  };
}

/** The fallback after every route: a 404 problem instead of Express's HTML page. */
export const routeNotFound: RequestHandler = (req) => {
  throw new ProblemError(
    'route_not_found',
    404,
    `there is no ${req.method} ${req.path}; see GET /openapi.json`,
  );
};
