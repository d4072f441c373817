// RabbitMQ for a test file: a random exchange name (so files never see each other's events), a
// consumer bound to it that collects what arrives, and cleanup of the exchange afterwards.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll } from 'vitest';
import { deleteTopology } from '../../src/amqp/topology.js';
import type { OrderEvent } from '../../src/contract/events.js';
import { RABBITMQ_URL, randomSuffix } from './names.js';

export interface ReceivedMessage {
  event: OrderEvent;
  routingKey: string;
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
  const connection: ChannelModel = await amqp.connect(RABBITMQ_URL);
  const channel = await connection.createChannel();
  await channel.assertExchange(exchange, 'topic', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
  await channel.bindQueue(queue, exchange, pattern);
  const messages: ReceivedMessage[] = [];
  await channel.consume(
    queue,
    (msg) => {
      if (!msg) return;
      messages.push({
        event: JSON.parse(msg.content.toString()) as OrderEvent,
        routingKey: msg.fields.routingKey,
        properties: msg.properties,
      });
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
  // The table format prints pids as close_connection takes them (<rabbit@host.1.2.3>).
  const { stdout } = await run('rabbitmqctl', ['list_connections', 'pid', 'client_properties', '-q']);
  const pids = stdout
    .split('\n')
    .filter((line) => line.includes(marker))
    .map((line) => line.split('\t')[0]!);
  for (const pid of pids) await run('rabbitmqctl', ['close_connection', pid, 'closed by a test']);
  return pids.length;
}

/** 1, 2, …, n. */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}
