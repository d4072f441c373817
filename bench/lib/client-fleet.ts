// The parent's side of bench/socket-clients.ts: starts the child, aligns the two clocks, forwards
// commit times in small batches, and asks for status and for each window's latencies.

import {
  type CommitBatch,
  clockMs,
  type FleetMode,
  type FleetReply,
  type FleetRequest,
  type FleetStatus,
  type FleetWindow,
} from './fleet-protocol.js';
import type { ProcessGroup } from './process-group.js';
import { waitFor } from './wait-for.js';

/** Round trips used to align the clocks; the one with the shortest round trip wins. */
const CLOCK_PINGS = 30;
/** Commit times are forwarded at most this late; latencies do not depend on it. */
const COMMIT_FLUSH_MS = 10;

export interface ClientFleet {
  readonly pid: number;
  /** Child clock − parent clock, and the bound on its error (half the best round trip). */
  readonly clock: { offsetMs: number; uncertaintyMs: number };
  /** Announces rows committed at `committedAt` (performance.now() of this process). */
  commit(keys: readonly number[], committedAt: number): void;
  status(): Promise<FleetStatus>;
  /** Waits until every committed event reached every client. */
  waitDelivered(timeoutMs: number): Promise<FleetStatus>;
  /** This window's measurements; the next window starts empty. */
  collect(): Promise<FleetWindow>;
  close(): Promise<void>;
}

export interface FleetOptions {
  name: string;
  url: string;
  count: number;
  mode: FleetMode;
}

type Request = FleetRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export async function startClientFleet(group: ProcessGroup, options: FleetOptions): Promise<ClientFleet> {
  const child = group.spawn(options.name, 'bench/socket-clients.ts', [], { ipc: true });
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  child.child.on('message', (reply: FleetReply) => {
    const w = waiting.get(reply.id);
    waiting.delete(reply.id);
    if (reply.ok) w?.resolve(reply.value);
    else w?.reject(new Error(`${options.name}: ${reply.error}`));
  });
  void child.exited.then(() => {
    for (const w of waiting.values()) w.reject(new Error(`${options.name} exited:\n${child.output()}`));
    waiting.clear();
  });
  const call = <T>(request: Request): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.child.send({ ...request, id });
    });

  const clock = await alignClocks(() => call<number>({ type: 'ping' }));
  await call({ type: 'clock', offsetMs: clock.offsetMs });
  await call({ type: 'connect', url: options.url, count: options.count, mode: options.mode });

  let keys: number[] = [];
  let times: number[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (keys.length === 0 || !child.running) return;
    const batch: CommitBatch = {
      type: 'commits',
      keys: Float64Array.from(keys),
      times: Float64Array.from(times),
    };
    child.child.send(batch);
    keys = [];
    times = [];
  };

  const fleet: ClientFleet = {
    pid: child.pid,
    clock,
    commit(committed, committedAt) {
      const at = performance.timeOrigin + committedAt;
      for (const key of committed) {
        keys.push(key);
        times.push(at);
      }
      timer ??= setTimeout(flush, COMMIT_FLUSH_MS);
    },
    status() {
      flush();
      return call<FleetStatus>({ type: 'status' });
    },
    waitDelivered(timeoutMs) {
      return waitFor(
        async () => {
          const s = await fleet.status();
          return s.pending === 0 ? s : undefined;
        },
        { timeoutMs, intervalMs: 50, what: `${options.name}: every event at every client` },
      );
    },
    collect() {
      flush();
      return call<FleetWindow>({ type: 'collect' });
    },
    async close() {
      clearTimeout(timer);
      if (child.running) await call({ type: 'close' }).catch(() => undefined);
      await child.kill();
    },
  };
  return fleet;
}

/** NTP-style: offset = child time − midpoint of the round trip, from the fastest round trip. */
async function alignClocks(
  ping: () => Promise<number>,
): Promise<{ offsetMs: number; uncertaintyMs: number }> {
  let best = { offsetMs: 0, uncertaintyMs: Number.POSITIVE_INFINITY };
  for (let i = 0; i < CLOCK_PINGS; i++) {
    const sent = clockMs();
    const childNow = await ping();
    const back = clockMs();
    const half = (back - sent) / 2;
    if (half < best.uncertaintyMs) best = { offsetMs: childNow - (sent + half), uncertaintyMs: half };
  }
  return best;
}
