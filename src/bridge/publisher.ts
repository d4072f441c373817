// The publishing side of the bridge: one AMQP connection with a confirm channel, opened on first
// use and after every failure, declaring the exchanges and the dead-letter queue of the contract.
// A `feed` publisher writes each batch as one message on the gateways' feed; an `events`
// publisher writes one message per event on the exchange, for integrations. The bridge runs one of
// each, on connections of their own, so neither waits for the other's confirms.
// `publish` resolves only when RabbitMQ has confirmed every message of the batch; on any error
// (nack, closed channel, no confirm in time) it drops the connection and throws, and the relay
// republishes the same positions on a fresh one. Several batches may wait for their confirms at
// once; their messages are written in call order, never interleaved.

import { once } from 'node:events';
import amqp, { type ChannelModel, type ConfirmChannel, type Options } from 'amqplib';
import { createBrokerNodes, nodeAddress } from '../amqp/broker-nodes.js';
import { declareTopology, withHeartbeat } from '../amqp/topology.js';
import { amqpNames, FEED_HANDED_AT_HEADER, routingKeyFor } from '../contract/events.js';
import type { RawEvent } from '../db/event-log.js';
import { toError } from '../lib/errors.js';
import type { Logger } from '../log.js';

/** A broker that has not confirmed within this is treated as gone (a healthy confirm: ~1 ms). */
const CONFIRM_TIMEOUT_MS = 10_000;

export interface Publisher {
  /** Opens the confirm channel (and declares the topology) unless it is open. */
  open(): Promise<void>;
  /**
   * After a failed publish every publish fails, until this: its caller has taken the failure and
   * republishes from its watermark, so nothing goes out ahead of what must be republished.
   */
  reopen(): Promise<void>;
  /**
   * The batch's envelopes as the log wrote them, positions ascending; resolves once RabbitMQ
   * confirmed all of them. `onWritten` is called when their messages are written to the socket.
   */
  publish(events: readonly RawEvent[], onWritten?: () => void): Promise<void>;
  /** True while a confirm channel is open. */
  readonly connected: boolean;
  /** `host:port` of the broker node the confirm channel is on, or null. */
  readonly node: string | null;
  close(): Promise<void>;
}

export type PublisherKind = 'feed' | 'events';

export interface PublisherOptions {
  /** The broker's nodes: one is used; after a failed connect or a dropped connection, the next. */
  urls: readonly string[];
  exchange: string;
  kind: PublisherKind;
  log: Logger;
  onReconnect?(): void;
}

export function createPublisher(options: PublisherOptions): Publisher {
  return new AmqpPublisher(options);
}

type Send = (to: string, key: string, content: Buffer, properties: Options.Publish) => Promise<void>;

class AmqpPublisher implements Publisher {
  private readonly names: ReturnType<typeof amqpNames>;
  private readonly nodes: ReturnType<typeof createBrokerNodes>;
  private brokerNode: string | null = null;
  private model: ChannelModel | undefined;
  private channel: ConfirmChannel | undefined;
  private opening: Promise<ConfirmChannel> | undefined;
  private everConnected = false;
  private closed = false;
  /** A publish failed and the caller has not reopened yet: every publish fails meanwhile. */
  private failed: Error | undefined;
  /** Resolves when the messages of the latest publish() are written (its confirms may still wait). */
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly options: PublisherOptions) {
    this.names = amqpNames(options.exchange);
    this.nodes = createBrokerNodes(options.urls);
  }

  get connected(): boolean {
    return this.channel !== undefined;
  }

  get node(): string | null {
    return this.brokerNode;
  }

  async open(): Promise<void> {
    if (this.closed) throw new Error('publisher closed');
    await this.confirmChannel();
  }

  async reopen(): Promise<void> {
    this.failed = undefined;
    await this.open();
  }

  async publish(events: readonly RawEvent[], onWritten?: () => void): Promise<void> {
    if (this.closed) throw new Error('publisher closed');
    if (this.failed) throw new Error(`an earlier publish failed (${this.failed.message}); not reopened yet`);
    if (events.length === 0) return;
    const ch = await this.confirmChannel();
    const previous = this.writing;
    let written = () => {};
    this.writing = new Promise<void>((resolve) => {
      written = resolve;
    });
    try {
      await previous;
      const { confirmed } = await this.write(ch, events);
      written();
      onWritten?.();
      await withTimeout(confirmed, CONFIRM_TIMEOUT_MS, 'RabbitMQ did not confirm in time');
    } catch (e) {
      // At once, not after the drop: a publish meanwhile would open a new connection and go
      // out ahead of what this one's caller must republish.
      this.failed ??= toError(e);
      written();
      await this.drop();
      throw e;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.opening?.catch(() => undefined);
    await this.drop();
  }

  private async confirmChannel(): Promise<ConfirmChannel> {
    if (this.channel) return this.channel;
    this.opening ??= this.openChannel().finally(() => {
      this.opening = undefined;
    });
    this.channel = await this.opening;
    return this.channel;
  }

  private async openChannel(): Promise<ConfirmChannel> {
    const url = this.nodes.current;
    const connection = await this.connect(url);
    try {
      const ch = await connection.createConfirmChannel();
      ch.on('error', (err: Error) => this.options.log.warn({ err }, 'AMQP channel error'));
      ch.on('close', () => {
        if (this.channel === ch) this.channel = undefined;
      });
      await declareTopology(connection, this.options.exchange, (queue) =>
        this.options.log.warn(
          { queue },
          'the dead-letter queue is a classic queue; delete it while empty to have it made a quorum queue',
        ),
      );
      if (this.closed) throw new Error('publisher closed');
      this.opened(connection, url);
      return ch;
    } catch (e) {
      await connection.close().catch(() => undefined);
      throw e;
    }
  }

  private async connect(url: string): Promise<ChannelModel> {
    const { kind, exchange, log } = this.options;
    const connection = await amqp
      .connect(withHeartbeat(url), {
        clientProperties: {
          connection_name:
            kind === 'feed' ? `orders-live-bridge ${exchange}` : `orders-live-bridge-events ${exchange}`,
        },
        // amqplib leaves Nagle's algorithm on. A batch's feed message spans several TCP segments
        // and its last one then waited for RabbitMQ's delayed ACK: ~35 ms per batch at 1,000
        // events/s (bench e2e-latency, BENCHMARKS.md).
        noDelay: true,
      })
      .catch((e: unknown) => {
        this.nodes.moveOn();
        throw e;
      });
    connection.on('error', (err: Error) => log.warn({ err }, 'AMQP connection error'));
    connection.on('close', () => {
      if (this.model !== connection) return;
      // Dropped by the broker (its node stopping, say), not by us: the next open tries another.
      this.model = undefined;
      this.channel = undefined;
      this.brokerNode = null;
      this.nodes.moveOn();
    });
    return connection;
  }

  /** The confirm channel on `connection` is ready: it becomes the one in use. */
  private opened(connection: ChannelModel, url: string): void {
    if (this.everConnected) this.options.onReconnect?.();
    this.everConnected = true;
    this.model = connection;
    this.brokerNode = nodeAddress(url);
    this.options.log.info({ node: this.brokerNode }, 'AMQP confirm channel open');
  }

  private async drop(): Promise<void> {
    const current = this.model;
    this.model = undefined;
    this.channel = undefined;
    this.brokerNode = null;
    await current?.close().catch(() => undefined);
  }

  /**
   * Writes the batch's messages — one on the feed, or one per event on the exchange; `confirmed`
   * settles when RabbitMQ has answered for all of them.
   */
  private async write(
    ch: ConfirmChannel,
    events: readonly RawEvent[],
  ): Promise<{ confirmed: Promise<void> }> {
    const confirms: Promise<void>[] = [];
    const send: Send = async (to, key, content, properties) => {
      let writable = true;
      const confirmed = new Promise<void>((resolve, reject) => {
        writable = ch.publish(to, key, content, properties, (err: unknown) =>
          err ? reject(toError(err)) : resolve(),
        );
      });
      // Handled now, awaited below: a nack that arrives while we wait for 'drain' must not be an
      // unhandled rejection.
      confirmed.catch(() => undefined);
      confirms.push(confirmed);
      if (!writable) await drained(ch);
    };
    if (this.options.kind === 'feed') await this.sendBatch(send, events);
    else await this.sendEach(send, events);
    return { confirmed: Promise.all(confirms).then(() => undefined) };
  }

  /** The whole batch as one message on the gateways' feed. */
  private async sendBatch(send: Send, events: readonly RawEvent[]): Promise<void> {
    const first = events[0]!;
    await send(this.names.feed, '', Buffer.from(`[${events.map((e) => e.json).join(',')}]`), {
      messageId: `${first.position}-${events.at(-1)!.position}`,
      type: 'batch',
      contentType: 'application/json',
      timestamp: Math.floor(first.publishedAt),
      persistent: true,
      headers: { [FEED_HANDED_AT_HEADER]: performance.timeOrigin + performance.now() },
    });
  }

  /** One message per event on the exchange, routed by operation and status. */
  private async sendEach(send: Send, events: readonly RawEvent[]): Promise<void> {
    for (const event of events) {
      await send(this.options.exchange, routingKeyFor(event.op, event.status), Buffer.from(event.json), {
        messageId: String(event.position),
        type: event.op,
        contentType: 'application/json',
        timestamp: Math.floor(event.publishedAt),
        persistent: true,
      });
    }
  }
}

/** Waits for the channel's write buffer to drain, or fails when the channel closes first. */
async function drained(ch: ConfirmChannel): Promise<void> {
  const ac = new AbortController();
  try {
    await Promise.race([
      once(ch, 'drain', { signal: ac.signal }),
      once(ch, 'close', { signal: ac.signal }).then(() => {
        throw new Error('channel closed while waiting to drain');
      }),
    ]);
  } finally {
    ac.abort();
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
