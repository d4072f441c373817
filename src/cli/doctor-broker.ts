// The doctor's RabbitMQ checks: every node reachable, the exchanges a bridge declares, and the
// dead-letter queue. A check that fails is a finding, never an exception.

import amqp from 'amqplib';
import { amqpNames } from '../contract/events.js';
import { toError } from '../lib/errors.js';
import { redactUrl } from '../lib/redact.js';
import type { DoctorOptions, Finding } from './doctor.js';

export async function checkBroker(options: DoctorOptions, add: (f: Finding) => void): Promise<void> {
  const connection = await connectToEveryNode(options.rabbitmqUrls, add);
  if (!connection) return;
  try {
    const names = amqpNames(options.exchange);
    for (const exchange of [names.exchange, names.feed, names.deadLetterExchange])
      await checkExchange(connection, exchange, add);
    await checkDeadLetters(connection, names.deadLetterQueue, add);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/**
 * Every node: a node that is down is worth knowing of while the others carry the load. Returns a
 * connection to the first node reached, for the checks that follow.
 */
async function connectToEveryNode(
  urls: readonly string[],
  add: (f: Finding) => void,
): Promise<amqp.ChannelModel | undefined> {
  let connection: amqp.ChannelModel | undefined;
  const down: string[] = [];
  for (const url of urls) {
    const shown = redactUrl(url);
    try {
      const node = await amqp.connect(url, { timeout: 5_000 });
      node.on('error', () => undefined);
      const cluster = node.connection.serverProperties.cluster_name;
      add({
        ok: true,
        check: 'rabbitmq',
        detail: `reachable at ${shown}${cluster ? ` (cluster ${cluster})` : ''}`,
      });
      if (connection) await node.close().catch(() => undefined);
      else connection = node;
    } catch (e) {
      down.push(`${shown} (${toError(e).message})`);
    }
  }
  for (const node of down) {
    add({
      ok: connection !== undefined,
      warning: true,
      check: 'rabbitmq',
      detail: connection
        ? `cannot reach ${node}: the roles use the other nodes meanwhile; start it again`
        : `cannot reach ${node}: start RabbitMQ ("docker compose up -d rabbitmq") or set RABBITMQ_URL`,
    });
  }
  return connection;
}

/** A channel of its own: a failed check closes the channel it ran on. */
async function checkChannel(connection: amqp.ChannelModel): Promise<amqp.Channel> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  return channel;
}

async function checkExchange(connection: amqp.ChannelModel, exchange: string, add: (f: Finding) => void) {
  const channel = await checkChannel(connection);
  try {
    await channel.checkExchange(exchange);
    add({ ok: true, check: 'exchange', detail: `${exchange} exists` });
    await channel.close();
  } catch {
    add({
      ok: false,
      check: 'exchange',
      detail: `${exchange} does not exist: start a bridge, which declares it`,
    });
  }
}

async function checkDeadLetters(connection: amqp.ChannelModel, queue: string, add: (f: Finding) => void) {
  const channel = await checkChannel(connection);
  try {
    const { messageCount } = await channel.checkQueue(queue);
    add({
      ok: true,
      warning: messageCount > 0,
      check: 'dead letters',
      detail:
        messageCount > 0
          ? `${messageCount} messages in ${queue}: inspect them in the management UI`
          : `${queue} is empty`,
    });
  } catch {
    add({
      ok: false,
      check: 'dead letters',
      detail: `${queue} does not exist: start a bridge, which declares it`,
    });
  }
}
