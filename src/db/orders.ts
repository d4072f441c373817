// The orders repository: the API's reads and writes of `orders`. Writes mark their transaction
// as the API's (`orders_live.source`, `orders_live.actor`) for the capture triggers; reads of a
// page share one REPEATABLE READ snapshot with the event position they answer with. Failures are
// PostgreSQL errors, plus AppError 404 (no such order) and 412 (stale If-Match).

import type pg from 'pg';
import type { Order, OrderStatus } from '../contract/events.js';
import type { NewOrder, OrderChanges } from '../contract/rest.js';
import { AppError } from '../lib/errors.js';
import { logHead } from './event-log.js';
import { inTransaction } from './pool.js';

/** Formatted by PostgreSQL: UTC with microseconds, like the envelope's `occurred_at`. */
const ORDER_TIMESTAMPS = `
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
  to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at`;
const ORDER_COLUMNS = `id, customer_name, product_name, status, version, ${ORDER_TIMESTAMPS}`;

/** The columns a caller may write; `version` and the timestamps belong to the database. */
const WRITABLE_COLUMNS = ['customer_name', 'product_name', 'status'] as const;

export interface ListQuery {
  status?: OrderStatus;
  /** Keyset cursor: only ids greater than this. */
  after: number;
  limit: number;
}

export interface OrdersPage {
  orders: Order[];
  /** The cursor of the next page, or null when this page is the last. */
  next: number | null;
  /** The last event position reflected in this page (docs/design.md, invariant 8). */
  position: number;
  /** The epoch of `position` (invariant 9). */
  epoch: number;
}

export interface WriteOptions {
  /** Recorded as the events' actor instead of the database user, e.g. "api/ops". */
  actor?: string;
  /**
   * Versions from If-Match: the write happens only when the order has one of them. `'any'`
   * (If-Match: *) needs only that the order exists; undefined skips the check.
   */
  ifMatch?: readonly number[] | 'any';
  /**
   * Read-only fields the caller sent back (RFC 3339): the write happens only when the stored
   * order still has these values; else 412, like a stale If-Match.
   */
  unchanged?: { created_at?: string | undefined; updated_at?: string | undefined };
}

export interface OrdersRepository {
  list(query: ListQuery): Promise<OrdersPage>;
  get(id: number): Promise<Order | null>;
  create(order: NewOrder, options?: WriteOptions): Promise<Order>;
  /** The order after the change; unchanged (same version) when no value differs. */
  update(id: number, changes: OrderChanges, options?: WriteOptions): Promise<Order>;
  remove(id: number, options?: WriteOptions): Promise<void>;
}

interface OrderRow extends Omit<Order, 'id'> {
  id: string;
}

export function createOrdersRepository(pool: pg.Pool): OrdersRepository {
  return {
    list: (query) => listOrders(pool, query),

    async get(id) {
      const { rows } = await pool.query<OrderRow>(`SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1`, [id]);
      return rows[0] ? toOrder(rows[0]) : null;
    },

    async create(order, options = {}) {
      return inApiTransaction(pool, options, async (client) => {
        const { rows } = await client.query<OrderRow>(
          `INSERT INTO orders (customer_name, product_name, status)
           VALUES ($1, $2, coalesce($3, 'pending')) RETURNING ${ORDER_COLUMNS}`,
          [order.customer_name, order.product_name, order.status ?? null],
        );
        return toOrder(rows[0]!);
      });
    },

    update: (id, changes, options = {}) => updateOrder(pool, id, changes, options),

    async remove(id, options = {}) {
      await inApiTransaction(pool, options, async (client) => {
        const { rowCount } = await client.query(`DELETE FROM orders WHERE id = $1 AND ${VERSION_MATCHES}`, [
          id,
          versionsParameter(options.ifMatch),
        ]);
        if (rowCount === 0) throw await whyNoRow(client, id, options);
      });
    },
  };
}

async function listOrders(pool: pg.Pool, { status, after, limit }: ListQuery): Promise<OrdersPage> {
  return inTransaction(pool, async (client) => {
    await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    // Both reads see one snapshot: every event up to `position` is reflected in the rows.
    const { position, epoch } = await logHead(client);
    const filter = status === undefined ? '' : 'AND status = $3';
    const { rows } = await client.query<OrderRow>(
      `SELECT ${ORDER_COLUMNS} FROM orders WHERE id > $1 ${filter} ORDER BY id LIMIT $2`,
      status === undefined ? [after, limit + 1] : [after, limit + 1, status],
    );
    // One row more than asked tells whether a next page exists without a second query.
    const orders = rows.slice(0, limit).map(toOrder);
    const next = rows.length > limit ? orders[orders.length - 1]!.id : null;
    return { orders, next, position, epoch };
  });
}

async function updateOrder(
  pool: pg.Pool,
  id: number,
  changes: OrderChanges,
  options: WriteOptions,
): Promise<Order> {
  const columns = WRITABLE_COLUMNS.filter((c) => changes[c] !== undefined);
  // With nothing to set, `status = status` still locks the row and checks If-Match; the
  // versioning trigger sees no difference, so the version stays and nothing is captured.
  const assignments =
    columns.length === 0 ? 'status = status' : columns.map((c, i) => `${c} = $${i + 5}`).join(', ');
  const { created_at = null, updated_at = null } = options.unchanged ?? {};
  return inApiTransaction(pool, options, async (client) => {
    const { rows } = await client.query<OrderRow>(
      `UPDATE orders SET ${assignments} WHERE id = $1 AND ${VERSION_MATCHES}
         AND ($3::timestamptz IS NULL OR created_at = $3::timestamptz)
         AND ($4::timestamptz IS NULL OR updated_at = $4::timestamptz)
       RETURNING ${ORDER_COLUMNS}`,
      [id, versionsParameter(options.ifMatch), created_at, updated_at, ...columns.map((c) => changes[c])],
    );
    if (rows[0]) return toOrder(rows[0]);
    throw await whyNoRow(client, id, options);
  });
}

/**
 * The If-Match test inside the write's own WHERE clause, so that check and write are atomic: a
 * concurrent writer that commits first makes this one re-check the new row and miss ($2 is null
 * when there is nothing to check, an int[] otherwise).
 */
const VERSION_MATCHES = '($2::int[] IS NULL OR version = ANY($2::int[]))';

/** Versions beyond int4 are dropped: no order has them, and PostgreSQL would reject the cast. */
function versionsParameter(ifMatch: WriteOptions['ifMatch']): number[] | null {
  if (ifMatch === undefined || ifMatch === 'any') return null;
  return ifMatch.filter((v) => Number.isInteger(v) && v >= 0 && v <= 2_147_483_647);
}

/**
 * After a write matched no row: 404 when the order does not exist, else 412 naming what differs
 * (its version, or a read-only field sent back).
 */
async function whyNoRow(
  client: pg.PoolClient,
  id: number,
  { ifMatch, unchanged = {} }: WriteOptions = {},
): Promise<AppError> {
  const { rows } = await client.query<{
    version: number;
    created_at: string;
    updated_at: string;
    stale: string[];
  }>(
    `SELECT version, ${ORDER_TIMESTAMPS},
       array_remove(ARRAY[
         CASE WHEN $2::timestamptz IS NOT NULL AND created_at <> $2::timestamptz THEN 'created_at' END,
         CASE WHEN $3::timestamptz IS NOT NULL AND updated_at <> $3::timestamptz THEN 'updated_at' END
       ], NULL) AS stale
     FROM orders WHERE id = $1`,
    [id, unchanged.created_at ?? null, unchanged.updated_at ?? null],
  );
  const row = rows[0];
  if (!row) return new AppError('order_not_found', `order ${id} does not exist`, 404);
  // A stale version says more than the timestamps that changed with it: it is named first.
  const versionStale = Array.isArray(ifMatch) && !ifMatch.includes(row.version);
  const field = row.stale[0] as 'created_at' | 'updated_at' | undefined;
  if (field && !versionStale) {
    return new AppError(
      'read_only_mismatch',
      `order ${id} has ${field} ${row[field]}, not the one sent (${field} cannot be changed); fetch it again and retry`,
      412,
    );
  }
  return new AppError(
    'version_mismatch',
    `order ${id} is at version ${row.version}, not the one in If-Match or the body's version; fetch it again and retry`,
    412,
  );
}

/** A transaction the capture triggers record as the API's: source 'api', actor when known. */
async function inApiTransaction<T>(
  pool: pg.Pool,
  { actor }: WriteOptions,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return inTransaction(pool, async (client) => {
    // set_config(…, true) is SET LOCAL with parameters: the values never become SQL text.
    await client.query(
      `SELECT set_config('orders_live.source', 'api', true),
              set_config('orders_live.actor', coalesce($1, ''), true)`,
      [actor ?? null],
    );
    return fn(client);
  });
}

function toOrder(row: OrderRow): Order {
  return { ...row, id: Number(row.id) };
}
