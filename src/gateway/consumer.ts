// The gateway's AMQP consumer: its own exclusive, server-named queue bound to the gateways' feed
// (one message per published batch, a JSON array of envelopes), manual acks after the batch is
// handed to the sequencer (those of one turn of the event loop at once), and a dead-letter route
// for what cannot be parsed. Reconnects forever with backoff; after each (re)connect it reports
// `onConnected` so the gateway can catch up on what was published while it was away (its queue is
// new and empty).

import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { z } from 'zod';
import { type BrokerNodes, createBrokerNodes, nodeAddress } from '../amqp/broker-nodes.js';
import { declareTopology, withHeartbeat } from '../amqp/topology.js';
import { amqpNames, FEED_HANDED_AT_HEADER, type OrderEvent, orderEventSchema } from '../contract/events.js';
import { backoffDelayMs } from '../lib/backoff.js';
import { toError } from '../lib/errors.js';
import type { Service } from '../lib/service.js';
import { delay } from '../lib/wait.js';
import type { Logger } from '../log.js';

export interface ConsumerOptions {
  /** The broker's nodes: one is used; after a failed connect or a dropped connection, the next. */
  urls: readonly string[];
  exchange: string;
  /** Unacked messages in flight to this gateway. */
  prefetch: number;
  log: Logger;
  /** One batch from the feed, positions ascending as the bridge sent them, and when it came. */
  onEvents(events: OrderEvent[], receipt: FeedReceipt): void;
  onDeadLetter?(reason: string): void;
  onConnected?(): void;
  onReconnect?(): void;
}

/** When a feed message was written by the bridge and received here, ms since the epoch. */
export interface FeedReceipt {
  /** The bridge's FEED_HANDED_AT_HEADER, when the message has one. */
  handedAt: number | undefined;
  receivedAt: number;
  /** The message's size. */
  bytes: number;
}

export interface Consumer extends Service {
  readonly connected: boolean;
  /** `host:port` of the broker node it consumes from, or null. */
  readonly node: string | null;
}

const feedBatchSchema = z.array(orderEventSchema);

export function createConsumer(options: ConsumerOptions): Consumer {
  return new FeedConsumer(options);
}

class FeedConsumer implements Consumer {
  readonly name = 'consumer';
  readonly #options: ConsumerOptions;
  readonly #log: Logger;
  readonly #nodes: BrokerNodes;
  readonly #stopped = new AbortController();
  #model: ChannelModel | undefined;
  #connected = false;
  #node: string | null = null;
  #loop: Promise<void> | undefined;
  /** The last message handed over and not yet acked, acked with every one before it next tick. */
  #unacked: { channel: Channel; msg: ConsumeMessage } | undefined;
  #ackScheduled = false;

  constructor(options: ConsumerOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#nodes = createBrokerNodes(options.urls);
  }

  get connected(): boolean {
    return this.#connected;
  }
  get node(): string | null {
    return this.#node;
  }

  async start(): Promise<void> {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped.abort();
    await this.#model?.close().catch(() => undefined);
    await this.#loop;
  }

  // One ack per turn of the event loop for everything received in it, not one per message: each
  // ack is a socket write, and on loopback a write costs the whole TCP path of its delivery.
  readonly #ackReceived = (): void => {
    this.#ackScheduled = false;
    const last = this.#unacked;
    this.#unacked = undefined;
    try {
      last?.channel.ack(last.msg, true);
    } catch {
      // The channel closed: its messages are gone with its exclusive queue.
    }
  };

  #handle(channel: Channel, msg: ConsumeMessage | null): void {
    if (!msg) return; // consumer cancelled by the broker; the close handler reconnects
    const receivedAt = performance.timeOrigin + performance.now();
    let events: OrderEvent[];
    try {
      events = feedBatchSchema.parse(JSON.parse(msg.content.toString())) as OrderEvent[];
    } catch (e) {
      const reason = toError(e).message.slice(0, 200);
      this.#log.warn({ messageId: msg.properties.messageId, reason }, 'unparseable message dead-lettered');
      this.#options.onDeadLetter?.(reason);
      channel.nack(msg, false, false);
      return;
    }
    const handedAt = msg.properties.headers?.[FEED_HANDED_AT_HEADER];
    if (events.length > 0)
      this.#options.onEvents(events, {
        handedAt: typeof handedAt === 'number' ? handedAt : undefined,
        receivedAt,
        bytes: msg.content.length,
      });
    this.#unacked = { channel, msg };
    if (!this.#ackScheduled) setImmediate(this.#ackReceived);
    this.#ackScheduled = true;
  }

  async #session(): Promise<void> {
    const url = this.#nodes.current;
    const connection = await amqp.connect(withHeartbeat(url), {
      clientProperties: { connection_name: `orders-live-gateway ${this.#options.exchange}` },
    });
    this.#model = connection;
    const closed = new Promise<void>((resolve) => connection.once('close', () => resolve()));
    connection.on('error', (err: Error) => this.#log.warn({ err }, 'AMQP connection error'));
    try {
      const queue = await this.#consume(connection);
      this.#connected = true;
      this.#node = nodeAddress(url);
      this.#log.info({ queue, node: this.#node }, 'consuming');
      this.#options.onConnected?.();
      await this.#untilClosedOrStopped(closed);
    } finally {
      this.#connected = false;
      this.#node = null;
      this.#model = undefined;
      await connection.close().catch(() => undefined);
    }
  }

  /** Opens a channel, binds a new exclusive queue to the feed and consumes it; returns its name. */
  async #consume(connection: ChannelModel): Promise<string> {
    const { exchange, prefetch } = this.#options;
    const channel = await connection.createChannel();
    channel.on('error', (err: Error) => this.#log.warn({ err }, 'AMQP channel error'));
    channel.once('close', () => void connection.close().catch(() => undefined));
    await declareTopology(connection, exchange);
    const { queue } = await channel.assertQueue('', {
      exclusive: true,
      autoDelete: true,
      durable: false,
      arguments: { 'x-dead-letter-exchange': amqpNames(exchange).deadLetterExchange },
    });
    await channel.bindQueue(queue, amqpNames(exchange).feed, '');
    await channel.prefetch(prefetch);
    await channel.consume(queue, (msg) => this.#handle(channel, msg), { noAck: false });
    return queue;
  }

  async #untilClosedOrStopped(closed: Promise<void>): Promise<void> {
    const signal = this.#stopped.signal;
    // stop() may have come while this session was connecting: an abort listener added now would
    // never fire, and the stop would wait for its deadline.
    if (signal.aborted) return;
    let onAbort: () => void = () => {};
    const aborted = new Promise<void>((resolve) => {
      onAbort = () => resolve();
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([closed, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async #run(): Promise<void> {
    for (let attempt = 0; !this.#stopped.signal.aborted; ) {
      try {
        await this.#session();
        attempt = 0;
      } catch (e) {
        this.#log.warn({ err: toError(e), attempt }, 'AMQP consumer failed; reconnecting');
      }
      if (this.#stopped.signal.aborted) break;
      // Its node is gone or refused: the next attempt goes to the next one.
      this.#nodes.moveOn();
      this.#options.onReconnect?.();
      await delay(backoffDelayMs(attempt++), this.#stopped.signal);
    }
  }
}
