// Coalesces any number of "something changed" calls into one render per animation frame, so
// 1,000 events a second cost at most 60 renders, not 1,000. In a hidden tab the browser pauses
// frames: changes pile up in the model (bounded by its size) and are drawn once when it is shown.
//
// Paced by what a frame costs: a render (with the style and layout it causes) that took C ms is
// followed by at least C ms without one. On a fast machine C is a few ms and nothing changes; on
// a slow or busy one the page keeps half its time for receiving events instead of re-laying out
// the table after every message, and catches up with a burst in fewer, larger frames.
//
// The end of each rendered frame is also what the latency readouts call "screen": `done` is told.

import type { FrameDoneAt } from './latency-meter.js';

export interface FrameScheduler {
  /** Asks for a render in the next frame; calls before it comes are folded into it. */
  schedule(): void;
  stop(): void;
}

/** Never wait longer than this between renders, however slow the last one was. */
const MAX_PAUSE_MS = 1_000;

/** `render` draws a frame; `done` hears when its style, layout and paint were over, before the next one. */
export function createFrameScheduler(render: () => void, done?: (at: FrameDoneAt) => void): FrameScheduler {
  let frame: number | undefined;
  let pause: ReturnType<typeof setTimeout> | undefined;
  let wanted = false;
  let stopped = false;
  /** Between a render and the end of its frame: its cost is not known yet. */
  let measuring = false;
  /** When the next render may start (performance.now() time). */
  let notBefore = 0;
  // A message posted from a rAF callback is delivered after that frame's style, layout and
  // paint: the moment the frame was really done.
  const frameDone = new MessageChannel();
  let renderStarted = 0;
  frameDone.port1.onmessage = () => {
    measuring = false;
    const finished = performance.now();
    notBefore = finished + Math.min(MAX_PAUSE_MS, finished - renderStarted);
    if (!stopped) done?.({ wallMs: Date.now(), monoMs: finished });
    if (wanted) request();
  };

  function run(): void {
    frame = undefined;
    if (stopped) return;
    wanted = false;
    measuring = true;
    renderStarted = performance.now();
    render();
    frameDone.port2.postMessage(null);
  }

  function request(): void {
    if (stopped || measuring || frame !== undefined || pause !== undefined) return;
    const wait = notBefore - performance.now();
    if (wait <= 0) {
      frame = requestAnimationFrame(run);
      return;
    }
    pause = setTimeout(() => {
      pause = undefined;
      request();
    }, wait);
  }

  return {
    schedule() {
      wanted = true;
      request();
    },
    stop() {
      stopped = true;
      if (frame !== undefined) cancelAnimationFrame(frame);
      clearTimeout(pause);
      frameDone.port1.close();
    },
  };
}
