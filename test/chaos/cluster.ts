// The system as separate processes, as it runs in production: two api+gateway processes and two
// bridges, each the real CLI. Processes can be killed and started again (a gateway on its port).

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type CliProcess, startCli } from '../helpers/process.js';

export type Member = 'gateway-a' | 'gateway-b' | 'bridge-a' | 'bridge-b';
export const MEMBERS: readonly Member[] = ['gateway-a', 'gateway-b', 'bridge-a', 'bridge-b'];

export interface Cluster {
  /** URLs of the gateways currently running. */
  gatewayUrls(): string[];
  /** Every gateway URL, running or not (clients keep trying both). */
  allGatewayUrls(): string[];
  /** The member's HTTP address, its latest (a bridge's serves /healthz, /readyz and /metrics). */
  url(member: Member): string;
  /** The running member's process id. */
  pid(member: Member): number;
  /** The JSON log lines of the member's running process so far. */
  logs(member: Member): readonly Record<string, unknown>[];
  leader(): Promise<Member>;
  kill(member: Member, signal?: NodeJS.Signals): Promise<number | string>;
  start(member: Member): Promise<void>;
  stopAll(): Promise<void>;
  /** Writes every process's output (killed ones included) to `<prefix>-<member>-<n>.log`. */
  saveLogs(prefix: string): void;
}

/**
 * Starts the four members with `env`; `envFor` adds to it per member (a broker URL list starting
 * on a different node, say).
 */
export async function startCluster(
  env: Record<string, string>,
  envFor: (member: Member) => Record<string, string> = () => ({}),
): Promise<Cluster> {
  const running = new Map<Member, CliProcess>();
  const all: { member: Member; proc: CliProcess }[] = [];
  const ports = new Map<Member, number>();

  async function start(member: Member): Promise<void> {
    const gateway = member.startsWith('gateway');
    // A gateway comes back on its port (clients and the load balancer know it); a bridge anywhere.
    const port = gateway ? (ports.get(member) ?? 0) : 0;
    const proc = startCli(['start', '--role', gateway ? 'api,gateway' : 'bridge', '--port', String(port)], {
      ...env,
      ...envFor(member),
    });
    running.set(member, proc);
    all.push({ member, proc });
    const started = await proc.waitForLog({ msg: 'orders-live started' }, 20_000);
    ports.set(member, Number(new URL(String(started.url)).port));
  }

  const cluster: Cluster = {
    gatewayUrls: () =>
      (['gateway-a', 'gateway-b'] as const)
        .filter((m) => running.has(m))
        .map((m) => `http://127.0.0.1:${ports.get(m)}`),
    allGatewayUrls: () =>
      (['gateway-a', 'gateway-b'] as const).map((m) => `http://127.0.0.1:${ports.get(m)}`),
    url: (member) => `http://127.0.0.1:${ports.get(member)}`,
    pid(member) {
      const pid = running.get(member)?.child.pid;
      if (pid === undefined) throw new Error(`${member} is not running`);
      return pid;
    },
    logs: (member) => running.get(member)?.logs ?? [],
    async leader() {
      for (;;) {
        for (const m of ['bridge-a', 'bridge-b'] as const) {
          const proc = running.get(m);
          const states = proc?.logs.filter((l) => typeof l.state === 'string').map((l) => l.state);
          if (states?.at(-1) === 'leader') return m;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async kill(member, signal = 'SIGKILL') {
      const proc = running.get(member);
      running.delete(member);
      return proc ? proc.kill(signal) : 'not running';
    },
    start,
    saveLogs(prefix) {
      mkdirSync(dirname(prefix), { recursive: true });
      for (const [i, { member, proc }] of all.entries())
        writeFileSync(`${prefix}-${member}-${i}.log`, proc.output());
    },
    async stopAll() {
      await Promise.all([...running.keys()].map((m) => cluster.kill(m, 'SIGTERM')));
    },
  };
  await Promise.all(MEMBERS.map(start));
  return cluster;
}
