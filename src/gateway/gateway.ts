// The gateway role: AMQP consumer → sequencer → fanout → Socket.IO clients, with resume from the
// change log. Each instance has its own queue and sees every event; any number can run behind a
// load balancer, and a client that loses one resumes on another with `since`.

import type { Server as HttpServer } from 'node:http';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import type { GatewayConfig } from '../config.js';
import { lastPosition, lastPublishedPosition, readEpochs, readRange } from '../db/event-log.js';
import { toError } from '../lib/errors.js';
import type { Service } from '../lib/service.js';
import type { Logger } from '../log.js';
import { createConsumer } from './consumer.js';
import { createEpochs } from './epochs.js';
import { createFanout, type Fanout } from './fanout.js';
import { createHeadWatch, type HeadWatch } from './head-watch.js';
import { createGatewayMetrics } from './metrics.js';
import { createOrderedStream, type OrderedStream } from './ordered-stream.js';
import { createReceiptTimes } from './receipt-times.js';
import {
  type AdmitRequest,
  attachHandlers,
  createSocketServer,
  type SocketServerOptions,
  socketRooms,
} from './socket-server.js';

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
  const { pool, log, config } = options;
  const metrics = createGatewayMetrics(options.registry, () => stream?.heldBytes ?? 0);
  const io = createSocketServer(options.httpServer, log, options.admit);
  let started = false;
  let fanout: Fanout | undefined;
  let stream: OrderedStream | undefined;
  let detach: (() => void) | undefined;
  let headWatch: HeadWatch | undefined;
  const receipts = createReceiptTimes();

  // Until start() has read where the stream stands, a connection could not be served.
  io.use((_socket, next) => (started ? next() : next(new Error('server starting, retry'))));

  const consumer = createConsumer({
    urls: options.rabbitmqUrls,
    exchange: options.exchange,
    prefetch: config.prefetch,
    log: log.child({ part: 'consumer' }),
    onEvents: (events, { handedAt, receivedAt, bytes }) => {
      if (handedAt !== undefined) metrics.feedDelay.observe(Math.max(0, receivedAt - handedAt) / 1000);
      const through = events.at(-1)!.position;
      if (stream && through > stream.head) receipts.received(through, performance.now());
      const each = bytes / events.length;
      for (const event of events) stream?.offer(event, each);
    },
    onDeadLetter: () => metrics.deadLettered.inc(),
    onReconnect: () => metrics.reconnects.inc(),
    // The queue is new: what was published while there was none is read from the log.
    onConnected: () => catchUp('after connecting'),
  });
  let catchUpTimer: NodeJS.Timeout | undefined;

  /**
   * Reads the log up to its last numbered position. Not the confirmed watermark: an event
   * published before this gateway's queue was bound, whose confirmation is recorded after this
   * read, would then wait for a later event to reveal the gap. Every position is numbered before
   * it is published, so the last numbered one covers everything the broker could have carried.
   */
  function catchUp(when: string): void {
    // Taken before the read: a log that ends below what had been sent by then went back (a
    // failover to a standby that lacked it, invariant 9).
    const current = stream;
    const asked = current?.mark();
    lastPosition(pool).then(
      (position) => current?.catchUp(position, asked),
      (e: unknown) => log.warn({ err: toError(e), when }, 'cannot read the log head to catch up'),
    );
  }

  return {
    name: 'gateway',
    async start() {
      const start = await lastPublishedPosition(pool);
      const epochs = createEpochs(await readEpochs(pool));
      const rooms = socketRooms(io, (room) => fanout?.forget(room));
      const out = createFanout({
        rooms,
        start,
        metrics,
        recentEvents: options.recentEvents,
        onBroadcast: (through) => {
          headWatch?.advanced();
          for (const ms of receipts.broadcast(through, performance.now()))
            metrics.receiveToEmit.observe(ms / 1000);
        },
      });
      fanout = out;
      stream = createOrderedStream({
        start,
        log: log.child({ part: 'sequencer' }),
        source: { range: (from, to) => readRange(pool, from, to) },
        emit: (events) => out.push(events),
        skip: (range) => out.skip(range),
        onDuplicates: (n) => metrics.duplicates.inc(n),
        onGapFilled: (n) => metrics.gapFilled.inc(n),
        maxHeldBytes: options.maxHeldBytes,
        onShed: (n) => metrics.shed.inc(n),
        epochs: { known: epochs, read: () => readEpochs(pool) },
        fork: (position, reason) => out.fork(position, reason),
        onStale: (n) => metrics.duplicates.inc(n),
      });
      const ordered = stream;
      const watch = createHeadWatch({
        head: () => out.head,
        lastPosition: () => lastPosition(pool),
        onError: (e) => log.warn({ err: toError(e) }, 'cannot read the log head for clients ahead'),
      });
      headWatch = watch;
      detach = attachHandlers(
        io,
        out,
        { range: (from, to) => readRange(pool, from, to) },
        {
          verifyToken: options.verifyToken,
          maxBufferedBytes: config.maxBufferedBytes,
          headWatch: watch,
          log,
          metrics,
          epochs: { known: epochs, learn: () => ordered.learnEpochs() },
        },
      );
      started = true;
      await consumer.start();
      // Only when the head stood still: while events flow, any missing one shows as a gap at the
      // next delivery and is read then; a read here would fetch what the broker is bringing.
      let headBefore = stream.head;
      catchUpTimer = setInterval(() => {
        const still = stream?.head === headBefore;
        headBefore = stream?.head ?? headBefore;
        if (still && consumer.connected) catchUp('on the slow timer');
      }, options.catchUpIntervalMs ?? CATCH_UP_INTERVAL_MS);
      log.info({ position: start }, 'gateway started');
    },
    async stop() {
      started = false;
      clearInterval(catchUpTimer);
      await consumer.stop();
      detach?.();
      headWatch?.stop();
      stream?.stop();
      fanout?.stop();
      // Not io.close(): it would also close the HTTP server this role shares, before the HTTP
      // role could drain its in-flight requests. Closing every engine.io connection tells each
      // client "transport close", after which socket.io-client reconnects (to another gateway).
      io.engine.close();
      io.of('/').adapter.close();
    },
    async ready() {
      if (!started) throw new Error('not started');
      if (!consumer.connected) throw new Error('not consuming from RabbitMQ');
    },
    brokers: () => ({ gateway: consumer.node }),
  };
}
