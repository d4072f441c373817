// The reference pipelines orders-live is measured beside: (b) the naive pattern
// (bench/naive-server.ts: row trigger NOTIFY with the row as payload → one LISTEN connection →
// Socket.IO emit, no log, no broker) and (c) the original system's shape
// (bench/original-server.ts: the same NOTIFY → RabbitMQ without confirms → a consumer → emit).
// Each runs on its own database, with the capture triggers dropped and the naive trigger added.

import type { BenchContext } from './benchmark.js';
import { NAIVE_CHANNEL, naiveNotify } from './capture-variants.js';
import { type BenchDatabase, createBenchDatabase } from './database.js';
import type { ChildHandle } from './process-group.js';
import { benchExchangeName } from './settings.js';

export type ReferenceKey = 'naive' | 'original';

/** A reference pipeline: the naive row trigger in its database, and a server started on it. */
export interface Reference {
  key: ReferenceKey;
  id: '(b)' | '(c)';
  label: string;
  script: string;
  args(dbUrl: string, ctx: BenchContext): string[];
  describe: string;
}

export const REFERENCES: readonly Reference[] = [
  {
    key: 'naive',
    id: '(b)',
    label: 'naive',
    script: 'bench/naive-server.ts',
    args: (dbUrl) => [dbUrl],
    describe: `(b) bench/naive-server.ts: an AFTER UPDATE row trigger runs pg_notify('${NAIVE_CHANNEL}', row_to_json(NEW)::text); each notification is one io.emit('order', row).`,
  },
  {
    key: 'original',
    id: '(c)',
    label: 'original shape',
    script: 'bench/original-server.ts',
    args: (dbUrl, ctx) => [dbUrl, ctx.settings.rabbitmqUrl, benchExchangeName('original')],
    describe:
      '(c) bench/original-server.ts: the same trigger; each notification is published to RabbitMQ (a fanout exchange, no publisher confirms), consumed with automatic acks in the same process and emitted.',
  },
];

export function reference(key: ReferenceKey): Reference {
  return REFERENCES.find((r) => r.key === key)!;
}

/** Starts a reference pipeline on its own database; returns its URL, the database and the server. */
export async function startReference(
  ctx: BenchContext,
  ref: Reference,
  dbName: string,
): Promise<{ db: BenchDatabase; url: string; server: ChildHandle }> {
  const db = await createBenchDatabase(ctx.settings, dbName);
  ctx.defer(() => db.drop());
  for (const sql of naiveNotify(NAIVE_CHANNEL)) await db.pool.query(sql);
  const server = ctx.processes.spawn(`${ref.key} server`, ref.script, ref.args(db.url, ctx));
  ctx.defer(() => server.kill());
  const started = await server.waitForLog((l) => typeof l.url === 'string', 'the "started" line');
  return { db, url: String(started.url), server };
}
