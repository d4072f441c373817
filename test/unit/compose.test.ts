// docker-compose.yml and the Dockerfile, checked by reading (no Docker engine runs here): every
// service the README promises is there, and what they pass the program is what it accepts.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkExposure } from '../../src/api/auth.js';
import { loadConfig, parseRoles } from '../../src/config.js';
import { projectPath } from '../../src/paths.js';

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  restart?: string;
}

const compose = parse(readFileSync(projectPath('docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;
const dockerfile = readFileSync(projectPath('Dockerfile'), 'utf8');
const appServices = Object.entries(services).filter(([, s]) => s.build === '.');

/** `${NAME:-default}` as compose would substitute it with NAME unset. */
function substitute(value: string): string {
  return String(value).replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_m, _name, fallback) => fallback ?? '');
}

describe('docker-compose.yml', () => {
  it('has postgres, rabbitmq with its management UI, a one-shot migrate, the app and two bridges', () => {
    expect(Object.keys(services).sort()).toEqual([
      'app',
      'bridge-a',
      'bridge-b',
      'migrate',
      'postgres',
      'rabbitmq',
    ]);
    expect(services.rabbitmq!.image).toMatch(/management/);
    expect(services.rabbitmq!.ports).toContain('127.0.0.1:15672:15672');
    expect(services.migrate!.command).toEqual(['migrate', 'up']);
    expect(services.migrate!.restart).toBe('no');
    expect(services.app!.command).toEqual(['start', '--role', 'api,gateway']);
    expect(services['bridge-a']!.command).toEqual(['start', '--role', 'bridge']);
    expect(services['bridge-b']!.command).toEqual(['start', '--role', 'bridge']);
  });

  it('gives every long-running service a health check and a restart policy', () => {
    for (const [name, service] of Object.entries(services)) {
      if (name === 'migrate') continue;
      expect(service.healthcheck?.test, name).toBeDefined();
      expect(service.restart, name).toBe('unless-stopped');
    }
  });

  it('passes each app service an environment the program accepts, pointing at the compose services', () => {
    for (const [name, service] of appServices) {
      const env = Object.fromEntries(
        Object.entries(service.environment ?? {}).map(([k, v]) => [k, substitute(v)]),
      );
      const roles =
        service.command?.[0] === 'start'
          ? parseRoles(service.command[2] ?? 'api,bridge,gateway').roles
          : undefined;
      const config = loadConfig(env, roles ? { roles } : {});
      expect(new URL(config.databaseUrl).hostname, name).toBe('postgres');
      if (name !== 'migrate') expect(new URL(config.rabbitmqUrls[0]!).hostname, name).toBe('rabbitmq');
      for (const dependency of Object.keys(service.depends_on ?? {}))
        expect(services[dependency], `${name} → ${dependency}`).toBeDefined();
    }
  });

  it('maps the app port the program listens on', () => {
    const port = loadConfig(
      Object.fromEntries(Object.entries(services.app!.environment ?? {}).map(([k, v]) => [k, substitute(v)])),
    ).port;
    expect(services.app!.ports!.every((p) => p.endsWith(`:${port}`))).toBe(true);
    expect(services.app!.healthcheck!.test.join(' ')).toContain(`127.0.0.1:${port}/readyz`);
  });

  it('refuses to expose any role without tokens unless the user sets a token or opts out', () => {
    const env = services.app!.environment!;
    expect(substitute(env.API_TOKENS ?? '')).toBe('');
    expect(substitute(env.ALLOW_UNAUTHENTICATED ?? '')).toBe('false');
    expect(env.API_TOKENS).toMatch(/\$\{API_TOKENS/);
    for (const [name, service] of appServices) {
      if (service.command?.[0] !== 'start') continue;
      const vars = Object.fromEntries(
        Object.entries(service.environment ?? {}).map(([k, v]) => [k, substitute(v)]),
      );
      const roles = parseRoles(service.command[2] ?? 'api,bridge,gateway').roles;
      expect(checkExposure(loadConfig(vars, { roles })), name).toMatch(/^HOST=0.0.0.0 accepts connections/);
    }
  });
});

describe('Dockerfile', () => {
  const pkg = JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as {
    bin: Record<string, string>;
    engines: { node: string };
  };

  it('builds in one stage and runs the built CLI in another', () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^FROM node:20\S* AS build$/m);
    expect(dockerfile).toContain('RUN npm run build');
    expect(dockerfile).toContain(`ENTRYPOINT ["node", "${pkg.bin['orders-live']}"]`);
    expect(dockerfile).toContain('COPY --from=build /app/migrations migrations');
    expect(dockerfile).toContain('COPY --from=build /app/web/dist web/dist');
    expect(dockerfile).toMatch(/^USER node$/m);
  });
});
