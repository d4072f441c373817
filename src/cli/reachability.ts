// Turning "cannot connect" into one line a person can act on: which service, the URL tried
// (password hidden) and how to start it. Used by `start` before anything else runs.

import amqp from 'amqplib';
import pg from 'pg';
import { isConnectionError, toError } from '../lib/errors.js';
import { redactUrl } from '../lib/redact.js';

const HOW = {
  PostgreSQL:
    'start it with "docker compose up -d postgres" (or "pg_ctlcluster 15 main start"), or point DATABASE_URL at a running server',
  RabbitMQ:
    'start it with "docker compose up -d rabbitmq" (or "rabbitmq-server -detached"), or point RABBITMQ_URL at a running broker',
} as const;

export class UnreachableError extends Error {
  /** `url`: where it was tried; several, for a broker of several nodes none of which answered. */
  constructor(service: keyof typeof HOW, url: string | readonly string[], cause: unknown) {
    const reason = (cause as { code?: string }).code ?? toError(cause).message;
    const where = typeof url === 'string' ? redactUrl(url) : `any of ${url.map(redactUrl).join(', ')}`;
    super(`cannot reach ${service} at ${where} (${reason}): ${HOW[service]}`);
    this.name = 'UnreachableError';
  }
}

/**
 * What keeps `start` from using a service at all: no connection (lib/errors.ts), a timeout, or
 * the login refused (PostgreSQL or RabbitMQ credentials, a database that does not exist).
 */
function isConnectionFailure(e: unknown): boolean {
  return (
    isConnectionError(e) ||
    /timeout|ACCESS_REFUSED|password authentication failed|does not exist/i.test(toError(e).message)
  );
}

/** Runs `fn`; a connection failure becomes an UnreachableError for `service` at `url`. */
export async function reaching<T>(service: keyof typeof HOW, url: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isConnectionFailure(e)) throw new UnreachableError(service, url, e);
    throw e;
  }
}

/**
 * Connects once and disconnects: does the broker answer with these credentials? With several
 * nodes one that answers is enough (the roles move between them); when none does, the error
 * names the last.
 */
export async function probeBroker(urls: readonly string[]): Promise<void> {
  let failure: unknown;
  for (const url of urls) {
    try {
      return await reaching('RabbitMQ', url, async () => {
        const connection = await amqp.connect(url, { timeout: 5_000 });
        await connection.close();
      });
    } catch (e) {
      if (!(e instanceof UnreachableError)) throw e;
      failure = e;
    }
  }
  throw urls.length === 1 ? failure : new UnreachableError('RabbitMQ', urls, failure);
}

/** Connects once to the server's maintenance database (the app's may not exist yet). */
export function probeDatabase(url: string): Promise<void> {
  return reaching('PostgreSQL', url, async () => {
    const admin = new URL(url);
    admin.pathname = '/postgres';
    const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
    } finally {
      await client.end().catch(() => undefined);
    }
  });
}
