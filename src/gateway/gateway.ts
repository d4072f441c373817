// The gateway role: AMQP consumer → sequencer → fanout → Socket.IO clients, with resume from the
// change log. Each instance has its own queue and sees every event; any number can run behind a
// load balancer, and a client that loses one resumes on another with `since`. start() fails when
// the log cannot be read; after that nothing throws: the consumer reconnects and reads retry.

import type { Server as HttpServer } from 'node:http';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import type { GatewayConfig } from '../config.js';
import { lastPosition, lastPublishedPosition, readEpochs, readRange } from '../db/event-log.js';
import { toError } from '../lib/errors.js';
import type { Service } from '../lib/service.js';
import type { Logger } from '../log.js';
import { type Consumer, createConsumer } from './consumer.js';
import { createEpochs, type Epochs } from './epochs.js';
import { createFanout, type Fanout } from './fanout.js';
import { createHeadWatch, type HeadWatch } from './head-watch.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import { createOrderedStream, type OrderedStream } from './ordered-stream.js';
import { createReceiptTimes } from './receipt-times.js';
import { type AdmitRequest, createSocketServer, type OrdersServer, socketRooms } from './socket-io.js';
import { attachHandlers, type SocketServerOptions } from './socket-server.js';

export interface GatewayOptions {
  httpServer: HttpServer;
  pool: pg.Pool;
  /** The broker's nodes (RABBITMQ_URL); the consumer moves to the next when its node goes away. */
  rabbitmqUrls: readonly string[];
  exchange: string;
  config: GatewayConfig;
  verifyToken?: SocketServerOptions['verifyToken'];
  /** Refuses handshakes by their Host and Origin headers (origin-policy.ts); absent: admits all. */
  admit?: AdmitRequest;
  /** Events kept in memory for resume. @default RECENT_EVENTS */
  recentEvents?: number;
  /** How often the head is compared with the log's. @default CATCH_UP_INTERVAL_MS */
  catchUpIntervalMs?: number;
  /** Bytes of events held above a gap, at most. @default MAX_HELD_BYTES (sequencer.ts) */
  maxHeldBytes?: number;
  registry: Registry;
  log: Logger;
}

/**
 * How often a connected gateway also compares its head with the log's, as the bridge polls
 * behind its doorbell: whatever the broker failed to bring waits at most this long.
 */
export const CATCH_UP_INTERVAL_MS = 5_000;

export interface Gateway extends Service {
  ready(): Promise<void>;
  /** The broker node (`host:port`) it consumes from, null when not connected (/readyz). */
  brokers(): { gateway: string | null };
}

export function createGateway(options: GatewayOptions): Gateway {
  return new GatewayRole(options);
}

class GatewayRole implements Gateway {
  readonly name = 'gateway';
  readonly #options: GatewayOptions;
  readonly #pool: pg.Pool;
  readonly #log: Logger;
  readonly #metrics: GatewayMetrics;
  readonly #io: OrdersServer;
  readonly #consumer: Consumer;
  readonly #receipts = createReceiptTimes();
  #started = false;
  #fanout: Fanout | undefined;
  #stream: OrderedStream | undefined;
  #detach: (() => void) | undefined;
  #headWatch: HeadWatch | undefined;
  #catchUpTimer: NodeJS.Timeout | undefined;

  constructor(options: GatewayOptions) {
    this.#options = options;
    this.#pool = options.pool;
    this.#log = options.log;
    this.#metrics = createGatewayMetrics(options.registry, () => this.#stream?.heldBytes ?? 0);
    this.#io = createSocketServer(options.httpServer, options.log, options.admit);
    // Until start() has read where the stream stands, a connection could not be served.
    this.#io.use((_socket, next) => (this.#started ? next() : next(new Error('server starting, retry'))));
    this.#consumer = this.#createConsumer();
  }

  async start(): Promise<void> {
    const pool = this.#pool;
    const start = await lastPublishedPosition(pool);
    const epochs = createEpochs(await readEpochs(pool));
    const fanout = this.#createFanout(start);
    const stream = this.#createStream(start, fanout, epochs);
    const watch = createHeadWatch({
      head: () => fanout.head,
      lastPosition: () => lastPosition(pool),
      onError: (e) => this.#log.warn({ err: toError(e) }, 'cannot read the log head for clients ahead'),
    });
    this.#headWatch = watch;
    this.#detach = attachHandlers(
      this.#io,
      fanout,
      { range: (from, to) => readRange(pool, from, to) },
      {
        verifyToken: this.#options.verifyToken,
        maxBufferedBytes: this.#options.config.maxBufferedBytes,
        headWatch: watch,
        log: this.#log,
        metrics: this.#metrics,
        epochs: { known: epochs, read: () => readEpochs(pool), learn: () => stream.learnEpochs() },
      },
    );
    this.#started = true;
    await this.#consumer.start();
    this.#startCatchUpTimer(stream.head);
    this.#log.info({ position: start }, 'gateway started');
  }

  async stop(): Promise<void> {
    this.#started = false;
    clearInterval(this.#catchUpTimer);
    await this.#consumer.stop();
    this.#detach?.();
    this.#headWatch?.stop();
    this.#stream?.stop();
    this.#fanout?.stop();
    // Not io.close(): it would also close the HTTP server this role shares, before the HTTP
    // role could drain its in-flight requests. Closing every engine.io connection tells each
    // client "transport close", after which socket.io-client reconnects (to another gateway).
    this.#io.engine.close();
    this.#io.of('/').adapter.close();
  }

  async ready(): Promise<void> {
    if (!this.#started) throw new Error('not started');
    if (!this.#consumer.connected) throw new Error('not consuming from RabbitMQ');
  }

  brokers(): { gateway: string | null } {
    return { gateway: this.#consumer.node };
  }

  #createConsumer(): Consumer {
    const metrics = this.#metrics;
    return createConsumer({
      urls: this.#options.rabbitmqUrls,
      exchange: this.#options.exchange,
      prefetch: this.#options.config.prefetch,
      log: this.#log.child({ part: 'consumer' }),
      onEvents: (events, { handedAt, receivedAt, bytes }) => {
        if (handedAt !== undefined) metrics.feedDelay.observe(Math.max(0, receivedAt - handedAt) / 1000);
        const through = events.at(-1)!.position;
        const stream = this.#stream;
        if (stream && through > stream.head) this.#receipts.received(through, performance.now());
        const each = bytes / events.length;
        for (const event of events) stream?.offer(event, each);
      },
      onDeadLetter: () => metrics.deadLettered.inc(),
      onReconnect: () => metrics.reconnects.inc(),
      // The queue is new: what was published while there was none is read from the log.
      onConnected: () => this.#catchUp('after connecting'),
    });
  }

  #createFanout(start: number): Fanout {
    const rooms = socketRooms(this.#io, (room) => this.#fanout?.forget(room));
    this.#fanout = createFanout({
      rooms,
      start,
      metrics: this.#metrics,
      recentEvents: this.#options.recentEvents,
      onBroadcast: (through) => {
        this.#headWatch?.advanced();
        for (const ms of this.#receipts.broadcast(through, performance.now()))
          this.#metrics.receiveToEmit.observe(ms / 1000);
      },
    });
    return this.#fanout;
  }

  #createStream(start: number, out: Fanout, epochs: Epochs): OrderedStream {
    const pool = this.#pool;
    const metrics = this.#metrics;
    this.#stream = createOrderedStream({
      start,
      log: this.#log.child({ part: 'sequencer' }),
      source: { range: (from, to) => readRange(pool, from, to) },
      emit: (events) => out.push(events),
      skip: (range) => out.skip(range),
      onDuplicates: (n) => metrics.duplicates.inc(n),
      onGapFilled: (n) => metrics.gapFilled.inc(n),
      maxHeldBytes: this.#options.maxHeldBytes,
      onShed: (n) => metrics.shed.inc(n),
      epochs: { known: epochs, read: () => readEpochs(pool) },
      fork: (position, reason) => out.fork(position, reason),
      onStale: (n) => metrics.duplicates.inc(n),
    });
    return this.#stream;
  }

  /**
   * Catches up when the head stood still: while events flow, any missing one shows as a gap at
   * the next delivery and is read then; a read here would fetch what the broker is bringing.
   */
  #startCatchUpTimer(head: number): void {
    let headBefore = head;
    this.#catchUpTimer = setInterval(() => {
      const still = this.#stream?.head === headBefore;
      headBefore = this.#stream?.head ?? headBefore;
      if (still && this.#consumer.connected) this.#catchUp('on the slow timer');
    }, this.#options.catchUpIntervalMs ?? CATCH_UP_INTERVAL_MS);
  }

  /**
   * Reads the log up to its last numbered position. Not the confirmed watermark: an event
   * published before this gateway's queue was bound, whose confirmation is recorded after this
   * read, would then wait for a later event to reveal the gap. Every position is numbered before
   * it is published, so the last numbered one covers everything the broker could have carried.
   */
  #catchUp(when: string): void {
    // Taken before the read: a log that ends below what had been sent by then went back (a
    // failover to a standby that lacked it, invariant 9).
    const current = this.#stream;
    const asked = current?.mark();
    lastPosition(this.#pool).then(
      (position) => current?.catchUp(position, asked),
      (e: unknown) => this.#log.warn({ err: toError(e), when }, 'cannot read the log head to catch up'),
    );
  }
}
