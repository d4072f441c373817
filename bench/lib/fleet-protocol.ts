// The messages between a benchmark and its socket-client child (bench/socket-clients.ts): the
// parent tells the child when each event committed, the child times what its clients receive.

/** `envelope`: orders-live's `events` arrays; `row`: the naive baseline's one row per `order`. */
export type FleetMode = 'envelope' | 'row';

export type FleetRequest =
  | { id: number; type: 'connect'; url: string; count: number; mode: FleetMode }
  | { id: number; type: 'ping' }
  | { id: number; type: 'clock'; offsetMs: number }
  | { id: number; type: 'status' }
  | { id: number; type: 'collect' }
  | { id: number; type: 'close' };

/** Commit times in the parent's clock; no reply. */
export interface CommitBatch {
  type: 'commits';
  keys: Float64Array;
  times: Float64Array;
}

export type FleetReply = { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: string };

export interface FleetStatus {
  connected: number;
  disconnects: number;
  /** Receipts (event × client) in this window. */
  received: number;
  /** Committed events that some client has not received yet. */
  pending: number;
  /** Age of the oldest of them, ms (0 when none). */
  oldestPendingMs: number;
  /** Largest commit → receive latency seen in this window, ms. */
  maxLatencyMs: number;
}

/** What a window measured; latencies in ms. */
export interface FleetWindow {
  status: FleetStatus;
  /** Commit → receive, every client, every event. */
  latencies: Float64Array;
  /** Client 0 only: commit → the bridge's published_at (envelope mode). */
  toPublished: Float64Array;
  /** Client 0 only: published_at → receive (envelope mode). */
  fromPublished: Float64Array;
  /** Receipts whose commit the parent never announced (should be 0). */
  unknown: number;
  /** Envelope mode: positions received twice by one client, and holes between positions. */
  duplicates: number;
  gaps: number;
}

/** The clock both processes use: wall-clock based, with sub-millisecond resolution. */
export function clockMs(): number {
  return performance.timeOrigin + performance.now();
}
