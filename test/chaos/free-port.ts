// A free TCP port on 127.0.0.1 for a child that takes its port from a config file (RabbitMQ
// nodes, HAProxy) and must get the same one again after a restart. Picked below the kernel's
// ephemeral range (32768–60999 on Linux): a port handed out by `listen(0)` and then released is
// soon taken as the local port of some outgoing connection, and the restart would then fail.

import net from 'node:net';

const FIRST_PORT = 20_000;
const LAST_PORT = 32_000;

/** Ports this process handed out: its children may not have bound them yet. */
const handedOut = new Set<number>();

/** A port no one listens on now and not handed out before, chosen at random in 20000–31999. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = FIRST_PORT + Math.floor(Math.random() * (LAST_PORT - FIRST_PORT));
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port in ${FIRST_PORT}–${LAST_PORT - 1} after 50 tries`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
