// The AMQP objects of the wire contract, declared by every role that touches the broker (all
// declarations are idempotent), and the connection URL with a heartbeat.

import type { Channel } from 'amqplib';
import { amqpNames } from '../contract/events.js';

/** AMQP heartbeat: a silently dead broker link is noticed within about two of these. */
export const HEARTBEAT_S = 5;

/**
 * Declares the topic exchange, the gateways' feed, the dead-letter exchange and the dead-letter
 * queue.
 */
export async function declareTopology(channel: Channel, exchange: string): Promise<void> {
  const names = amqpNames(exchange);
  await channel.assertExchange(names.exchange, 'topic', { durable: true });
  await channel.assertExchange(names.feed, 'fanout', { durable: true });
  await channel.assertExchange(names.deadLetterExchange, 'fanout', { durable: true });
  await channel.assertQueue(names.deadLetterQueue, { durable: true });
  await channel.bindQueue(names.deadLetterQueue, names.deadLetterExchange, '');
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
