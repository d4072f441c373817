// The broker's nodes (RABBITMQ_URL, comma-separated), tried in turn: each AMQP link of a role
// keeps its own cursor, connects to the node under it, and moves it on when a connection cannot
// be made or drops, so a link whose node died reconnects to another within one backoff step.
// No I/O.

export interface BrokerNodes {
  /** The URL to connect to now. */
  readonly current: string;
  /** The connection to `current` failed or dropped: the next attempt goes to the next node. */
  moveOn(): void;
}

export function createBrokerNodes(urls: readonly string[]): BrokerNodes {
  if (urls.length === 0) throw new Error('no broker URL');
  let index = 0;
  return {
    get current() {
      return urls[index % urls.length]!;
    },
    moveOn() {
      index = (index + 1) % urls.length;
    },
  };
}

/** `host:port` of a broker URL (5672, or 5671 for amqps, when it names none): what /readyz shows. */
export function nodeAddress(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port || (parsed.protocol === 'amqps:' ? '5671' : '5672');
  return `${parsed.hostname}:${port}`;
}
