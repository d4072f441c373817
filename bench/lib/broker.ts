// RabbitMQ for a benchmark: the broker's version, a raw consumer bound to a benchmark's exchange
// or to its gateways' feed (it sees what the bridge publishes before any gateway dedupes it), and
// cleanup of the exchange.

import amqp from 'amqplib';
import { deleteTopology } from '../../src/amqp/topology.js';
import { amqpNames, type OrderEvent } from '../../src/contract/events.js';

export interface RawConsumer {
  /** Messages received, repeats included. */
  readonly total: number;
  /** Distinct positions received. */
  readonly positions: ReadonlySet<number>;
  /** Messages whose position had been received before. */
  readonly duplicates: number;
  close(): Promise<void>;
}

/** What each message tells the caller: the envelope and when it arrived (performance.now()). */
export type MessageListener = (event: OrderEvent, receivedAt: number) => void;

/**
 * Declares the exchange as the bridge does and binds an exclusive queue to every routing key of
 * it (one message per event, as an integration sees them) or, with `feed`, to the gateways' feed
 * (one message per batch, as a gateway sees them).
 */
export async function createRawConsumer(
  url: string,
  exchange: string,
  onMessage?: MessageListener,
  { feed = false }: { feed?: boolean } = {},
): Promise<RawConsumer> {
  const connection = await amqp.connect(url, { clientProperties: { connection_name: 'orders-live-bench' } });
  connection.on('error', () => undefined);
  const channel = await connection.createChannel();
  const names = amqpNames(exchange);
  await channel.assertExchange(exchange, 'topic', { durable: true });
  await channel.assertExchange(names.feed, 'fanout', { durable: true });
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
  await channel.bindQueue(queue, feed ? names.feed : exchange, feed ? '' : '#');
  const positions = new Set<number>();
  let total = 0;
  let duplicates = 0;
  await channel.consume(
    queue,
    (msg) => {
      if (!msg) return;
      const receivedAt = performance.now();
      const body = JSON.parse(msg.content.toString()) as OrderEvent | OrderEvent[];
      for (const event of Array.isArray(body) ? body : [body]) {
        total++;
        if (positions.has(event.position)) duplicates++;
        else positions.add(event.position);
        onMessage?.(event, receivedAt);
      }
    },
    { noAck: true },
  );
  return {
    get total() {
      return total;
    },
    positions,
    get duplicates() {
      return duplicates;
    },
    close: () => connection.close().catch(() => undefined),
  };
}

/** Deletes the exchange, its feed, its dead-letter exchange and its dead-letter queue. */
export async function deleteExchange(url: string, exchange: string): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    await deleteTopology(await connection.createChannel(), exchange);
  } finally {
    await connection.close();
  }
}

/** The broker's version, as it announces itself on connect. */
export async function rabbitmqVersion(url: string): Promise<string> {
  const model = await amqp.connect(url);
  try {
    const props = (model.connection as unknown as { serverProperties?: Record<string, unknown> })
      .serverProperties;
    const product = String(props?.product ?? 'RabbitMQ');
    return `${product} ${String(props?.version ?? '?')}`;
  } finally {
    await model.close();
  }
}
