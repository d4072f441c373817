// RabbitMQ for a test file: a random exchange name (so files never see each other's events), a
// consumer bound to it that collects what arrives, and cleanup of the exchange afterwards.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll } from 'vitest';
import { deleteTopology } from '../../src/amqp/topology.js';
import { amqpNames, type OrderEvent } from '../../src/contract/events.js';
import { RABBITMQ_URL, randomSuffix } from './names.js';

export interface ReceivedMessage {
  event: OrderEvent;
  routingKey: string;
  /** performance.now() when it arrived. */
  receivedAt: number;
  properties: {
    messageId?: string;
    type?: string;
    contentType?: string;
    timestamp?: number;
    deliveryMode?: number;
  };
}

export interface TestConsumer {
  readonly messages: ReceivedMessage[];
  /** Positions in arrival order, repeats included. */
  positions(): number[];
  /** Distinct positions, in arrival order of their first copy. */
  distinct(): number[];
  close(): Promise<void>;
}

/** A fresh exchange name for this file; its exchanges and dead-letter queue are deleted after. */
export function useExchange(): string {
  const exchange = `test.${randomSuffix()}.orders.events`;
  afterAll(async () => {
    const connection = await amqp.connect(RABBITMQ_URL);
    try {
      await deleteTopology(await connection.createChannel(), exchange);
    } finally {
      await connection.close();
    }
  });
  return exchange;
}

/** Binds an exclusive queue to the exchange (declaring it as the bridge does) and collects. */
export async function createTestConsumer(exchange: string, pattern = '#'): Promise<TestConsumer> {
  return collect(exchange, 'topic', pattern, (content) => [JSON.parse(content) as OrderEvent]);
}

export interface FeedConsumer extends TestConsumer {
  /** The feed's messages, one per published batch, in arrival order. */
  readonly batches: { events: OrderEvent[]; properties: ReceivedMessage['properties'] }[];
}

/** Binds an exclusive queue to the gateways' feed of the exchange, as a gateway does, and collects. */
export async function createFeedConsumer(exchange: string): Promise<FeedConsumer> {
  const batches: FeedConsumer['batches'] = [];
  const consumer = await collect(amqpNames(exchange).feed, 'fanout', '', (content, properties) => {
    const events = JSON.parse(content) as OrderEvent[];
    batches.push({ events, properties });
    return events;
  });
  return { ...consumer, batches };
}

async function collect(
  exchange: string,
  type: 'topic' | 'fanout',
  pattern: string,
  parse: (content: string, properties: ReceivedMessage['properties']) => OrderEvent[],
): Promise<TestConsumer> {
  const connection: ChannelModel = await amqp.connect(RABBITMQ_URL);
  const channel = await connection.createChannel();
  await channel.assertExchange(exchange, type, { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
  await channel.bindQueue(queue, exchange, pattern);
  const messages: ReceivedMessage[] = [];
  await channel.consume(
    queue,
    (msg) => {
      if (!msg) return;
      const receivedAt = performance.now();
      for (const event of parse(msg.content.toString(), msg.properties))
        messages.push({ event, routingKey: msg.fields.routingKey, properties: msg.properties, receivedAt });
    },
    { noAck: true },
  );
  return {
    messages,
    positions: () => messages.map((m) => m.event.position),
    distinct() {
      const seen = new Set<number>();
      const out: number[] = [];
      for (const m of messages) {
        if (!seen.has(m.event.position)) {
          seen.add(m.event.position);
          out.push(m.event.position);
        }
      }
      return out;
    },
    close: () => connection.close(),
  };
}

const run = promisify(execFile);

/** Closes, on the broker's side, every connection whose connection_name contains `marker`. */
export async function closeBrokerConnections(marker: string): Promise<number> {
  const pids = await brokerConnections(marker);
  for (const pid of pids) await run('rabbitmqctl', ['close_connection', pid, 'closed by a test']);
  return pids.length;
}

/** The pids of the broker's connections whose client properties contain `marker`. */
export async function brokerConnections(marker: string): Promise<string[]> {
  // The table format prints pids as close_connection takes them (<rabbit@host.1.2.3>).
  const { stdout } = await run('rabbitmqctl', ['list_connections', 'pid', 'client_properties', '-q']);
  return stdout
    .split('\n')
    .filter((line) => line.includes(marker))
    .map((line) => line.split('\t')[0]!);
}

/** 1, 2, …, n. */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}
