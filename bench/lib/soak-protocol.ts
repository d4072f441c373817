// The messages between the soak (bench/soak.ts) and its socket clients (bench/soak-clients.ts).

export interface SoakSettleTarget {
  /** The log's last position once the writers stopped. */
  head: number;
  /** Each followed order's version then. */
  versions: Record<number, number>;
}

export type SoakRequest =
  | {
      id: number;
      type: 'start';
      gatewayUrls: string[];
      apiUrl: string;
      count: number;
      /** Clients 0 … fullStream − 1 follow the whole stream; the rest one order each. */
      fullStream: number;
      orderIds: number[];
      /** The log's position and the orders' versions when the clients start. */
      since: number;
      versions: Record<number, number>;
    }
  | { id: number; type: 'status' }
  | { id: number; type: 'settle'; target: SoakSettleTarget }
  | { id: number; type: 'close' };

export type SoakReply = { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: string };

export interface SoakClientsStatus {
  clients: number;
  connected: number;
  connects: number;
  leaves: number;
  /** Events received, all clients. */
  received: number;
  repeats: number;
  gaps: number;
  resyncs: number;
  problems: string[];
  rssBytes: number;
  heapUsedBytes: number;
  loopDelayP99Ms: number;
}
