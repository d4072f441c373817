import { describe, expect, it } from 'vitest';
import { answerFor } from '../../src/api/error-handler.js';
import { invalidInput, ProblemError } from '../../src/api/problem.js';
import { AppError } from '../../src/lib/errors.js';

/** An error shaped like one from pg: a message and a SQLSTATE code. */
function pgError(code: string, message = `pg says ${code}`): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' });
}

describe('answerFor', () => {
  it.each([
    ['23505', 409, 'conflict'],
    ['23503', 409, 'conflict'],
    ['23514', 400, 'invalid_value'],
    ['22P02', 400, 'invalid_value'],
    ['22001', 400, 'invalid_value'],
    ['40001', 503, 'retryable_conflict'],
    ['40P01', 503, 'retryable_conflict'],
    ['57P01', 503, 'database_unavailable'],
    ['08006', 503, 'database_unavailable'],
    ['53300', 503, 'database_unavailable'],
  ])('maps PostgreSQL %s to %i', (code, status, problemCode) => {
    const { problem } = answerFor(pgError(code));
    expect(problem).toMatchObject({ status, code: problemCode, title: expect.any(String) });
  });

  it('marks serialization failures and deadlocks as retryable, with Retry-After', () => {
    expect(answerFor(pgError('40P01'))).toEqual({
      problem: expect.objectContaining({ status: 503, retryable: true }),
      headers: { 'Retry-After': '1' },
    });
  });

  it.each([
    ['refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['pool timeout', new Error('timeout exceeded when trying to connect')],
    ['dropped', new Error('Connection terminated unexpectedly')],
  ])('answers 503 when the connection is %s', (_what, err) => {
    expect(answerFor(err).problem).toMatchObject({ status: 503, code: 'database_unavailable' });
  });

  it('answers 500 with a fixed sentence for anything unknown, hiding its message', () => {
    const { problem } = answerFor(new TypeError("Cannot read properties of undefined (reading 'id')"));
    expect(problem).toEqual({
      title: 'Internal Server Error',
      status: 500,
      code: 'internal_error',
      detail: 'the server failed to handle this request; the error has been logged',
    });
  });

  it('hides the message of a 5xx AppError and shows that of a 4xx one', () => {
    expect(answerFor(new AppError('x', 'db password is hunter2', 500)).problem.detail).not.toMatch(/hunter2/);
    expect(answerFor(new AppError('order_not_found', 'order 9 does not exist', 404)).problem).toMatchObject({
      status: 404,
      code: 'order_not_found',
      detail: 'order 9 does not exist',
    });
  });

  it('keeps the members and headers of a ProblemError', () => {
    const answer = answerFor(
      new ProblemError('method_not_allowed', 405, 'no', { headers: { Allow: 'GET' } }),
    );
    expect(answer.headers).toEqual({ Allow: 'GET' });
    expect(answerFor(invalidInput([{ field: 'status', message: 'bad' }])).problem).toMatchObject({
      status: 400,
      detail: 'status: bad',
      errors: [{ field: 'status', message: 'bad' }],
    });
  });

  it('maps the body parser: too large → 413, malformed → 400, naming the body', () => {
    const tooLarge = Object.assign(new Error('request entity too large'), {
      status: 413,
      type: 'entity.too.large',
      limit: 1024,
    });
    expect(answerFor(tooLarge).problem).toMatchObject({ status: 413, errors: [{ field: 'body' }] });
    const malformed = Object.assign(new SyntaxError('Unexpected end of JSON input'), {
      status: 400,
      type: 'entity.parse.failed',
    });
    expect(answerFor(malformed).problem).toMatchObject({
      status: 400,
      detail: 'body: is not valid JSON (Unexpected end of JSON input)',
    });
  });
});
