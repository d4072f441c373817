// Names shared by the global setup and the per-file helpers.

import { randomBytes } from 'node:crypto';

/** The server the tests use; its maintenance database creates and drops the test databases. */
export const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const RABBITMQ_URL = process.env.TEST_RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
/** `orders_live_test_<pid of the vitest run>_<suffix>`: a later run can tell a dead run's leftovers. */
export const TEST_DB_PREFIX = 'orders_live_test_';

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export function randomSuffix(): string {
  return randomBytes(4).toString('hex');
}
