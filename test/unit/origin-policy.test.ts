// The Host and Origin rules: loopback names only without tokens (DNS rebinding), the server's own
// origin and ALLOWED_ORIGINS for browsers (cross-site sockets), no Origin for CLIs and services.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createOriginPolicy, hostName } from '../../src/api/origin-policy.js';

const local = createOriginPolicy({ tokensRequired: false, allowedHosts: [], allowedOrigins: [] });
const tokens = createOriginPolicy({ tokensRequired: true, allowedHosts: [], allowedOrigins: [] });
const deployed = createOriginPolicy({
  tokensRequired: false,
  allowedHosts: ['orders.example.com', '.corp.example'],
  allowedOrigins: ['https://wall.example.com', 'http://localhost:5173'],
});

/** Host names that are not loopback ones: letters only, so never an address or "localhost". */
const foreignName = fc
  .array(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z]$/), { minLength: 1, maxLength: 3 })
  .map((labels) => [...labels, 'example'].join('.'));
const port = fc.integer({ min: 1, max: 65_535 });

describe('hostProblem', () => {
  it.each([
    'localhost',
    'localhost:3000',
    'LOCALHOST:3000',
    'localhost.:3000',
    'app.localhost:3000',
    '127.0.0.1:3000',
    '127.9.9.9',
    '[::1]:3000',
    '[::1]',
  ])('serves the loopback name %s without tokens', (host) => {
    expect(local.hostProblem(host)).toBeNull();
  });

  it('refuses every other name without tokens, saying how to allow it', () => {
    fc.assert(
      fc.property(foreignName, fc.option(port, { nil: undefined }), (name, p) => {
        const host = p === undefined ? name : `${name}:${p}`;
        const problem = local.hostProblem(host);
        expect(problem).toContain(`Host "${host}" is not a name of this server`);
        expect(problem).toContain('ALLOWED_HOSTS');
      }),
    );
  });

  it.each([
    ['a rebinding name', 'attacker.example:3000'],
    ['a LAN address', '192.168.1.20:3000'],
    ['a name ending in localhost', 'evil-localhost:3000'],
    ['a name starting with 127', '127.0.0.1.nip.io'],
    ['no Host', undefined],
    ['a Host with a path', 'localhost/x'],
    ['a Host with credentials', 'user@localhost'],
  ])('refuses %s without tokens', (_what, host) => {
    expect(local.hostProblem(host)).not.toBeNull();
  });

  it('serves ALLOWED_HOSTS, a leading dot taking the domain and its subdomains', () => {
    expect(deployed.hostProblem('orders.example.com')).toBeNull();
    expect(deployed.hostProblem('ORDERS.example.com:8443')).toBeNull();
    expect(deployed.hostProblem('corp.example')).toBeNull();
    expect(deployed.hostProblem('a.b.corp.example')).toBeNull();
    expect(deployed.hostProblem('evilcorp.example')).not.toBeNull();
    expect(deployed.hostProblem('orders.example.com.evil.example')).not.toBeNull();
    expect(deployed.hostProblem('localhost:3000')).toBeNull();
  });

  it('serves any name once tokens are configured, and ALLOWED_HOSTS still limits it', () => {
    fc.assert(
      fc.property(foreignName, (name) => {
        expect(tokens.hostProblem(name)).toBeNull();
      }),
    );
    const limited = createOriginPolicy({
      tokensRequired: true,
      allowedHosts: ['orders.example.com'],
      allowedOrigins: [],
    });
    expect(limited.hostProblem('orders.example.com')).toBeNull();
    expect(limited.hostProblem('other.example')).toMatch(/add it to ALLOWED_HOSTS/);
  });

  it('cuts a long Host in its message', () => {
    const host = `${'a'.repeat(5_000)}.example`;
    expect(local.hostProblem(host)!.length).toBeLessThan(400);
  });
});

describe('originProblem', () => {
  it('admits requests without Origin: CLIs and services', () => {
    expect(local.originProblem(undefined, 'localhost:3000')).toBeNull();
  });

  it("admits the server's own origin, whatever name it is reached by", () => {
    fc.assert(
      fc.property(
        fc.constantFrom('http', 'https'),
        fc.oneof(foreignName, fc.constant('localhost'), fc.constant('127.0.0.1')),
        port,
        (scheme, name, p) => {
          expect(local.originProblem(`${scheme}://${name}:${p}`, `${name}:${p}`)).toBeNull();
        },
      ),
    );
    // A default port is absent from the Origin and may be absent from Host too.
    expect(local.originProblem('https://orders.example.com', 'orders.example.com')).toBeNull();
    expect(local.originProblem('https://orders.example.com', 'orders.example.com:443')).toBeNull();
    expect(local.originProblem('http://[::1]:3000', '[::1]:3000')).toBeNull();
  });

  it('refuses any other origin: another port, scheme or name is another site', () => {
    fc.assert(
      fc.property(foreignName, port, port, (name, a, b) => {
        fc.pre(a !== b);
        expect(local.originProblem(`http://${name}:${a}`, `localhost:${b}`)).toMatch(
          /may not use this server: only its own origin/,
        );
        expect(local.originProblem(`http://localhost:${a}`, `localhost:${b}`)).not.toBeNull();
      }),
    );
    expect(local.originProblem('https://localhost:3000', 'localhost:3000')).toBeNull();
    expect(local.originProblem('http://127.0.0.1:3000', 'localhost:3000')).not.toBeNull();
  });

  it.each(['null', 'file://', 'chrome-extension://abc', 'not a url', ''])('refuses Origin "%s"', (origin) => {
    expect(local.originProblem(origin, 'localhost:3000')).not.toBeNull();
  });

  it('admits ALLOWED_ORIGINS exactly, and reports them as cross-origin for CORS', () => {
    expect(deployed.originProblem('https://wall.example.com', 'orders.example.com')).toBeNull();
    expect(deployed.originProblem('http://localhost:5173', 'localhost:3000')).toBeNull();
    expect(deployed.originProblem('http://wall.example.com', 'orders.example.com')).toMatch(
      /and https:\/\/wall.example.com, http:\/\/localhost:5173/,
    );
    expect(deployed.originProblem('https://wall.example.com:8443', 'orders.example.com')).not.toBeNull();
    expect(deployed.isAllowedCrossOrigin('https://wall.example.com')).toBe(true);
    expect(deployed.isAllowedCrossOrigin('https://orders.example.com')).toBe(false);
  });
});

describe('hostName', () => {
  it.each([
    ['localhost:3000', 'localhost'],
    ['Example.COM', 'example.com'],
    ['[::1]:80', '::1'],
    ['example.com.', 'example.com'],
    ['a b', undefined],
    ['', undefined],
    ['host:port', undefined],
  ])('reads %s as %s', (host, name) => {
    expect(hostName(host)).toBe(name);
  });
});
