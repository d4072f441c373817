// An in-process bridge on a test database and exchange, with the program's default settings
// unless a test overrides some.

import type pg from 'pg';
import { Registry } from 'prom-client';
import { type Bridge, createBridge } from '../../src/bridge/bridge.js';
import { type BridgeConfig, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import type { TestDatabase } from './db.js';
import { RABBITMQ_URL } from './names.js';

export function createTestBridge(options: {
  db: TestDatabase;
  pool: pg.Pool;
  exchange: string;
  config?: Partial<BridgeConfig>;
  registry?: Registry;
}): Bridge {
  return createBridge({
    databaseUrl: options.db.url,
    rabbitmqUrls: [RABBITMQ_URL],
    exchange: options.exchange,
    config: { ...loadConfig({}).bridge, ...options.config },
    pool: options.pool,
    registry: options.registry ?? new Registry(),
    log: createLogger('silent'),
  });
}
