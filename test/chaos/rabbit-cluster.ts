// A RabbitMQ cluster of the test run's own: three nodes of Debian's rabbitmq-server beside the
// shared rabbit@localhost (which it never touches), each with its own node name, AMQP and
// distribution ports and data directory, joined with `rabbitmqctl join_cluster`. Nodes can be
// stopped and started again (a restarted node rejoins by itself). Node names and directories
// carry the pid of the vitest run, so a later run can tell a dead run's leftovers and remove them
// (`removeBrokerNodesOfRuns`, from the global setup). Booting and joining three nodes: ~9 s.

import { execFile, execFileSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import { waitFor } from '../helpers/wait.js';
import { freePort } from './free-port.js';

const run = promisify(execFile);

/** `orders_live_chaos_<run pid>_n1@localhost`; its data in `<tmp>/orders-live-chaos-<run pid>-…/n1`. */
const NODE_PREFIX = 'orders_live_chaos_';
const DIR_PREFIX = 'orders-live-chaos-';
/** A node boots in 2–4 s on the 2-core CI machine; a restarted one also syncs with its peers. */
const BOOT_TIMEOUT_MS = 60_000;
/** rabbitmqctl starts an Erlang VM of its own (~1 s) before it does anything. */
const CTL_TIMEOUT_MS = 60_000;

export interface BrokerNode {
  /** The Erlang node name, `orders_live_chaos_<pid>_n1@localhost`. */
  readonly name: string;
  /** `n1`, `n2`, …: the node's place in the cluster, for reports. */
  readonly label: string;
  /** AMQP port on 127.0.0.1. */
  readonly port: number;
  /** `amqp://guest:guest@127.0.0.1:<port>` (guest may log in over loopback). */
  readonly url: string;
  /** `127.0.0.1:<port>`, as /readyz names the node a link is on. */
  readonly address: string;
  readonly running: boolean;
}

export interface RabbitCluster {
  readonly nodes: readonly BrokerNode[];
  /** Every node's URL, in node order. */
  urls(): string[];
  /** The node listening at `host:port` (what /readyz reports). */
  nodeAt(address: string): BrokerNode;
  /** Stops the node (`rabbitmqctl stop`) and waits until its process has exited. */
  stop(node: BrokerNode): Promise<void>;
  /** Boots a stopped node again; resolves once it runs in the cluster. */
  start(node: BrokerNode): Promise<void>;
  /** Names of the nodes the cluster sees running, asked of `via` (any running node). */
  runningNodes(via?: BrokerNode): Promise<string[]>;
  /** Stops every node and deletes the data directories. Idempotent. */
  close(): Promise<void>;
}

interface NodeState extends BrokerNode {
  running: boolean;
  readonly env: Record<string, string>;
  readonly pidFile: string;
}

export async function startRabbitCluster(options: { runPid: number; size?: number }): Promise<RabbitCluster> {
  const { runPid, size = 3 } = options;
  const dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${runPid}-`));
  chownToRabbitmq(dir);
  const nodes: NodeState[] = [];
  let closed = false;

  const cluster: RabbitCluster = {
    nodes,
    urls: () => nodes.map((n) => n.url),
    nodeAt(address) {
      const node = nodes.find((n) => n.address === address);
      if (!node) throw new Error(`no broker node of this cluster at ${address}`);
      return node;
    },
    async stop(node) {
      const state = node as NodeState;
      await ctl(state.name, 'stop', state.pidFile);
      state.running = false;
    },
    async start(node) {
      const state = node as NodeState;
      await boot(state);
      await waitFor(async () => (await cluster.runningNodes(state)).length === nodes.length, {
        timeoutMs: BOOT_TIMEOUT_MS,
        intervalMs: 500,
        what: `${state.name} back in the cluster`,
      });
    },
    async runningNodes(via = nodes.find((n) => n.running)) {
      if (!via) return [];
      const { stdout } = await ctl(via.name, 'cluster_status', '--formatter', 'json');
      return (JSON.parse(stdout) as { running_nodes: string[] }).running_nodes;
    },
    async close() {
      if (closed) return;
      closed = true;
      // A node that does not stop when told is killed: its directory goes next.
      await Promise.all(
        nodes
          .filter((n) => n.running)
          .map((n) => cluster.stop(n).catch(() => killByPidFile(n.pidFile, n.name.split('@')[0]!))),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    for (let i = 1; i <= size; i++) nodes.push(await prepareNode(dir, `${NODE_PREFIX}${runPid}_n${i}`, i));
    await Promise.all(nodes.map(boot));
    const [first, ...others] = nodes;
    for (const node of others) {
      await ctl(node.name, 'stop_app');
      await ctl(node.name, 'join_cluster', first!.name);
      await ctl(node.name, 'start_app');
    }
    const running = await cluster.runningNodes(first);
    if (running.length !== size) throw new Error(`cluster formed with ${running.join(', ')} only`);
  } catch (e) {
    await cluster.close();
    throw e;
  }
  return cluster;
}

/** A node's directory, config and environment; nothing started yet. */
async function prepareNode(dir: string, shortName: string, index: number): Promise<NodeState> {
  const home = join(dir, `n${index}`);
  mkdirSync(home);
  const port = await freePort();
  const distPort = await freePort();
  const configFile = join(home, 'rabbitmq.conf');
  // /etc/rabbitmq/rabbitmq.conf pins the listener to 5672 (the shared node's): this file replaces it.
  writeFileSync(configFile, `listeners.tcp.local = 127.0.0.1:${port}\nlog.console = false\n`);
  const pluginsFile = join(home, 'enabled_plugins');
  writeFileSync(pluginsFile, '[].\n');
  for (const path of [home, configFile, pluginsFile]) chownToRabbitmq(path);
  const name = `${shortName}@localhost`;
  const pidFile = join(home, 'rabbitmq.pid');
  return {
    name,
    label: `n${index}`,
    port,
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    address: `127.0.0.1:${port}`,
    running: false,
    pidFile,
    env: {
      RABBITMQ_NODENAME: name,
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_CONFIG_FILE: configFile,
      RABBITMQ_ENABLED_PLUGINS_FILE: pluginsFile,
      RABBITMQ_MNESIA_BASE: join(home, 'mnesia'),
      RABBITMQ_LOG_BASE: join(home, 'log'),
      RABBITMQ_PID_FILE: pidFile,
    },
  };
}

/** `rabbitmq-server -detached` returns at once: the node is up when it takes AMQP connections. */
async function boot(node: NodeState): Promise<void> {
  await run('rabbitmq-server', ['-detached'], {
    cwd: tmpdir(),
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...node.env },
    timeout: CTL_TIMEOUT_MS,
  }).catch((e: unknown) => {
    // Debian's wrapper says on stdout why it refused ("Only root or rabbitmq should run …").
    const { stdout, stderr, message } = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `rabbitmq-server -detached (${node.name}): ${`${stdout ?? ''}${stderr ?? ''}`.trim() || message}`,
    );
  });
  node.running = true;
  await waitFor(() => amqpAnswers(node.url), {
    timeoutMs: BOOT_TIMEOUT_MS,
    intervalMs: 250,
    what: `${node.name} taking AMQP connections on ${node.address}`,
  });
}

async function amqpAnswers(url: string): Promise<boolean> {
  const connection = await amqp.connect(url);
  await connection.close();
  return true;
}

/** `rabbitmqctl -n <node> …` (as root it runs as the rabbitmq user, with its Erlang cookie). */
function ctl(node: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('rabbitmqctl', ['-q', '-n', node, ...args], { timeout: CTL_TIMEOUT_MS }).catch((e: unknown) => {
    const { stderr, message } = e as { stderr?: string; message: string };
    throw new Error(`rabbitmqctl -n ${node} ${args.join(' ')}: ${stderr?.trim() || message}`);
  });
}

/** The node runs as the rabbitmq user: its files must be that user's (the tests run as root). */
function chownToRabbitmq(path: string): void {
  if (process.getuid?.() !== 0) return;
  const [, , uid, gid] = execFileSync('getent', ['passwd', 'rabbitmq'], { encoding: 'utf8' }).split(':');
  chownSync(path, Number(uid), Number(gid));
}

/**
 * Stops the broker nodes of runs that are over (`isOver(pid)`: the run's pid is gone) and deletes
 * their directories: nodes are detached processes, so a run killed before its afterAll leaves
 * them running, holding ports and memory. Returns the names of the nodes it stopped.
 */
export async function removeBrokerNodesOfRuns(isOver: (pid: number) => boolean): Promise<string[]> {
  const runPidOf = (name: string, prefix: string) => Number(name.slice(prefix.length).split(/[-_]/)[0]);
  const dirs = readdirSync(tmpdir())
    .filter((d) => d.startsWith(DIR_PREFIX) && isOver(runPidOf(d, DIR_PREFIX)))
    .map((d) => join(tmpdir(), d));
  const stale = (await epmdNames()).filter(
    (short) => short.startsWith(NODE_PREFIX) && isOver(runPidOf(short, NODE_PREFIX)),
  );
  await Promise.all(
    stale.map(async (short) => {
      const pidFile = dirs
        .map((d) => join(d, short.slice(short.lastIndexOf('_') + 1), 'rabbitmq.pid'))
        .find((f) => existsSync(f));
      // With its pid file, `stop` returns once the process has exited, not merely been told to.
      await ctl(`${short}@localhost`, 'stop', ...(pidFile ? [pidFile] : [])).catch(() =>
        killByPidFile(pidFile, short),
      );
    }),
  );
  for (const dir of dirs) {
    // A node that would not stop (or left epmd already): its process, by the pid it wrote.
    for (const node of readdirSync(dir)) killByPidFile(join(dir, node, 'rabbitmq.pid'), NODE_PREFIX);
    rmSync(dir, { recursive: true, force: true });
  }
  return stale.map((short) => `${short}@localhost`);
}

/** Node names registered with epmd (short names); none when epmd is not there. */
async function epmdNames(): Promise<string[]> {
  try {
    const { stdout } = await run('epmd', ['-names'], { timeout: 10_000 });
    return [...stdout.matchAll(/^name (\S+) at port/gm)].map((m) => m[1]!);
  } catch {
    return [];
  }
}

/** SIGKILL for the process in `pidFile`, if it still runs and is the node (`marker` in its command line). */
function killByPidFile(pidFile: string | undefined, marker: string): void {
  if (!pidFile || !existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  try {
    if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)) process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}
