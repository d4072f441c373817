// HAProxy in front of the gateways, as a deployment runs them behind a load balancer: Debian's
// haproxy as a child process in the foreground, with a config generated into a directory of its
// own. Round robin over the gateways' HTTP ports (the REST API and the websockets alike), each
// server checked on /readyz every 500 ms: two failed checks take it out, one good one puts it
// back. A connection refused by a dead gateway is redispatched to another at once. The directory
// carries the run's pid and holds the child's, so a later run can end a proxy a dead run left.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../helpers/wait.js';
import { freePort } from './free-port.js';

export const HAPROXY_PATH = process.env.HAPROXY_PATH ?? '/usr/sbin/haproxy';
const DIR_PREFIX = 'orders-live-haproxy-';

/** What `npm test` says when HAProxy is not installed (scripts/check-test-setup.ts); null when it is. */
export function haproxyProblem(): string | null {
  if (existsSync(HAPROXY_PATH)) return null;
  return `HAProxy not found at ${HAPROXY_PATH} (the broker-cluster fault matrix needs it): install Debian's package (sudo apt-get install -y haproxy) or set HAPROXY_PATH`;
}

export interface Backend {
  name: string;
  port: number;
}

export type ServerStatus = 'UP' | 'DOWN' | 'MAINT' | string;

export interface Haproxy {
  /** `http://127.0.0.1:<port>`: the one address clients and writers are given. */
  readonly url: string;
  /** Each backend server's state as HAProxy's health checks see it, by name. */
  servers(): Promise<Record<string, ServerStatus>>;
  /** Everything haproxy printed. */
  output(): string;
  /** Stops haproxy and deletes its directory. Idempotent. */
  close(): Promise<void>;
}

export async function startHaproxy(options: { runPid: number; backends: Backend[] }): Promise<Haproxy> {
  const dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${options.runPid}-`));
  const port = await freePort();
  const socket = join(dir, 'admin.sock');
  const configFile = join(dir, 'haproxy.cfg');
  writeFileSync(configFile, config(port, socket, options.backends));
  const child = spawn(HAPROXY_PATH, ['-f', configFile, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const exited = once(child, 'exit');
  writeFileSync(join(dir, 'haproxy.pid'), `${child.pid}\n`);
  const stopOnExit = () => child.kill('SIGKILL');
  process.once('exit', stopOnExit);
  let closed = false;
  const proxy: Haproxy = {
    url: `http://127.0.0.1:${port}`,
    servers: async () => serverStates(await adminCommand(socket, 'show stat')),
    output: () => text,
    async close() {
      if (closed) return;
      closed = true;
      process.removeListener('exit', stopOnExit);
      await stop(child, exited);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    // Up once every gateway passed its first check: the writers and observers start right after.
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`haproxy exited: ${text}`);
        const states = await proxy.servers();
        return options.backends.every((b) => states[b.name] === 'UP');
      },
      { timeoutMs: 15_000, intervalMs: 100, what: `haproxy with every gateway up (output: ${text})` },
    );
  } catch (e) {
    await proxy.close();
    throw e;
  }
  return proxy;
}

function config(port: number, socket: string, backends: Backend[]): string {
  return `global
  stats socket ${socket} mode 600 level admin

defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  # A websocket, once upgraded, is a tunnel: idle for up to this long (socket.io pings every 25 s).
  timeout tunnel 1h
  # A request whose gateway refused the connection (killed) goes to another one.
  option redispatch
  retries 3

frontend gateways
  bind 127.0.0.1:${port}
  default_backend gateways

backend gateways
  balance roundrobin
  option httpchk
  # The API answers only loopback Host names without tokens: the check says which.
  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1
  http-check expect status 200
  default-server inter 500ms fall 2 rise 1
${backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port} check`).join('\n')}
`;
}

/** One command on the admin socket; HAProxy answers and closes the connection. */
function adminCommand(path: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const connection = net.connect(path, () => connection.end(`${command}\n`));
    connection.on('data', (chunk: Buffer) => {
      answer += chunk.toString();
    });
    connection.on('end', () => resolve(answer));
    connection.on('error', reject);
  });
}

/** `show stat` is CSV (header line starting "# "): the status column of each server row. */
function serverStates(csv: string): Record<string, ServerStatus> {
  const [header, ...rows] = csv.trim().split('\n');
  const columns = (header ?? '').replace(/^# /, '').split(',');
  const name = columns.indexOf('svname');
  const status = columns.indexOf('status');
  return Object.fromEntries(
    rows
      .map((row) => row.split(','))
      .filter((cells) => cells[name] !== 'FRONTEND' && cells[name] !== 'BACKEND')
      .map((cells) => [cells[name]!, cells[status]!.split(' ')[0]!]),
  );
}

async function stop(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await exited;
}

/**
 * Ends the haproxy processes of runs that are over (`isOver(pid)`) and deletes their directories:
 * a run killed before its afterAll leaves the child running on its port.
 */
export function removeHaproxyOfRuns(isOver: (pid: number) => boolean): string[] {
  const removed: string[] = [];
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(DIR_PREFIX)) continue;
    if (!isOver(Number(entry.slice(DIR_PREFIX.length).split('-')[0]))) continue;
    const dir = join(tmpdir(), entry);
    const pidFile = join(dir, 'haproxy.pid');
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      try {
        // Only that haproxy: the pid may have been reused since.
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}
