// The snapshot half of "snapshot meets stream" (invariant 8 of docs/design.md): every page of
// GET /orders and the event position to resume the stream from.

import type { Order } from '../contract/events.js';
import { RequestError, UnauthorizedError } from './errors.js';

/** The API's largest page: fewest round trips for a big table. */
export const SNAPSHOT_PAGE_LIMIT = 1_000;

export interface Snapshot {
  orders: Order[];
  /** Resume the stream after this position. */
  position: number;
  /** The epoch of `position` (X-Event-Epoch), absent from servers before epochs. */
  epoch?: number;
}

/**
 * Follows `next` until null. Each page is its own consistent read with its own position; the
 * stream resumes after the FIRST (lowest) one. Later pages may already show changes whose events
 * come after it: those events carry versions that are not newer, so they are skipped; rows a later
 * page no longer has were deleted, and their delete events follow in the stream.
 */
export async function loadSnapshot(
  fetchFn: typeof fetch,
  baseUrl: string,
  token: string | undefined,
): Promise<Snapshot> {
  const orders: Order[] = [];
  let position: number | undefined;
  let epoch: number | undefined;
  let after = 0;
  for (;;) {
    const path = `/orders?after=${after}&limit=${SNAPSHOT_PAGE_LIMIT}`;
    const response = await get(fetchFn, `${baseUrl.replace(/\/+$/, '')}${path}`, token);
    const page = (await response.json()) as { orders: Order[]; next: number | null };
    const at = Number(response.headers.get('X-Event-Position'));
    if (!Number.isSafeInteger(at) || at < 0)
      throw new RequestError(response.status, 'GET /orders answered without a valid X-Event-Position header');
    orders.push(...page.orders);
    if (position === undefined || at < position) {
      // The position resumed from and its epoch come from the same page.
      position = at;
      epoch = epochOf(response);
    }
    if (page.next === null) return epoch === undefined ? { orders, position } : { orders, position, epoch };
    after = page.next;
  }
}

/** X-Event-Epoch, or undefined when the server sends none (or garbage). */
function epochOf(response: Response): number | undefined {
  const header = response.headers.get('X-Event-Epoch');
  const epoch = header === null ? Number.NaN : Number(header);
  return Number.isSafeInteger(epoch) && epoch > 0 ? epoch : undefined;
}

async function get(fetchFn: typeof fetch, url: string, token: string | undefined): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetchFn(url, { headers });
  } catch (e) {
    throw new RequestError(0, `no answer from GET ${url} (${e instanceof Error ? e.message : String(e)})`);
  }
  if (response.ok) return response;
  const detail = await problemDetail(response);
  if (response.status === 401) throw new UnauthorizedError(`unauthorized: ${detail}`);
  throw new RequestError(response.status, `GET ${url} answered ${response.status}: ${detail}`);
}

/** The `detail` of a problem+json answer, or the start of whatever else came back. */
async function problemDetail(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const detail = (JSON.parse(text) as { detail?: unknown }).detail;
    if (typeof detail === 'string') return detail;
  } catch {
    // not JSON: the text itself says more than nothing
  }
  return text.trim().slice(0, 200) || response.statusText || `HTTP ${response.status}`;
}
