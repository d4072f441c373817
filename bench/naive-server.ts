// The naive pattern, kept as the baseline's reference: a row trigger sends each changed row as a
// NOTIFY payload, one LISTEN connection receives it, Socket.IO emits it to every client. No log, no
// broker, no positions: a notification sent while nobody listens is lost, a payload over 8000
// bytes fails the writer's transaction, nothing can be replayed. Usage: naive-server.ts <db-url>.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { Server } from 'socket.io';
import { NAIVE_CHANNEL } from './lib/capture-variants.js';

async function main(databaseUrl: string): Promise<void> {
  const listener = new pg.Client({
    connectionString: databaseUrl,
    application_name: 'orders-live-bench-naive',
  });
  await listener.connect();
  const http = createServer();
  const io = new Server(http, { serveClient: false });
  listener.on('notification', (message) => {
    if (message.payload) io.emit('order', JSON.parse(message.payload));
  });
  await listener.query(`LISTEN ${NAIVE_CHANNEL}`);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  console.log(JSON.stringify({ msg: 'naive server started', url: `http://127.0.0.1:${port}` }));
  const stop = () => {
    io.close();
    void listener.end().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main(process.argv[2] ?? '').catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
