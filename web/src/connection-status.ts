// The always-visible connection line: state (announced to screen readers when it changes, never
// for every event), the last position, and the commit → screen latency percentiles.

import { byTestId, setText } from './dom.js';
import { formatMs } from './format.js';
import type { ConnectionState } from './live-connection.js';

const LABELS: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  replaying: 'Catching up…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  resyncing: 'Reloading the snapshot…',
  unauthorized: 'Not connected: a valid API token is required',
  refused: 'Not connected: the server refused the connection',
};

export interface ConnectionStatus {
  setState(state: ConnectionState, detail?: string): void;
  setPosition(position: number): void;
  setLatency(summary: { p50: number; p99: number; count: number } | null): void;
}

export function createConnectionStatus(root: HTMLElement): ConnectionStatus {
  const box = byTestId(root, 'connection');
  const label = byTestId(root, 'connection-state');
  const position = byTestId(root, 'position');
  const p50 = byTestId(root, 'latency-p50');
  const p99 = byTestId(root, 'latency-p99');
  const latency = byTestId(root, 'latency');
  return {
    setState(state, detail) {
      box.dataset.state = state;
      setText(label, LABELS[state]);
      box.title = detail ? `${LABELS[state]} (${detail})` : LABELS[state];
    },
    setPosition(value) {
      setText(position, value.toLocaleString());
      position.dataset.position = String(value);
    },
    setLatency(summary) {
      if (!summary) return;
      setText(p50, formatMs(summary.p50));
      setText(p99, formatMs(summary.p99));
      latency.title = `over the last ${summary.count.toLocaleString()} live events`;
    },
  };
}
