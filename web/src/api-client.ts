// The REST API as the page writes through it, every request with the token (Bearer): what the
// token allows, create / change / delete with If-Match, and one order's history (the reads of the
// orders are the live set's, src/client). Every failure becomes an ApiError carrying the
// server's problem+json (title, detail, field errors), or a made-up one when the server did not
// answer.

import type { Order, OrderEvent } from '../../src/contract/events.js';
import type {
  AccessBody,
  OrderHistoryBody as HistoryBody,
  NewOrder,
  OrderChanges,
  Problem,
} from '../../src/contract/rest.js';

export type { AccessBody, NewOrder, Problem };

/** GET /orders/:id/events (src/api/events-router.ts). */
export type OrderHistoryBody = HistoryBody<OrderEvent>;

export class ApiError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail);
    this.name = 'ApiError';
    this.problem = problem;
  }
}

export interface ApiClient {
  /** What the current token allows (401 when the server needs one and it is missing or wrong). */
  access(): Promise<AccessBody>;
  create(order: NewOrder): Promise<Order>;
  /** Changes fields of order `id`, refused with 412 unless it still has `version`. */
  update(id: number, changes: OrderChanges, version: number): Promise<Order>;
  remove(id: number, version: number): Promise<void>;
  /**
   * Order `id`'s events, newest first, those before position `before` (absent: from the newest),
   * `limit` at most (absent: the server's page size); 404 when the log never saw the order.
   */
  history(id: number, page?: { before?: number; limit?: number }): Promise<OrderHistoryBody>;
}

export interface ApiClientOptions {
  /** Prefix of every path; '' for the page's own origin. */
  baseUrl?: string;
  /** The token to send as Bearer, read at each request (the user may change it). */
  token: () => string | undefined;
  fetch?: typeof fetch;
}

export function createApiClient({
  baseUrl = '',
  token,
  fetch = globalThis.fetch,
}: ApiClientOptions): ApiClient {
  async function request(method: string, path: string, body?: unknown, version?: number): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const bearer = token();
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (version !== undefined) headers['If-Match'] = `"${version}"`;
    let response: Response;
    try {
      response = await fetch(`${baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError({
        status: 0,
        title: 'No answer',
        detail: `the server did not answer ${method} ${path} (${e instanceof Error ? e.message : String(e)})`,
      });
    }
    if (!response.ok) throw new ApiError(await readProblem(response));
    return response;
  }

  return {
    async access() {
      return (await request('GET', '/access')).json() as Promise<AccessBody>;
    },
    async create(order) {
      return (await request('POST', '/orders', order)).json() as Promise<Order>;
    },
    async update(id, changes, version) {
      return (await request('PATCH', `/orders/${id}`, changes, version)).json() as Promise<Order>;
    },
    async remove(id, version) {
      await request('DELETE', `/orders/${id}`, undefined, version);
    },
    async history(id, { before, limit } = {}) {
      const query = new URLSearchParams();
      if (before !== undefined) query.set('before', String(before));
      if (limit !== undefined) query.set('limit', String(limit));
      const search = query.toString();
      const path = `/orders/${id}/events${search ? `?${search}` : ''}`;
      return (await request('GET', path)).json() as Promise<OrderHistoryBody>;
    },
  };
}

/** The problem document of a failed response; a plain one when the body is not problem+json. */
async function readProblem(response: Response): Promise<Problem> {
  const fallback: Problem = {
    status: response.status,
    title: response.statusText || `HTTP ${response.status}`,
    detail: `the server answered ${response.status}`,
  };
  const text = await response.text().catch(() => '');
  if (!/json/i.test(response.headers.get('Content-Type') ?? '')) {
    return text.trim() ? { ...fallback, detail: text.trim().slice(0, 300) } : fallback;
  }
  try {
    const body = JSON.parse(text) as Partial<Problem>;
    return {
      status: typeof body.status === 'number' ? body.status : response.status,
      title: typeof body.title === 'string' ? body.title : fallback.title,
      detail: typeof body.detail === 'string' ? body.detail : fallback.detail,
      errors: Array.isArray(body.errors) ? body.errors : undefined,
    };
  } catch {
    return fallback;
  }
}
