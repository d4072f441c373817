// Commit → screen latency and its last stage, socket → screen: how long after PostgreSQL captured
// a change, and after this page received it from its socket, the frame that drew it was done.
// Keeps both for the same events, each in a ring of the last samples (sample-window.ts), and
// answers rolling percentiles; pure, no DOM.
//
// A frame is done when its style, layout and paint have been handed to the compositor
// (frame-scheduler.ts); the display follows within a frame. Commit → screen compares the server's
// clock (occurred_at) with the browser's, so on another machine it includes their skew (and may
// then read less than its own stage); socket → screen is read on the page's monotonic clock alone.

import { createSampleWindow, type WindowSummary } from './sample-window.js';

/** Samples kept: at 1,000 events/s that is the last second; at low rates, the last hour's. */
export const LATENCY_SAMPLES = 1_000;

/** One live event of a frame: when PostgreSQL captured it, and when the page received it. */
export interface LiveSample {
  /** The event's occurred_at (ISO). */
  occurredAt: string;
  /** performance.now() when the live set (src/client) handed it to the page. */
  receivedAt: number;
}

/** When a frame was done, on each clock: Date.now() and performance.now(). */
export interface FrameDoneAt {
  wallMs: number;
  monoMs: number;
}

export interface LatencySummary {
  commit: WindowSummary;
  socket: WindowSummary;
}

export interface LatencyMeter {
  /**
   * Records the live events drawn by a frame done at `done`; returns each one's commit → screen
   * latency in ms (NaN, and nothing recorded, when occurred_at is not a date), which the live
   * chart takes too instead of parsing the date again.
   */
  record(samples: readonly LiveSample[], done: FrameDoneAt): number[];
  /** Percentiles of both measures over the same kept events, in ms; null before the first. */
  summary(): LatencySummary | null;
}

export function createLatencyMeter(capacity = LATENCY_SAMPLES): LatencyMeter {
  const commit = createSampleWindow(capacity);
  const socket = createSampleWindow(capacity);
  return {
    record(samples, done) {
      return samples.map(({ occurredAt, receivedAt }) => {
        const occurred = Date.parse(occurredAt);
        if (Number.isNaN(occurred)) return Number.NaN;
        const latency = Math.max(0, done.wallMs - occurred);
        commit.add(latency);
        socket.add(done.monoMs - receivedAt);
        return latency;
      });
    },
    summary() {
      const commitSummary = commit.summary();
      const socketSummary = socket.summary();
      return commitSummary && socketSummary ? { commit: commitSummary, socket: socketSummary } : null;
    },
  };
}
