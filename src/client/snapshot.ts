// The snapshot half of "snapshot meets stream" (invariant 8 of docs/design.md): every page of
// GET /orders, all of one epoch of the log (invariant 9), and the event position to resume the
// stream from. A page that fails, or pages that keep naming two epochs, fail it with RequestError.

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
 * Loads in a row before giving up when the pages name different epochs: a failover is one event,
 * so the second load normally reads one history; the session retries after its backoff.
 */
const SNAPSHOT_LOADS = 3;

/**
 * Every page of GET /orders, all of one epoch. A failover between two pages splits the snapshot
 * across two histories: earlier pages may hold row versions the new history never had and will
 * number again, and resuming from either page's position would skip those events as not newer.
 * So the load starts over from page 1, and after SNAPSHOT_LOADS splits fails with a RequestError.
 */
export async function loadSnapshot(
  fetchFn: typeof fetch,
  baseUrl: string,
  token: string | undefined,
): Promise<Snapshot> {
  for (let load = 1; ; load++) {
    const read = await readPages(fetchFn, baseUrl, token);
    if (!('split' in read)) return read;
    if (load === SNAPSHOT_LOADS)
      throw new RequestError(
        read.status,
        `GET /orders: the snapshot's pages came from two histories of the log (${read.split}) in ` +
          `${SNAPSHOT_LOADS} loads in a row: the database is failing over; loading again later`,
      );
  }
}

/** What a load found when its pages named different epochs. */
interface Split {
  /** Which epochs, in the order the pages named them. */
  split: string;
  status: number;
}

/**
 * Follows `next` until null. Each page is its own consistent read with its own position; the
 * stream resumes after the FIRST (lowest) one. Later pages may already show changes whose events
 * come after it: those events carry versions that are not newer, so they are skipped; rows a later
 * page no longer has were deleted, and their delete events follow in the stream. That holds
 * within one epoch only: a page of another epoch than the first ends the read as a Split.
 */
async function readPages(
  fetchFn: typeof fetch,
  baseUrl: string,
  token: string | undefined,
): Promise<Snapshot | Split> {
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
    const pageEpoch = epochOf(response);
    if (position !== undefined && pageEpoch !== epoch)
      return { split: `${nameOf(epoch)}, then ${nameOf(pageEpoch)}`, status: response.status };
    epoch = pageEpoch;
    orders.push(...page.orders);
    position = Math.min(position ?? at, at);
    if (page.next === null) return { orders, position, epoch };
    after = page.next;
  }
}

function nameOf(epoch: number | undefined): string {
  return epoch === undefined ? 'no epoch' : `epoch ${epoch}`;
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
