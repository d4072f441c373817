// A TCP proxy in the test process between the system and a server. It can stall: every byte
// stops in both directions (the sockets are unpiped and stop reading) until it resumes, as a
// congested or flapping link would. And it can be re-targeted, as a virtual IP or a DNS name moves
// to a promoted standby: the links it carries are cut at once and new connections go to the new
// target. That is the one address a system is given for a PostgreSQL that fails over
// (test/chaos/pg-cluster.ts): node-postgres takes a single host, and HAProxy's checks cannot tell
// a primary from a standby and would decide the switch on their own timer, not at the test's.

import net from 'node:net';

export interface TcpProxy {
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number;
  /** The port on the target host that new connections go to. */
  readonly targetPort: number;
  stall(): void;
  resume(): void;
  /** Cuts every link it carries and sends new connections to `targetPort` from now on. */
  retarget(targetPort: number): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const links = new Set<[net.Socket, net.Socket]>();
  let target = targetPort;
  let stalled = false;
  const connect = (a: net.Socket, b: net.Socket) => {
    a.pipe(b);
    b.pipe(a);
  };
  const cutAll = () => {
    for (const [a, b] of links) {
      a.destroy();
      b.destroy();
    }
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(target, targetHost);
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
    get targetPort() {
      return target;
    },
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
    retarget(port) {
      target = port;
      cutAll();
    },
    async close() {
      cutAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
