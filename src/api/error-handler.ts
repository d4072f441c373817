// The one Express error handler: every error a request meets — ours, the body parser's, the
// router's, PostgreSQL's — becomes application/problem+json here. Server-side failures are
// logged with their stack at error level; the client gets a sentence, never a stack trace.

import type { ErrorRequestHandler } from 'express';
import { AppError, isConnectionError, pgCode, toError } from '../lib/errors.js';
import type { Logger } from '../log.js';
import { type Problem, ProblemError, sendProblem, statusTitle } from './problem.js';

export interface ErrorAnswer {
  problem: Problem;
  headers: Record<string, string>;
}

/** A client retrying after this many seconds usually finds the conflict or outage over. */
const RETRY_AFTER_SECONDS = '1';

export function createErrorHandler(log: Logger): ErrorRequestHandler {
  return (thrown, req, res, next) => {
    const err = toError(thrown);
    if (res.headersSent) {
      // Too late for a problem document: Express's default handler closes the connection.
      log.error({ err, method: req.method, path: req.path }, 'request failed after its response started');
      return next(err);
    }
    const { problem, headers } = answerFor(err);
    if (problem.status >= 500) log.error({ err, method: req.method, path: req.path }, 'request failed');
    else log.debug({ code: problem.code, detail: problem.detail }, 'request refused');
    res.set(headers);
    sendProblem(res, problem);
  };
}

/** The problem document and headers an error is answered with. Pure; exported for tests. */
export function answerFor(err: Error): ErrorAnswer {
  if (err instanceof ProblemError) {
    return answer(err.status, err.code, err.message, err.extensions, err.headers);
  }
  if (err instanceof AppError) {
    return err.status >= 500 ? internal() : answer(err.status, err.code, err.message);
  }
  return fromHttpError(err) ?? fromPostgres(err) ?? internal();
}

function fromPostgres(err: Error): ErrorAnswer | undefined {
  const code = pgCode(err);
  const retry = { retryable: true };
  const retryHeaders = { 'Retry-After': RETRY_AFTER_SECONDS };
  if (code === '23505' || code === '23503') {
    return answer(409, 'conflict', `the change conflicts with existing data: ${err.message}`);
  }
  if (code === '23514' || code === '23502' || code?.startsWith('22')) {
    return answer(400, 'invalid_value', `the database refused a value: ${err.message}`);
  }
  if (code === '40001' || code === '40P01' || code === '55P03' || code === '57014') {
    const detail = 'the write collided with a concurrent one and was rolled back; retry it';
    return answer(503, 'retryable_conflict', detail, retry, retryHeaders);
  }
  const unreachable =
    code?.startsWith('08') || code?.startsWith('53') || code?.startsWith('57P') || isConnectionError(err);
  if (unreachable) {
    return answer(
      503,
      'database_unavailable',
      'the database is unavailable; retry shortly',
      retry,
      retryHeaders,
    );
  }
  return undefined;
}

/** Errors of the body parser and the router (http-errors): they carry a 4xx status. */
function fromHttpError(err: Error): ErrorAnswer | undefined {
  const { status, type, limit, expose } = err as Error & {
    status?: unknown;
    type?: unknown;
    limit?: unknown;
    expose?: unknown;
  };
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  const body = (message: string, code: string, to = status) =>
    answer(to, code, `body: ${message}`, { errors: [{ field: 'body', message }] });
  switch (type) {
    case 'entity.parse.failed':
      return body(`is not valid JSON (${err.message})`, 'malformed_json', 400);
    case 'entity.too.large':
      return body(`is larger than the limit of ${String(limit)} bytes`, 'body_too_large', 413);
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return body(`${err.message}; send UTF-8 JSON without Content-Encoding`, 'unsupported_encoding', 415);
    case 'request.aborted':
      return body('the client aborted the request before the body was complete', 'request_aborted', 400);
    default:
      return answer(status, 'bad_request', expose === false ? statusTitle(status) : err.message);
  }
}

function internal(): ErrorAnswer {
  return answer(500, 'internal_error', 'the server failed to handle this request; the error has been logged');
}

function answer(
  status: number,
  code: string,
  detail: string,
  extensions: Readonly<Record<string, unknown>> = {},
  headers: Readonly<Record<string, string>> = {},
): ErrorAnswer {
  return {
    problem: { title: statusTitle(status), status, detail, code, ...extensions },
    headers: { ...headers },
  };
}
