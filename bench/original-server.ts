// The original system's shape, kept as a reference pipeline: the naive row trigger's NOTIFY
// (the row as payload) → one LISTEN connection → RabbitMQ without publisher confirms → a consumer
// with automatic acks → Socket.IO emit. Fast while nothing fails; a notification sent while
// nobody listens, or a message in flight when a process dies, is lost. Usage:
// original-server.ts <db-url> <amqp-url> <exchange>.

import { createServer } from 'node:http';
import amqp from 'amqplib';
import { Server } from 'socket.io';
import { listenToNaiveTrigger, serveUntilSignal } from './lib/reference-server.js';

async function main(databaseUrl: string, amqpUrl: string, exchange: string): Promise<void> {
  const broker = await amqp.connect(amqpUrl);
  const publishing = await broker.createChannel();
  await publishing.assertExchange(exchange, 'fanout', { durable: false, autoDelete: true });
  const consuming = await broker.createChannel();
  const { queue } = await consuming.assertQueue('', { exclusive: true, autoDelete: true });
  await consuming.bindQueue(queue, exchange, '');

  const http = createServer();
  const io = new Server(http, { serveClient: false });
  await consuming.consume(
    queue,
    (message) => {
      if (message) io.emit('order', JSON.parse(message.content.toString()));
    },
    { noAck: true },
  );

  const listener = await listenToNaiveTrigger(databaseUrl, 'orders-live-bench-original', (payload) =>
    publishing.publish(exchange, '', Buffer.from(payload)),
  );
  await serveUntilSignal('original', http, io, () => Promise.allSettled([listener.end(), broker.close()]));
}

main(process.argv[2] ?? '', process.argv[3] ?? '', process.argv[4] ?? '').catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
