// The always-visible connection line: the live set's status (announced to screen readers when it
// changes, never for every event), the last position, and the commit → screen latency percentiles.

import type { LiveStatus } from '../../src/client/index.js';
import { byTestId, setText } from './dom.js';
import { formatMs } from './format.js';

/**
 * What the line shows for each status of the live set (src/client): `state` is the box's
 * data-state, which styles.css colours and the e2e tests read, and keeps the page's own names.
 * The page never closes its live set: it is closed only by a handshake the gateway refused for
 * another reason than the token (400), and a new token reconnects it.
 */
const SHOWN: Record<LiveStatus, { state: string; label: string }> = {
  connecting: { state: 'connecting', label: 'Connecting…' },
  'catching-up': { state: 'replaying', label: 'Catching up…' },
  live: { state: 'live', label: 'Live' },
  reconnecting: { state: 'reconnecting', label: 'Reconnecting…' },
  reloading: { state: 'resyncing', label: 'Reloading the snapshot…' },
  unauthorized: { state: 'unauthorized', label: 'Not connected: a valid API token is required' },
  closed: { state: 'refused', label: 'Not connected: the server refused the connection' },
};

export interface ConnectionStatus {
  setStatus(status: LiveStatus, detail?: string): void;
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
    setStatus(status, detail) {
      const { state, label: text } = SHOWN[status];
      box.dataset.state = state;
      setText(label, text);
      box.title = detail ? `${text} (${detail})` : text;
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
