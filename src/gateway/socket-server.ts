// The per-client protocol of the socket: subscribe, and resume from `since` (the Socket.IO
// plumbing — server, handshake auth, slow clients, rooms — is socket-io.ts).
//
// Resume without gap or duplicate: a client with `since` is not in any live room while it
// replays. It reads (since, fanout.head] — from memory when it reaches back far enough, else from
// the change log in pages — and repeats until it has caught up with the fanout's head; then, in
// the same tick, it joins its live room and gets `ready`. Every later broadcast is past that head.
// A `since` of another history (invariant 9) — above what the client's epoch shares with the
// log's, or above a fork the stream took while the client replayed — gets `resync` instead.
// A replay that fails (the log or its epochs unreadable) or stalls disconnects the client, which
// resumes again.

import type { Socket } from 'socket.io';
import type { OrderEvent } from '../contract/events.js';
import { describeIssue, eventFilterSchema, matchesFilter } from '../contract/socket.js';
import type { EpochRow } from '../db/event-log.js';
import { toError } from '../lib/errors.js';
import type { Logger } from '../log.js';
import { type Drain, whenDrained } from './client-buffer.js';
import { createEpochs, type Epochs } from './epochs.js';
import { type Fanout, MAX_BATCH } from './fanout.js';
import type { HeadWatch } from './head-watch.js';
import type { GatewayMetrics } from './metrics.js';
import { createResume } from './resume.js';
import { authenticate, type ClientSocket, type OrdersServer, policeSlowClients } from './socket-io.js';

type SubscribeReply = { ok: boolean; error?: string };

export interface LogReader {
  /** Positioned events in [from, to], ascending. */
  range(from: number, to: number): Promise<OrderEvent[]>;
}

export interface SocketServerOptions {
  /** Verifies a handshake token; absent when no tokens are configured (everyone may connect). */
  verifyToken?: (token: string | undefined) => { name: string } | null;
  /** A client whose unsent bytes pass this is disconnected (it can resume). */
  maxBufferedBytes: number;
  /** Where a client ahead of this gateway waits for it (one watch for all of them). */
  headWatch: HeadWatch;
  log: Logger;
  metrics: GatewayMetrics;
  /**
   * The log's epochs; how to read the table when a client names one not known yet (its gateway
   * learnt it first); and how the stream learns one the table shows newer. Absent, a handshake's
   * epoch is ignored.
   */
  epochs?: { known: Epochs; read(): Promise<EpochRow[]>; learn(): Promise<void> };
}

/**
 * A replay packet waits until the client's unsent bytes are below this: one packet of 500 events
 * is ~200–300 KB, so a client that never reads holds about one packet, not the log.
 */
const REPLAY_LOW_WATER_BYTES = 64 * 1024;
/** A replaying client that takes nothing for this long is disconnected (it can resume). */
const REPLAY_STALL_MS = 60_000;
export function attachHandlers(
  io: OrdersServer,
  fanout: Fanout,
  reader: LogReader,
  options: SocketServerOptions,
): () => void {
  const protocol = new ClientProtocol(fanout, reader, options);
  authenticate(io, options.verifyToken);
  io.on('connection', (socket) => protocol.connected(socket));
  return policeSlowClients(io, options.maxBufferedBytes, options.log, options.metrics);
}

/** What each connected client is answered: its subscription, then live events or a replay. */
class ClientProtocol {
  readonly #fanout: Fanout;
  readonly #reader: LogReader;
  readonly #options: SocketServerOptions;
  /** The read of the epochs table under way for handshakes, shared by those that come meanwhile. */
  #epochsRead: Promise<EpochRow[]> | undefined;

  constructor(fanout: Fanout, reader: LogReader, options: SocketServerOptions) {
    this.#fanout = fanout;
    this.#reader = reader;
    this.#options = options;
  }

  connected(socket: ClientSocket): void {
    const { metrics, log } = this.#options;
    metrics.clients.inc();
    socket.on('disconnect', () => metrics.clients.dec());
    // Untyped on purpose: a client may send anything. The ack is the last argument when it is a
    // function; every other shape is answered, never left hanging.
    (socket as unknown as Socket).on('subscribe', (...args: unknown[]) => {
      const ack =
        typeof args.at(-1) === 'function' ? (args.pop() as (reply: SubscribeReply) => void) : undefined;
      const reply = this.#answerSubscribe(socket, args);
      ack?.(reply);
    });
    const { since, epoch } = socket.handshake.auth as { since?: number; epoch?: number };
    if (since === undefined) {
      this.#join(socket);
      socket.emit('ready', { position: this.#fanout.head, ...this.#epochNow() });
      return;
    }
    void this.#resumeIfShared(socket, since, epoch).catch((e: unknown) => {
      log.warn({ err: toError(e), since }, 'replay failed; client disconnected to retry');
      socket.disconnect(true);
    });
  }

  /** The epoch `ready` names: the one the head belongs to. */
  #epochNow(): { epoch?: number } {
    const epochs = this.#options.epochs;
    return epochs && epochs.known.current > 0 ? { epoch: epochs.known.current } : {};
  }

  #answerSubscribe(socket: ClientSocket, args: unknown[]): SubscribeReply {
    const [request] = args;
    if (args.length !== 1 || typeof request !== 'object' || request === null || Array.isArray(request)) {
      return { ok: false, error: 'invalid subscribe: send one object, { filter?: { status?, order_id? } }' };
    }
    const parsed = eventFilterSchema.optional().safeParse((request as { filter?: unknown }).filter);
    if (!parsed.success) return { ok: false, error: `invalid filter: ${describeIssue(parsed.error)}` };
    socket.data.filter = parsed.data;
    if (socket.data.room) this.#join(socket);
    return { ok: true };
  }

  #join(socket: ClientSocket): void {
    const room = this.#fanout.roomFor(socket.data.filter);
    if (socket.data.room && socket.data.room !== room) void socket.leave(socket.data.room);
    socket.data.room = room;
    void socket.join(room);
  }

  /** Resumes a client whose `since` belongs to the log's history; resyncs one whose does not. */
  async #resumeIfShared(socket: ClientSocket, since: number, epoch: number | undefined): Promise<void> {
    const epochs = this.#options.epochs;
    if (epochs && epoch !== undefined) {
      // Newer than this gateway knows: another gateway may have learnt it first (an older unknown
      // one is no history of this log).
      if (epoch > epochs.known.current) await this.#learnNewer(epochs);
      const shared = epochs.known.sharedWith(epoch);
      if (since > shared) {
        const current = epochs.known.current;
        return this.#resync(
          socket,
          `position ${since} of epoch ${epoch} is not in the log's epoch ${current}`,
          'epoch',
        );
      }
    }
    await this.#resume(socket, since);
  }

  /**
   * Reads the epochs table apart from the stream, which pauses live delivery while it learns: only
   * an epoch the table shows newer makes it learn. Any client may name any epoch, and one the log
   * never had must not hold the stream (nor, while PostgreSQL is away, stop it). A failed read
   * fails this client's resume.
   */
  async #learnNewer(epochs: NonNullable<SocketServerOptions['epochs']>): Promise<void> {
    this.#epochsRead ??= epochs.read().finally(() => {
      this.#epochsRead = undefined;
    });
    const table = createEpochs(await this.#epochsRead);
    // A learn under way may have read the table before this read: the next one reads after it.
    for (let i = 0; i < 2 && epochs.known.current < table.current; i++) await epochs.learn();
  }

  async #resume(socket: ClientSocket, since: number): Promise<void> {
    const fanout = this.#fanout;
    const replay = createResume(since);
    let fromLog = false;
    let action = replay.next(fanout);
    const forks = fanout.forks;
    while (socket.connected) {
      // The stream forked while this client replayed: what it was sent above the fork is gone.
      const fork = fanout.forkedSince(forks);
      if (fork !== null && replay.cursor > fork) {
        return this.#resync(
          socket,
          `the change log went back to position ${fork} (another history)`,
          'epoch',
        );
      }
      switch (action.type) {
        case 'ahead': {
          const outcome = await this.#options.headWatch.wait(action.since, () => !socket.connected);
          if (outcome === 'gone') return;
          if (outcome !== 'reached') return this.#resync(socket, outcome);
          break;
        }
        case 'send':
          if ((await this.#send(socket, action.events)) !== 'drained') return;
          break;
        case 'read':
          fromLog = true;
          action = replay.readDone(await this.#reader.range(action.from, action.to));
          continue;
        case 'resync':
          return this.#resync(socket, action.reason);
        case 'live':
          return this.#goLive(socket, action.position, fromLog);
      }
      action = replay.next(fanout);
    }
  }

  /** No await since next() compared the cursor with the head: nothing was broadcast between. */
  #goLive(socket: ClientSocket, position: number, fromLog: boolean): void {
    this.#join(socket);
    this.#options.metrics.replays.inc({ source: fromLog ? 'log' : 'memory' });
    socket.emit('ready', { position, ...this.#epochNow() });
  }

  /**
   * Sends replayed events in packets of MAX_BATCH, each only once the client has taken the one
   * before: a client that does not read holds one packet of memory, not the whole log.
   */
  async #send(socket: ClientSocket, events: OrderEvent[]): Promise<Drain> {
    const { metrics, log } = this.#options;
    for (let i = 0; i < events.length; i += MAX_BATCH) {
      const selected = events.slice(i, i + MAX_BATCH).filter((e) => matchesFilter(e, socket.data.filter));
      if (selected.length === 0) continue;
      socket.emit('events', selected);
      metrics.emitted.inc(selected.length);
      const outcome = await whenDrained(socket, REPLAY_LOW_WATER_BYTES, REPLAY_STALL_MS);
      if (outcome === 'stalled') {
        log.warn({ id: socket.id }, 'client stopped reading during replay; disconnected (it can resume)');
        metrics.slowDisconnects.inc();
        socket.disconnect(true);
      }
      if (outcome !== 'drained') return outcome;
    }
    return 'drained';
  }

  #resync(socket: ClientSocket, reason: string, metric = reason): void {
    this.#options.metrics.resyncs.inc({ reason: metric });
    socket.emit('resync', { reason });
    socket.disconnect(true);
  }
}
