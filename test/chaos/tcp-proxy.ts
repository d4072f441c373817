// A TCP proxy between the system and RabbitMQ that can stall: every byte stops in both
// directions (the sockets are unpiped and stop reading) until it resumes, as a congested or
// flapping link would.

import net from 'node:net';

export interface StallingProxy {
  readonly port: number;
  stall(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<StallingProxy> {
  const links = new Set<[net.Socket, net.Socket]>();
  let stalled = false;
  const connect = (a: net.Socket, b: net.Socket) => {
    a.pipe(b);
    b.pipe(a);
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    const link: [net.Socket, net.Socket] = [client, upstream];
    links.add(link);
    for (const socket of link) {
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        links.delete(link);
        client.destroy();
        upstream.destroy();
      });
    }
    if (stalled) {
      client.pause();
      upstream.pause();
    } else {
      connect(client, upstream);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    stall() {
      stalled = true;
      for (const [a, b] of links) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
    resume() {
      stalled = false;
      for (const [a, b] of links) connect(a, b);
    },
    async close() {
      for (const [a, b] of links) {
        a.destroy();
        b.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
