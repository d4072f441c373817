// The AMQP objects of the wire contract, declared by every role that touches the broker (all
// declarations are idempotent), and the connection URL with a heartbeat.

import type { Channel, ChannelModel } from 'amqplib';
import { amqpNames } from '../contract/events.js';

/** AMQP heartbeat: a silently dead broker link is noticed within about two of these. */
export const HEARTBEAT_S = 5;

/**
 * Declares the topic exchange, the gateways' feed, the dead-letter exchange and the dead-letter
 * queue, on a channel of its own (a refused declaration closes the channel it was made on).
 *
 * In a cluster: exchanges are cluster-wide and durable, so they outlive any one node. The
 * dead-letter queue is a quorum queue, replicated on a majority of nodes: a dead letter is kept
 * while any majority is up. The gateways' queues are not declared here; they are transient on
 * purpose (the change log is the replay source). A dead-letter queue made by an earlier version
 * is a classic queue, which RabbitMQ refuses to redeclare as quorum (406): it is kept, and
 * `onClassicDeadLetters` says so (delete it while empty to have it made again as quorum).
 */
export async function declareTopology(
  connection: ChannelModel,
  exchange: string,
  onClassicDeadLetters?: (queue: string) => void,
): Promise<void> {
  const names = amqpNames(exchange);
  const bindDeadLetters = (channel: Channel) =>
    channel.bindQueue(names.deadLetterQueue, names.deadLetterExchange, '');
  let declaringQueue = false;
  try {
    // One channel on every (re)connect; a second only for an earlier classic dead-letter queue.
    await onChannel(connection, async (channel) => {
      await channel.assertExchange(names.exchange, 'topic', { durable: true });
      await channel.assertExchange(names.feed, 'fanout', { durable: true });
      await channel.assertExchange(names.deadLetterExchange, 'fanout', { durable: true });
      declaringQueue = true;
      await channel.assertQueue(names.deadLetterQueue, {
        durable: true,
        arguments: { 'x-queue-type': 'quorum' },
      });
      declaringQueue = false;
      await bindDeadLetters(channel);
    });
  } catch (e) {
    // Only the queue's type may differ; an exchange declared otherwise is an error.
    if (!declaringQueue || (e as { code?: unknown }).code !== 406) throw e;
    await onChannel(connection, async (channel) => {
      await channel.checkQueue(names.deadLetterQueue);
      await bindDeadLetters(channel);
    });
    onClassicDeadLetters?.(names.deadLetterQueue);
  }
}

async function onChannel<T>(connection: ChannelModel, fn: (channel: Channel) => Promise<T>): Promise<T> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  try {
    return await fn(channel);
  } finally {
    await channel.close().catch(() => undefined);
  }
}

/** Deletes what declareTopology declared (tests and benchmarks clean up their own names). */
export async function deleteTopology(channel: Channel, exchange: string): Promise<void> {
  const names = amqpNames(exchange);
  await channel.deleteQueue(names.deadLetterQueue);
  await channel.deleteExchange(names.deadLetterExchange);
  await channel.deleteExchange(names.feed);
  await channel.deleteExchange(names.exchange);
}

/** The URL with a heartbeat, unless it sets one itself. */
export function withHeartbeat(url: string, seconds = HEARTBEAT_S): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', String(seconds));
  return parsed.toString();
}
