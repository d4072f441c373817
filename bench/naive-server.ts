// The naive pattern, kept as the baseline's reference: a row trigger sends each changed row as a
// NOTIFY payload, one LISTEN connection receives it, Socket.IO emits it to every client. No log, no
// broker, no positions: a notification sent while nobody listens is lost, a payload over 8000
// bytes fails the writer's transaction, nothing can be replayed. Usage: naive-server.ts <db-url>.

import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { listenToNaiveTrigger, serveUntilSignal } from './lib/reference-server.js';

async function main(databaseUrl: string): Promise<void> {
  const http = createServer();
  const io = new Server(http, { serveClient: false });
  const listener = await listenToNaiveTrigger(databaseUrl, 'orders-live-bench-naive', (payload) =>
    io.emit('order', JSON.parse(payload)),
  );
  await serveUntilSignal('naive', http, io, () => listener.end());
}

main(process.argv[2] ?? '').catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
