// The broker objects of the contract (src/amqp/topology.ts) on the real RabbitMQ: the dead-letter
// queue is a quorum queue (kept while a majority of a cluster's nodes is up), and one made by an
// earlier version as a classic queue is kept and still bound, with a word that says so.

import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { declareTopology } from '../../src/amqp/topology.js';
import { amqpNames } from '../../src/contract/events.js';
import { useExchange } from '../helpers/amqp.js';
import { RABBITMQ_URL } from '../helpers/names.js';

const fresh = useExchange();
const older = useExchange();
const clashing = useExchange();
let connection: ChannelModel;

beforeAll(async () => {
  connection = await amqp.connect(RABBITMQ_URL);
});
afterAll(() => connection.close());

/** Declares `queue` as a classic queue on a channel of its own: refused (406) unless it is one. */
async function declareClassic(queue: string): Promise<'accepted' | number> {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  try {
    await channel.assertQueue(queue, { durable: true });
    await channel.close();
    return 'accepted';
  } catch (e) {
    return (e as { code: number }).code;
  }
}

it('makes the dead-letter queue a quorum queue', async () => {
  const warned: string[] = [];
  await declareTopology(connection, fresh, (queue) => warned.push(queue));
  // A classic declaration of a quorum queue is refused as inequivalent.
  expect(await declareClassic(amqpNames(fresh).deadLetterQueue)).toBe(406);
  expect(warned).toEqual([]);
  // Declaring again changes nothing and says nothing.
  await declareTopology(connection, fresh, (queue) => warned.push(queue));
  expect(warned).toEqual([]);
});

it('keeps an earlier classic dead-letter queue, bound, and says so', async () => {
  const names = amqpNames(older);
  expect(await declareClassic(names.deadLetterQueue)).toBe('accepted');
  const warned: string[] = [];
  await declareTopology(connection, older, (queue) => warned.push(queue));
  expect(warned).toEqual([names.deadLetterQueue]);
  const channel = await connection.createConfirmChannel();
  try {
    await new Promise<void>((resolve, reject) =>
      channel.publish(names.deadLetterExchange, '', Buffer.from('{}'), {}, (err: unknown) =>
        err ? reject(err) : resolve(),
      ),
    );
    expect((await channel.checkQueue(names.deadLetterQueue)).messageCount).toBe(1);
  } finally {
    await channel.close();
  }
});

it('still refuses an exchange declared with another type: only the queue may be an earlier kind', async () => {
  const channel = await connection.createChannel();
  await channel.assertExchange(clashing, 'fanout', { durable: true });
  await channel.close();
  const warned: string[] = [];
  await expect(declareTopology(connection, clashing, (queue) => warned.push(queue))).rejects.toMatchObject({
    code: 406,
  });
  expect(warned).toEqual([]);
  // useExchange deletes the topology afterwards, the dead-letter queue included: declare it.
  const fix = await connection.createChannel();
  await fix.deleteExchange(clashing);
  await fix.close();
  await declareTopology(connection, clashing);
});
