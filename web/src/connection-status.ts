// The always-visible connection line: the live set's status (announced to screen readers when it
// changes, never for every event), the last position, and the latency percentiles: commit →
// screen, and of it the page's own stage, socket → screen (latency-meter.ts). The numbers are
// plain text, read when asked for, never announced.

import type { LiveStatus } from '../../src/client/index.js';
import { byTestId, setText } from './dom.js';
import { formatMs } from './format.js';
import type { LatencySummary } from './latency-meter.js';

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
  setLatency(summary: LatencySummary | null): void;
}

export function createConnectionStatus(root: HTMLElement): ConnectionStatus {
  const box = byTestId(root, 'connection');
  const label = byTestId(root, 'connection-state');
  const position = byTestId(root, 'position');
  const latency = byTestId(root, 'latency');
  const figures = {
    commitP50: byTestId(root, 'latency-p50'),
    commitP99: byTestId(root, 'latency-p99'),
    socketP50: byTestId(root, 'socket-p50'),
    socketP99: byTestId(root, 'socket-p99'),
  };
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
      setText(figures.commitP50, formatMs(summary.commit.p50));
      setText(figures.commitP99, formatMs(summary.commit.p99));
      setText(figures.socketP50, formatMs(summary.socket.p50));
      setText(figures.socketP99, formatMs(summary.socket.p99));
      latency.title = `over the last ${summary.commit.count.toLocaleString()} live events`;
    },
  };
}
