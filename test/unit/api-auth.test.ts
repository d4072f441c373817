import { describe, expect, it } from 'vitest';
import { checkExposure, createTokenVerifier, isLoopback } from '../../src/api/auth.js';

const TOKENS = [
  { name: 'ops', token: 'ops-token-0123456789abcdef', access: 'write' },
  { name: 'wall', token: 'wall-token-fedcba9876543210', access: 'read' },
] as const;

describe('createTokenVerifier', () => {
  const verify = createTokenVerifier(TOKENS);

  it('names the caller of each configured token and what it may do', () => {
    expect(verify('ops-token-0123456789abcdef')).toEqual({ name: 'ops', access: 'write' });
    expect(verify('wall-token-fedcba9876543210')).toEqual({ name: 'wall', access: 'read' });
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['a prefix', 'ops-token-0123456789abcde'],
    ['longer', 'ops-token-0123456789abcdef0'],
    ['another case', 'OPS-TOKEN-0123456789ABCDEF'],
    ['a name', 'ops'],
  ])('refuses a token that is %s', (_what, token) => {
    expect(verify(token)).toBeNull();
  });

  it('refuses everything when no token is configured', () => {
    expect(createTokenVerifier([])('ops-token-0123456789abcdef')).toBeNull();
  });
});

describe('checkExposure', () => {
  const open = { apiTokens: [], allowUnauthenticated: false, roles: ['api', 'bridge', 'gateway'] } as const;

  it.each(['127.0.0.1', '127.8.9.10', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1'])(
    'allows loopback %s without tokens',
    (host) => {
      expect(checkExposure({ ...open, host })).toBeNull();
    },
  );

  it.each(['0.0.0.0', '::', '192.168.1.20', '10.0.0.1', 'orders.internal', '128.0.0.1'])(
    'refuses %s without tokens, saying how to fix it',
    (host) => {
      const message = checkExposure({ ...open, host });
      expect(message).toContain(`HOST=${host}`);
      expect(message).toMatch(/API_TOKENS=name:token/);
      expect(message).toMatch(/ALLOW_UNAUTHENTICATED=true/);
    },
  );

  it.each([
    [['gateway'], /follow every change of every order/],
    [['bridge'], /read its metrics/],
    [['api'], /read, create, change and delete orders/],
  ] as const)(
    'refuses a %s-only process beyond loopback too, saying what it would expose',
    (roles, exposed) => {
      expect(checkExposure({ ...open, roles, host: '0.0.0.0' })).toMatch(exposed);
    },
  );

  it('allows any host once a token is configured', () => {
    expect(checkExposure({ ...open, host: '0.0.0.0', apiTokens: TOKENS })).toBeNull();
  });

  it('allows any host after the explicit opt-out', () => {
    expect(checkExposure({ ...open, host: '0.0.0.0', allowUnauthenticated: true })).toBeNull();
  });
});

describe('isLoopback', () => {
  it('knows IPv4-mapped loopback and rejects look-alike names', () => {
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopback('localhost.example.com')).toBe(false);
    expect(isLoopback('127.0.0.1.nip.io')).toBe(false);
  });
});
