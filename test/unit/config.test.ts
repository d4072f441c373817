import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { redactUrl } from '../../src/lib/redact.js';

describe('loadConfig', () => {
  it('works with no environment at all, against local services', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/orders_live',
      rabbitmqUrls: ['amqp://guest:guest@127.0.0.1:5672'],
      port: 3000,
      host: '127.0.0.1',
      roles: ['api', 'bridge', 'gateway'],
      migrateOnStart: true,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('builds the database URL from the original DB_* variables', () => {
    const config = loadConfig({
      DB_HOST: 'db.internal',
      DB_PORT: '6543',
      DB_USER: 'app',
      DB_PASSWORD: 'p@ss/word',
      DB_NAME: 'shop',
    });
    const url = new URL(config.databaseUrl);
    expect([url.hostname, url.port, url.username, decodeURIComponent(url.password), url.pathname]).toEqual([
      'db.internal',
      '6543',
      'app',
      'p@ss/word',
      '/shop',
    ]);
  });

  it('reads the gateway byte budget as a size, and names the variable it replaced', () => {
    expect(loadConfig({}).gateway.maxBufferedBytes).toBe(4 * 1024 * 1024);
    expect(loadConfig({ GATEWAY_MAX_BUFFERED_BYTES: '512kb' }).gateway.maxBufferedBytes).toBe(512 * 1024);
    expect(() => loadConfig({ GATEWAY_MAX_BUFFERED: '1000', GATEWAY_MAX_BUFFERED_BYTES: 'lots' })).toThrow(
      expect.objectContaining({
        problems: [
          expect.stringMatching(/^GATEWAY_MAX_BUFFERED_BYTES must be a size/),
          expect.stringMatching(/^GATEWAY_MAX_BUFFERED is no longer read: use GATEWAY_MAX_BUFFERED_BYTES/),
        ],
      }),
    );
  });

  it('takes the broker as several nodes, and names each bad one', () => {
    expect(loadConfig({ RABBITMQ_URL: 'amqp://a:5672, amqps://b:5671,amqp://c' }).rabbitmqUrls).toEqual([
      'amqp://a:5672',
      'amqps://b:5671',
      'amqp://c',
    ]);
    expect(() => loadConfig({ RABBITMQ_URL: 'amqp://a,http://b,nonsense' })).toThrow(
      expect.objectContaining({
        problems: [
          'RABBITMQ_URL (URL 2) must start with amqp:// or amqps://; got http://b/',
          'RABBITMQ_URL (URL 3) is not a URL (expected e.g. amqp://host:port/…)',
        ],
      }),
    );
    expect(() => loadConfig({ RABBITMQ_URL: ' , ' })).toThrow(
      expect.objectContaining({ problems: ['RABBITMQ_URL names no URL'] }),
    );
  });

  it('prefers DATABASE_URL over DB_*', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://x@h/db1', DB_NAME: 'other' }).databaseUrl).toBe(
      'postgres://x@h/db1',
    );
  });

  it('names every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({
        DATABASE_URL: 'mysql://h/db',
        RABBITMQ_URL: 'not a url',
        PORT: '70000',
        ROLES: 'api,web',
        LOG_LEVEL: 'loud',
        MIGRATE_ON_START: 'maybe',
        BODY_LIMIT: 'huge',
        BRIDGE_POLL_MS: '5',
        GATEWAY_PREFETCH: '0',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    const names = ['DATABASE_URL', 'RABBITMQ_URL', 'PORT', 'ROLES', 'LOG_LEVEL', 'MIGRATE_ON_START'];
    // One from each later group too: a parse that stopped at the first failing group would miss them.
    for (const name of [...names, 'BODY_LIMIT', 'BRIDGE_POLL_MS', 'GATEWAY_PREFETCH'])
      expect(problems).toContain(name);
    expect((error as ConfigError).problems).toHaveLength(9);
  });

  it('lets --port and --role replace PORT and ROLES, bad or not, and still names the other bad variables', () => {
    const env = { PORT: 'abc', ROLES: 'api,web' };
    expect(loadConfig(env, { port: 4000, roles: ['bridge'] })).toMatchObject({
      port: 4000,
      roles: ['bridge'],
    });
    expect(() => loadConfig({ ...env, LOG_LEVEL: 'loud' }, { port: 4000, roles: ['bridge'] })).toThrow(
      expect.objectContaining({ problems: [expect.stringMatching(/^LOG_LEVEL must be one of/)] }),
    );
    expect(() => loadConfig(env, { port: 4000 })).toThrow(
      expect.objectContaining({ problems: [expect.stringMatching(/^ROLES must list roles/)] }),
    );
  });

  it('reports a bad DB_PORT by name', () => {
    expect(() => loadConfig({ DB_HOST: 'h', DB_PORT: 'abc' })).toThrow(/DB_PORT/);
  });

  it('requires a database name', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://h:5432' })).toThrow(/must name a database/);
  });
});

describe('redactUrl', () => {
  it('hides the password and keeps the rest', () => {
    expect(redactUrl('amqp://guest:secret@rabbit:5672/vh')).toBe('amqp://guest:***@rabbit:5672/vh');
  });
});
