// What `start` shows a person (src/cli/banner.ts, src/log.ts): the banner with every address and
// no password, and log lines a person can read.

import { describe, expect, it } from 'vitest';
import { startBanner } from '../../src/cli/banner.js';
import { formatLogLine } from '../../src/log.js';

describe('start banner', () => {
  it('names the dashboard, API, socket, roles, database and broker, passwords hidden', () => {
    const banner = startBanner({
      url: 'http://127.0.0.1:3000',
      roles: ['api', 'bridge', 'gateway'],
      databaseUrl: 'postgres://app:s3cret@db:5432/orders',
      rabbitmqUrls: ['amqp://guest:guest@127.0.0.1:5672'],
    });
    expect(banner).toContain('orders-live is running: api, bridge, gateway');
    expect(banner).toContain('dashboard  http://127.0.0.1:3000/');
    expect(banner).toContain('REST API   http://127.0.0.1:3000/orders');
    expect(banner).toContain('socket     ws://127.0.0.1:3000/socket.io');
    expect(banner).toContain('database   postgres://app:***@db:5432/orders');
    expect(banner).toContain('broker     amqp://guest:***@127.0.0.1:5672');
    expect(banner).not.toContain('s3cret');
  });

  it('shows a bridge-only process its health endpoints, not a dashboard', () => {
    const banner = startBanner({
      url: 'http://127.0.0.1:3001',
      roles: ['bridge'],
      databaseUrl: 'postgres://postgres@127.0.0.1/orders_live',
      rabbitmqUrls: ['amqp://u:p@rabbit-1', 'amqp://u:p@rabbit-2'],
    });
    expect(banner).not.toContain('dashboard');
    expect(banner).toContain('health     http://127.0.0.1:3001/readyz');
    expect(banner).toContain('broker     amqp://u:***@rabbit-1, amqp://u:***@rabbit-2');
  });
});

describe('readable log lines', () => {
  it('shows time, level, scope, message and the other fields', () => {
    const line = JSON.stringify({
      level: 30,
      time: Date.parse('2026-12-01T12:00:01.234Z'),
      pid: 1,
      name: 'orders-live',
      role: 'bridge',
      msg: 'became leader',
      position: 1200,
    });
    expect(formatLogLine(line)).toBe(
      `12:00:01.234  INFO   ${'bridge'.padEnd(18)}  became leader  position=1200`,
    );
  });

  it('puts an error stack below its line, and passes through what is not JSON', () => {
    const line = JSON.stringify({
      level: 50,
      time: 0,
      msg: 'failed',
      err: { message: 'boom', stack: 'Error: boom\n  at x' },
    });
    // The scope column stays, blank, so messages line up.
    expect(formatLogLine(line)).toBe(
      `00:00:00.000  ERROR  ${' '.repeat(18)}  failed\n    Error: boom\n      at x`,
    );
    expect(formatLogLine('not json')).toBe('not json');
  });
});
