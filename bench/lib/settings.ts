// Where the benchmarks find PostgreSQL and RabbitMQ: the project's own configuration (environment,
// then .env, then defaults), so `npm run bench` talks to the same servers as `npm start`. Each
// benchmark uses its own database on that server and its own exchange on that broker.

import { randomBytes } from 'node:crypto';
import { loadConfig, readEnvironment } from '../../src/config.js';

export interface BenchSettings {
  /** A connection string to the server's maintenance database, for CREATE/DROP DATABASE. */
  readonly adminUrl: string;
  readonly rabbitmqUrl: string;
}

export function loadBenchSettings(): BenchSettings {
  const config = loadConfig(readEnvironment());
  return { adminUrl: withDatabase(config.databaseUrl, 'postgres'), rabbitmqUrl: config.rabbitmqUrls[0]! };
}

/** The same server, another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** `orders_live_bench_<name>` with dashes made underscores. */
export function benchDatabaseName(name: string): string {
  return `orders_live_bench_${name.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}`;
}

/** A fresh exchange name, so a benchmark never sees another run's (or a test's) events. */
export function benchExchangeName(name: string): string {
  return `bench.${name}.${randomBytes(4).toString('hex')}.orders.events`;
}
