// docker-compose.yml, the Dockerfile and the deployment files they mount, checked by reading (no
// Docker engine runs here): every service the README and docs/deploy.md promise is there, and what
// they pass the program is what it accepts.

import { existsSync, readFileSync } from 'node:fs';
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
  volumes?: string[];
  hostname?: string;
  profiles?: string[];
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  restart?: string;
}

const compose = parse(readFileSync(projectPath('docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const dockerfile = readFileSync(projectPath('Dockerfile'), 'utf8');
const appServices = Object.entries(services).filter(([, s]) => s.build === '.');
/** What `docker compose up -d` starts: the services of no profile. */
const defaultServices = Object.entries(services).filter(([, s]) => s.profiles === undefined);
const clusterServices = Object.entries(services).filter(([, s]) => s.profiles?.includes('cluster'));
const rabbitNodes = clusterServices.filter(([, s]) => s.image?.startsWith('rabbitmq:'));

/** `${NAME:-default}` as compose would substitute it with NAME unset. */
function substitute(value: string): string {
  return String(value).replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_m, _name, fallback) => fallback ?? '');
}

/** The service's environment as the program would read it, and its roles from the command. */
function configOf(service: Service) {
  const env = Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([k, v]) => [k, substitute(v)]),
  );
  const roles =
    service.command?.[0] === 'start'
      ? parseRoles(service.command[2] ?? 'api,bridge,gateway').roles
      : undefined;
  return loadConfig(env, roles ? { roles } : {});
}

/** `./file:/target[:ro]` volumes of a service: its files mounted from the repository, by target. */
function mountedFiles(service: Service): Map<string, string> {
  const mounts = (service.volumes ?? []).filter((v) => v.startsWith('./'));
  return new Map(mounts.map((v) => [v.split(':')[1]!, v.split(':')[0]!]));
}

function isOneShot(service: Service): boolean {
  return service.command?.[0] === 'migrate';
}

describe('docker-compose.yml', () => {
  it('has postgres, rabbitmq with its management UI, a one-shot migrate, the app and two bridges', () => {
    expect(defaultServices.map(([name]) => name).sort()).toEqual([
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
      if (isOneShot(service)) continue;
      expect(service.healthcheck?.test, name).toBeDefined();
      expect(service.restart, name).toBe('unless-stopped');
    }
  });

  it('passes each app service an environment the program accepts, pointing at the compose services', () => {
    for (const [name, service] of appServices) {
      const config = configOf(service);
      expect(new URL(config.databaseUrl).hostname, name).toBe('postgres');
      if (!isOneShot(service)) {
        const brokers = config.rabbitmqUrls.map((url) => new URL(url).hostname);
        const expected = service.profiles ? rabbitNodes.map(([node]) => node) : ['rabbitmq'];
        expect(brokers, name).toEqual(expected);
      }
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

describe('docker-compose.yml, profile "cluster" (docs/deploy.md)', () => {
  const rabbitConf = readFileSync(projectPath('deploy', 'rabbitmq-cluster.conf'), 'utf8');
  const haproxyCfg = readFileSync(projectPath('deploy', 'haproxy.cfg'), 'utf8');
  /** `key = value` lines of the RabbitMQ config file. */
  const rabbitSettings = new Map(
    rabbitConf
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => line.split(/\s*=\s*/, 2) as [string, string]),
  );
  /** HAProxy directives, one per line, comments and indentation dropped. */
  const haproxyLines = haproxyCfg
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean);

  it('adds a three-node RabbitMQ cluster, a one-shot migrate, two app replicas, two bridges and a load balancer', () => {
    expect(clusterServices.map(([name]) => name).sort()).toEqual([
      'cluster-app',
      'cluster-bridge-a',
      'cluster-bridge-b',
      'cluster-migrate',
      'lb',
      'rabbit-1',
      'rabbit-2',
      'rabbit-3',
    ]);
    expect(services['cluster-app']!.command).toEqual(['start', '--role', 'api,gateway']);
    expect(services['cluster-app']!.deploy?.replicas).toBeGreaterThanOrEqual(2);
    expect(services['cluster-bridge-a']!.command).toEqual(['start', '--role', 'bridge']);
    expect(services['cluster-bridge-b']!.command).toEqual(['start', '--role', 'bridge']);
    expect(services['cluster-migrate']!.command).toEqual(['migrate', 'up']);
  });

  it('leaves `docker compose up -d` as it was: nothing of no profile depends on the cluster', () => {
    for (const [name, service] of defaultServices) {
      expect(service.profiles, name).toBeUndefined();
      for (const dependency of Object.keys(service.depends_on ?? {}))
        expect(services[dependency]!.profiles, `${name} → ${dependency}`).toBeUndefined();
    }
  });

  it('keeps the cluster roles on a database of their own, so two sets of bridges never share a change log', () => {
    const databases = (entries: [string, Service][]) =>
      new Set(
        entries.filter(([, s]) => s.build === '.').map(([, s]) => new URL(configOf(s).databaseUrl).pathname),
      );
    expect([...databases(clusterServices)]).toEqual(['/orders_live_cluster']);
    expect([...databases(defaultServices)]).toEqual(['/orders_live']);
  });

  it('starts lb with everything it fronts, so `--profile cluster up -d lb` brings up the whole profile', () => {
    const reached = new Set<string>();
    const visit = (name: string) => {
      if (reached.has(name)) return;
      reached.add(name);
      for (const dependency of Object.keys(services[name]!.depends_on ?? {})) visit(dependency);
    };
    visit('lb');
    for (const [name] of clusterServices) expect(reached, name).toContain(name);
    expect(services.lb!.depends_on?.['cluster-app']?.condition).toBe('service_healthy');
  });

  it('runs each RabbitMQ node under its own hostname and volume, with the image of the single node', () => {
    expect(rabbitNodes.map(([name]) => name)).toEqual(['rabbit-1', 'rabbit-2', 'rabbit-3']);
    const dataVolumes = new Set<string>();
    for (const [name, node] of rabbitNodes) {
      expect(node.image, name).toBe(services.rabbitmq!.image);
      expect(node.hostname, name).toBe(name);
      const data = node.volumes!.find((v) => v.endsWith(':/var/lib/rabbitmq'))!.split(':')[0]!;
      expect(compose.volumes, name).toHaveProperty(data);
      dataVolumes.add(data);
      expect(mountedFiles(node).get('/etc/rabbitmq/conf.d/20-cluster.conf'), name).toBe(
        './deploy/rabbitmq-cluster.conf',
      );
    }
    expect(dataVolumes.size).toBe(3);
    expect(services['rabbit-2']!.depends_on).toEqual({ 'rabbit-1': { condition: 'service_healthy' } });
    expect(services['rabbit-3']!.depends_on).toEqual({ 'rabbit-2': { condition: 'service_healthy' } });
  });

  it('clusters the nodes by one Erlang cookie and classic config peer discovery naming each of them', () => {
    const cookies = new Set(rabbitNodes.map(([, node]) => node.environment?.RABBITMQ_ERLANG_COOKIE));
    expect(cookies.size).toBe(1);
    expect([...cookies][0]).toMatch(/^\$\{RABBITMQ_ERLANG_COOKIE:-.+\}$/);
    expect(rabbitSettings.get('cluster_formation.peer_discovery_backend')).toBe('classic_config');
    const listed = [...rabbitSettings]
      .filter(([key]) => key.startsWith('cluster_formation.classic_config.nodes.'))
      .map(([, value]) => value);
    expect(listed).toEqual(rabbitNodes.map(([, node]) => `rabbit@${node.hostname}`));
  });

  it('points every cluster role at all three nodes, the API at the load balancer it trusts', () => {
    for (const [name, service] of clusterServices) {
      if (service.build !== '.' || isOneShot(service)) continue;
      const urls = configOf(service).rabbitmqUrls;
      expect(
        urls.map((url) => new URL(url).host),
        name,
      ).toEqual(['rabbit-1:5672', 'rabbit-2:5672', 'rabbit-3:5672']);
      for (const node of ['rabbit-1', 'rabbit-2', 'rabbit-3'])
        expect(service.depends_on?.[node]?.condition, `${name} → ${node}`).toBe('service_healthy');
      expect(service.depends_on?.['cluster-migrate']?.condition, name).toBe('service_completed_successfully');
    }
    expect(configOf(services['cluster-app']!).trustProxy).toBe(1);
    expect(services['cluster-app']!.ports).toBeUndefined();
  });

  it('balances round robin over the replicas that answer /readyz, with websockets kept open', () => {
    const lb = services.lb!;
    expect(lb.image).toMatch(/^haproxy:\d/);
    expect(mountedFiles(lb).get('/usr/local/etc/haproxy/haproxy.cfg')).toBe('./deploy/haproxy.cfg');
    expect(lb.ports!.every((p) => p.startsWith('127.0.0.1:'))).toBe(true);
    expect(lb.ports).toContain('127.0.0.1:8080:8080');
    expect(haproxyLines).toContain('bind :8080');
    expect(haproxyLines).toContain('balance roundrobin');
    expect(haproxyLines).toContain('option forwardfor');
    expect(haproxyLines.some((l) => /^timeout tunnel \d+[smh]$/.test(l))).toBe(true);
    expect(haproxyLines).toContain('http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost');
    expect(haproxyLines).toContain('http-check expect status 200');
    const port = configOf(services['cluster-app']!).port;
    const server = haproxyLines.find((l) => l.startsWith('server-template '))!;
    expect(server).toMatch(new RegExp(`^server-template app \\d+ cluster-app:${port}$`));
    expect(haproxyLines.find((l) => l.startsWith('default-server '))).toMatch(
      /\bcheck\b.*\bresolvers docker\b/,
    );
    expect(lb.healthcheck!.test.join(' ')).toContain('http://127.0.0.1:8404/healthz');
    expect(haproxyLines).toContain('monitor-uri /healthz');
  });

  it('mounts only files that exist in the repository', () => {
    for (const [name, service] of Object.entries(services))
      for (const file of mountedFiles(service).values())
        expect(existsSync(projectPath(file)), `${name}: ${file}`).toBe(true);
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
