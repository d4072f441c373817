// An integration on a broker cluster: a quorum queue bound to the per-event exchange (replicated
// on every node, so it keeps its messages while any majority runs), consumed with manual acks
// through one node at a time, moving to the next node when the connection drops. Unacked
// messages of a lost connection come again: at least once, as the contract promises. The queue
// is deleted on close. Its interface is the single node's test consumer (test/helpers/amqp.ts).

import amqp, { type Channel, type ChannelModel } from 'amqplib';
import type { OrderEvent } from '../../src/contract/events.js';
import { delay } from '../../src/lib/wait.js';
import type { ReceivedMessage, TestConsumer } from '../helpers/amqp.js';
import { randomSuffix } from '../helpers/names.js';

/** Messages in flight to the consumer: enough for 1,000 events/s without waiting on acks. */
const PREFETCH = 1_000;
/** Between attempts on the next node when none answers (a node stopping, its peers electing). */
const RETRY_MS = 200;

export async function createClusterConsumer(
  urls: readonly string[],
  exchange: string,
): Promise<TestConsumer> {
  const queue = `${exchange}.integration.${randomSuffix()}`;
  const messages: ReceivedMessage[] = [];
  let next = 0;
  let closed = false;
  let connection: ChannelModel | undefined;

  async function open(url: string): Promise<ChannelModel> {
    const model = await amqp.connect(url);
    model.on('error', () => undefined);
    try {
      const channel: Channel = await model.createChannel();
      channel.on('error', () => undefined);
      await channel.assertExchange(exchange, 'topic', { durable: true });
      await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      await channel.bindQueue(queue, exchange, '#');
      await channel.prefetch(PREFETCH);
      await channel.consume(queue, (msg) => {
        if (!msg) {
          // Cancelled by the broker (the queue's node went away): connect again, through another node.
          void model.close().catch(() => undefined);
          return;
        }
        const event = JSON.parse(msg.content.toString()) as OrderEvent;
        messages.push({
          event,
          routingKey: msg.fields.routingKey,
          properties: msg.properties,
          receivedAt: performance.now(),
        });
        channel.ack(msg);
      });
      return model;
    } catch (e) {
      await model.close().catch(() => undefined);
      throw e;
    }
  }

  /** Connects through the nodes in turn until one takes the consumer (or `attempts` failed). */
  async function connect(attempts = Number.POSITIVE_INFINITY): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const url = urls[next % urls.length]!;
      try {
        const model = await open(url);
        if (closed) {
          await model.close().catch(() => undefined);
          return;
        }
        connection = model;
        model.on('close', () => {
          if (connection !== model || closed) return;
          connection = undefined;
          next++;
          void connect();
        });
        return;
      } catch (e) {
        if (closed) return;
        if (attempt >= attempts) throw e;
        next++;
        if (next % urls.length === 0) await delay(RETRY_MS);
      }
    }
  }

  await connect(urls.length);
  return {
    messages,
    positions: () => messages.map((m) => m.event.position),
    distinct() {
      const seen = new Set<number>();
      return messages.map((m) => m.event.position).filter((p) => !seen.has(p) && Boolean(seen.add(p)));
    },
    async close() {
      closed = true;
      const model = connection;
      connection = undefined;
      // Between connections, the queue stays: it goes with the cluster's data at the end.
      if (!model) return;
      const channel = await model.createChannel();
      await channel.deleteQueue(queue);
      await model.close();
    },
  };
}
