// What the reference pipelines' servers share: the naive row trigger's LISTEN, and a Socket.IO
// server on a free loopback port, announced on stdout, that stops on SIGTERM or SIGINT.

import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import type { Server } from 'socket.io';
import { NAIVE_CHANNEL } from './capture-variants.js';

/** One connection LISTENing to the naive trigger, handing on each payload. */
export async function listenToNaiveTrigger(
  databaseUrl: string,
  applicationName: string,
  onPayload: (payload: string) => void,
): Promise<pg.Client> {
  const listener = new pg.Client({ connectionString: databaseUrl, application_name: applicationName });
  await listener.connect();
  listener.on('notification', (message) => {
    if (message.payload) onPayload(message.payload);
  });
  await listener.query(`LISTEN ${NAIVE_CHANNEL}`);
  return listener;
}

/** Listens, prints `{"msg":"<name> server started","url":…}`, and on a signal closes and exits. */
export async function serveUntilSignal(
  name: string,
  http: HttpServer,
  io: Server,
  closeRest: () => Promise<unknown>,
): Promise<void> {
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  console.log(JSON.stringify({ msg: `${name} server started`, url: `http://127.0.0.1:${port}` }));
  const stop = () => {
    io.close();
    void closeRest().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
