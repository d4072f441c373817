// RFC 9457 problem details: the one shape of every HTTP error this service answers.

import type { Response } from 'express';

export interface Problem {
  /** HTTP status. */
  status: number;
  /** Short, stable summary of the problem type ("Bad Request"). */
  title: string;
  /** What exactly went wrong with this request, in words a caller can act on. */
  detail: string;
  /** Extension members (e.g. `errors` per field). */
  [extension: string]: unknown;
}

export function sendProblem(res: Response, problem: Problem): void {
  res.status(problem.status).type('application/problem+json').send(JSON.stringify({ type: 'about:blank', ...problem }));
}
