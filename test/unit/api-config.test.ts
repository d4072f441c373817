import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('API configuration', () => {
  it('defaults to no tokens, no opt-out and a 100 kB body limit', () => {
    expect(loadConfig({})).toMatchObject({
      apiTokens: [],
      allowUnauthenticated: false,
      bodyLimitBytes: 102_400,
    });
  });

  it('reads named tokens, read-write unless marked :read, trimming spaces around entries', () => {
    const config = loadConfig({
      API_TOKENS: ' ops:0123456789abcdef , wall.tv-1:fedcba9876543210:read, ci:abcdef0123456789:write ',
    });
    expect(config.apiTokens).toEqual([
      { name: 'ops', token: '0123456789abcdef', access: 'write' },
      { name: 'wall.tv-1', token: 'fedcba9876543210', access: 'read' },
      { name: 'ci', token: 'abcdef0123456789', access: 'write' },
    ]);
    expect(Object.isFrozen(config.apiTokens)).toBe(true);
    expect(Object.isFrozen(config.apiTokens[0])).toBe(true);
  });

  it.each([
    ['no colon', 'justatokenwithoutname', /API_TOKENS entry 1 must be name:token or name:token:read/],
    [
      'an unknown access',
      'ops:0123456789abcdef:admin',
      /API_TOKENS entry 1 \("ops"\) must end in :read or :write/,
    ],
    ['a colon in the token', 'ops:0123456789:abcdef:read', /a token cannot contain ':'/],
    ['an empty name', ':0123456789abcdef', /API_TOKENS entry 1 needs a name/],
    ['a name with spaces', 'my ops:0123456789abcdef', /API_TOKENS entry 1 needs a name/],
    ['a short token', 'ops:short', /API_TOKENS entry 1 \("ops"\) needs a token of at least 16 .* it has 5/],
    ['an empty entry', 'ops:0123456789abcdef,,', /API_TOKENS entry 2 must be name:token/],
    [
      'a repeated name',
      'ops:0123456789abcdef,ops:fedcba9876543210',
      /API_TOKENS entry 2 \("ops"\) repeats a name/,
    ],
    [
      'a shared token',
      'a:0123456789abcdef,b:0123456789abcdef',
      /API_TOKENS entry 2 \("b"\) reuses the token/,
    ],
  ])('refuses API_TOKENS with %s', (_what, value, expected) => {
    expect(problemsOf({ API_TOKENS: value }).join('\n')).toMatch(expected);
  });

  it('never puts a token into a message', () => {
    const problems = problemsOf({
      API_TOKENS: 'ops:0123456789abcdef-secret,ops:fedcba9876543210-secret,bad:secret,secret',
    });
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).not.toMatch(/secret/);
  });

  it.each([
    ['true', true],
    ['1', true],
    ['FALSE', false],
    ['no', false],
  ])('reads ALLOW_UNAUTHENTICATED=%s', (value, expected) => {
    expect(loadConfig({ ALLOW_UNAUTHENTICATED: value }).allowUnauthenticated).toBe(expected);
  });

  it.each([
    ['100kb', 102_400],
    ['1mb', 1_048_576],
    ['1.5MB', 1_572_864],
    ['512b', 512],
    ['2048', 2048],
  ])('reads BODY_LIMIT=%s', (value, bytes) => {
    expect(loadConfig({ BODY_LIMIT: value }).bodyLimitBytes).toBe(bytes);
  });

  it.each(['0', 'lots', '10gb', '101mb', '-1kb'])('refuses BODY_LIMIT=%s', (value) => {
    expect(problemsOf({ BODY_LIMIT: value }).join('\n')).toMatch(
      `BODY_LIMIT must be a size from 1b to 100mb`,
    );
  });

  it('reads hosts, origins, the rate limit, the metrics port and proxy trust', () => {
    const config = loadConfig({
      ALLOWED_HOSTS: 'Orders.Example.com, .corp.example, 10.0.0.5, [::1]',
      ALLOWED_ORIGINS: 'https://wall.example.com/, http://localhost:5173',
      RATE_LIMIT: '600/1m',
      METRICS_PORT: '9464',
      TRUST_PROXY: 'loopback, 10.0.0.0/8',
    });
    expect(config).toMatchObject({
      allowedHosts: ['orders.example.com', '.corp.example', '10.0.0.5', '::1'],
      allowedOrigins: ['https://wall.example.com', 'http://localhost:5173'],
      rateLimit: { limit: 600, windowMs: 60_000 },
      metricsPort: 9464,
      trustProxy: ['loopback', '10.0.0.0/8'],
    });
  });

  it('defaults to no extra hosts or origins, 10,000 requests per 10 s, /metrics on PORT, no proxy', () => {
    expect(loadConfig({})).toMatchObject({
      allowedHosts: [],
      allowedOrigins: [],
      rateLimit: { limit: 10_000, windowMs: 10_000 },
      metricsPort: null,
      trustProxy: false,
    });
    expect(loadConfig({ RATE_LIMIT: 'off', TRUST_PROXY: '2' })).toMatchObject({
      rateLimit: null,
      trustProxy: 2,
    });
    expect(loadConfig({ RATE_LIMIT: '100/s' }).rateLimit).toEqual({ limit: 100, windowMs: 1_000 });
  });

  it.each([
    [
      'ALLOWED_HOSTS',
      'https://orders.example.com',
      /ALLOWED_HOSTS: "https:\/\/orders.example.com" is not a host name/,
    ],
    ['ALLOWED_HOSTS', 'orders.example.com:3000', /is not a host name \(no scheme, port or path/],
    ['ALLOWED_ORIGINS', 'wall.example.com', /ALLOWED_ORIGINS: "wall.example.com" is not an origin/],
    ['ALLOWED_ORIGINS', 'https://wall.example.com/app', /is not an origin/],
    ['ALLOWED_ORIGINS', '*', /is not an origin/],
    ['RATE_LIMIT', '1000', /RATE_LIMIT must be requests per window such as 10000\/10s/],
    ['RATE_LIMIT', '0/1s', /RATE_LIMIT must be/],
    ['RATE_LIMIT', '10/2d', /RATE_LIMIT must be/],
    ['METRICS_PORT', 'x', /METRICS_PORT must be a whole number/],
    ['METRICS_PORT', '3000', /METRICS_PORT must differ from PORT \(3000\)/],
    ['TRUST_PROXY', 'true', /TRUST_PROXY must be false, a number of proxy hops/],
    ['TRUST_PROXY', 'proxy.local', /"proxy.local" is none of them/],
  ])('refuses %s=%s', (name, value, expected) => {
    expect(problemsOf({ [name]: value }).join('\n')).toMatch(expected);
  });

  it('names every bad API variable in one error, next to the others', () => {
    const problems = problemsOf({
      API_TOKENS: 'ops:short',
      ALLOW_UNAUTHENTICATED: 'maybe',
      BODY_LIMIT: 'huge',
      PORT: 'x',
      ALLOWED_HOSTS: 'a b',
      ALLOWED_ORIGINS: 'nope',
      RATE_LIMIT: 'lots',
      METRICS_PORT: '-1',
      TRUST_PROXY: 'maybe',
    }).join('\n');
    const names = [
      'API_TOKENS',
      'ALLOW_UNAUTHENTICATED',
      'BODY_LIMIT',
      'PORT',
      'ALLOWED_HOSTS',
      'ALLOWED_ORIGINS',
    ];
    for (const name of [...names, 'RATE_LIMIT', 'METRICS_PORT', 'TRUST_PROXY'])
      expect(problems).toContain(name);
  });
});
