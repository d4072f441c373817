// The client's snapshot-and-resume, as a pure state machine. The driver (driver.ts) opens links
// to gateways, loads snapshots and keeps one timer; it reports what happened as inputs and
// performs the commands they return. No I/O here, so unit tests drive every interleaving.
//
// The promise it keeps: every position is delivered once, in order. The position is the last one
// delivered (or of the snapshot, or of `ready`); every (re)connect sends it as `since`, so the
// gateway replays exactly what was missed. What arrives at or below it is dropped; with no
// server-side filter positions must follow one another, and a gap drops the link and resumes
// (the gateway fills it from the log). Links are numbered: anything from an older link is ignored.
//
// The position belongs to an epoch of the log (invariant 9), from the snapshot, `ready` or the
// events, and goes with it on every connect. An event of a newer epoch at or below the position,
// a `ready` of a newer epoch below it, or an event of an older epoch means the log's history
// changed under what was delivered: the snapshot is loaded again (or, without one, the stream
// ends with ResyncError), as on `resync`.

import type { OrderEvent } from '../contract/events.js';
import { backoffDelayMs } from '../lib/backoff.js';
import {
  BadFilterError,
  type OrdersLiveError,
  RefusedError,
  ResyncError,
  UnauthorizedError,
} from './errors.js';

export type * from './session-protocol.js';

import { follows } from '../lib/positions.js';
import type {
  LiveStatus,
  Session,
  SessionCommand,
  SessionOptions,
  SessionStats,
} from './session-protocol.js';

type Next = 'connect' | 'load';

export function createSession(options: SessionOptions): Session {
  const retry = { baseMs: 500, capMs: 5_000, ...options.retry };
  let position = options.snapshot ? undefined : options.since;
  let epoch = options.snapshot || options.since === undefined ? undefined : options.epoch;
  let status: LiveStatus = 'connecting';
  let hasSnapshot = false;
  let everLive = false;
  let url = 0;
  let attempt = 0;
  let link = 0;
  let linkOpen = false; // a link is connecting or open
  let load = 0;
  let loading = false;
  let waiting: Next | null = null;
  let paused = false;
  let started = false;
  let contiguous = options.contiguous;
  let statusDetail: string | undefined;
  /** Closed by a refused handshake: reconnect() may try again. */
  let reopenable = false;
  const stats: SessionStats = { duplicates: 0, gaps: 0 };

  function setStatus(next: LiveStatus, detail?: string): SessionCommand[] {
    // The same status again (a refused token, retried) is news only with a new reason.
    if (next === status && (detail === undefined || detail === statusDetail)) return [];
    status = next;
    statusDetail = detail;
    return [
      detail === undefined ? { type: 'status', status: next } : { type: 'status', status: next, detail },
    ];
  }

  function dropLink(): SessionCommand[] {
    if (!linkOpen) return [];
    linkOpen = false;
    return [{ type: 'disconnect', link }];
  }

  function go(next: Next): SessionCommand[] {
    waiting = null;
    if (next === 'load') {
      loading = true;
      load += 1;
      return [{ type: 'load', load, url }];
    }
    if (paused) return [];
    link += 1;
    linkOpen = true;
    const known = position !== undefined && epoch !== undefined ? { epoch } : {};
    return [{ type: 'connect', link, url, since: position, ...known }];
  }

  /** Retries `next` after the backoff, on the next URL. */
  function later(next: Next, floorMs = 0): SessionCommand[] {
    url = (url + 1) % options.urls;
    const ms = Math.max(floorMs, backoffDelayMs(attempt, retry));
    attempt += 1;
    waiting = next;
    return [{ type: 'wait', ms }];
  }

  function close(error?: OrdersLiveError): SessionCommand[] {
    const commands: SessionCommand[] = [...dropLink(), { type: 'wait', ms: null }];
    waiting = null;
    loading = false;
    reopenable =
      error instanceof RefusedError || error instanceof BadFilterError || error instanceof UnauthorizedError;
    if (error) commands.push({ type: 'error', error, fatal: true });
    return [...commands, ...setStatus('closed', error?.message)];
  }

  function refused(refusal: { status: number; message: string }): SessionCommand[] {
    if (refusal.status !== 401) {
      const error = /filter/.test(refusal.message)
        ? new BadFilterError(refusal.message)
        : new RefusedError(refusal.message);
      return close(error);
    }
    const error = new UnauthorizedError(refusal.message);
    if (options.refusalIsFatal) return close(error);
    // A token does not mend itself quickly: wait the longest backoff, or for reconnect().
    return [
      { type: 'error', error, fatal: false },
      ...setStatus('unauthorized', refusal.message),
      ...later(waitingFor(), retry.capMs),
    ];
  }

  /** What to do next when the stream cannot go on: a snapshot first if there is none yet. */
  function waitingFor(): Next {
    return options.snapshot && !hasSnapshot ? 'load' : 'connect';
  }

  /**
   * What was delivered belongs to another history of the log: reload the snapshot, or, without
   * one, end the stream with ResyncError. `resync` from the gateway ends up here as well.
   */
  function reload(reason: string, delivered: SessionCommand[] = []): SessionCommand[] {
    const commands = [...delivered, ...dropLink()];
    if (!options.snapshot) return [...commands, ...close(new ResyncError(reason, position))];
    return [...commands, ...setStatus('reloading', reason), ...go('load')];
  }

  /**
   * Whether an event or `ready` of epoch `next` at `at` continues the history delivered so far:
   * the same epoch, one not known on either side, or a newer one from `newerFrom` on.
   */
  function continuesHistory(next: number | undefined, at: number, newerFrom: number): boolean {
    if (next === undefined || epoch === undefined || position === undefined || next === epoch) return true;
    return next > epoch && at >= newerFrom;
  }

  function accept(events: readonly OrderEvent[]): SessionCommand[] {
    const fresh: OrderEvent[] = [];
    for (const event of events) {
      // A newer epoch is taken only for positions beyond ours: the gateway compared our epoch
      // with its own before it replayed; at or below ours it is another history.
      if (!continuesHistory(event.epoch, event.position, (position ?? 0) + 1)) {
        const delivered: SessionCommand[] = fresh.length > 0 ? [{ type: 'deliver', events: fresh }] : [];
        return reload(`position ${event.position} is of epoch ${event.epoch}, ours of ${epoch}`, delivered);
      }
      const step = follows(position, event.position);
      if (step === 'repeat') {
        stats.duplicates += 1;
        continue;
      }
      if (contiguous && step === 'gap') {
        stats.gaps += 1;
        // The gateway skipped positions: resume after the last one delivered (it fills the gap).
        const commands: SessionCommand[] = fresh.length > 0 ? [{ type: 'deliver', events: fresh }] : [];
        return [
          ...commands,
          ...dropLink(),
          ...setStatus('reconnecting', `gap after position ${position}`),
          ...later('connect'),
        ];
      }
      fresh.push(event);
      position = event.position;
      epoch = event.epoch ?? epoch;
    }
    return fresh.length > 0 ? [{ type: 'deliver', events: fresh }] : [];
  }

  return {
    stats,
    get position() {
      return position;
    },
    get epoch() {
      return epoch;
    },
    get status() {
      return status;
    },
    handle(input) {
      // Closed for good, except that reconnect() tries again after a refused handshake (the
      // application may have a new token).
      if (status === 'closed' && !(input.type === 'reconnect' && reopenable)) return [];
      switch (input.type) {
        case 'start':
          if (started) return [];
          started = true;
          return [...setStatus('connecting'), ...go(options.snapshot ? 'load' : 'connect')];
        case 'loaded':
          if (!loading || input.load !== load) return [];
          loading = false;
          hasSnapshot = true;
          position = input.position;
          epoch = input.epoch;
          return [{ type: 'snapshot', load: input.load }, ...go('connect')];
        case 'load-failed':
          if (!loading || input.load !== load) return [];
          loading = false;
          if (input.error.code === 'unauthorized')
            return refused({ status: 401, message: input.error.message });
          return [{ type: 'error', error: input.error, fatal: false }, ...later('load')];
        case 'open':
          if (input.link !== link || !linkOpen) return [];
          return setStatus('catching-up');
        case 'events':
          if (input.link !== link || !linkOpen) return [];
          return accept(input.events);
        case 'ready': {
          if (input.link !== link || !linkOpen) return [];
          // At our own position a newer epoch is the gateway's answer to ours: it found our
          // position shared with its history. Below it, the log went back under us.
          if (!continuesHistory(input.epoch, input.position, position ?? 0))
            return reload(
              `the log is at position ${input.position} of epoch ${input.epoch}, ours of ${epoch}`,
            );
          if (contiguous && position !== undefined && input.position > position) {
            stats.gaps += 1;
            return [
              ...dropLink(),
              ...setStatus('reconnecting', `gap after position ${position}`),
              ...later('connect'),
            ];
          }
          position = Math.max(position ?? input.position, input.position);
          epoch = input.epoch ?? epoch;
          attempt = 0;
          everLive = true;
          return setStatus('live');
        }
        case 'resync':
          if (input.link !== link || !linkOpen) return [];
          return reload(input.reason);
        case 'lost':
          if (input.link !== link || !linkOpen) return [];
          linkOpen = false;
          if (input.refusal) return refused(input.refusal);
          return [...setStatus(everLive ? 'reconnecting' : 'connecting', input.reason), ...later('connect')];
        case 'timer': {
          if (!waiting) return [];
          return go(waiting);
        }
        case 'reconnect': {
          if (!started || paused) return [];
          attempt = 0;
          reopenable = false;
          const commands: SessionCommand[] = [...dropLink(), { type: 'wait', ms: null }];
          // A load in flight may carry the old token: a new one replaces it.
          const next = loading ? 'load' : waitingFor();
          const again = everLive ? 'reconnecting' : 'connecting';
          const loadStatus = hasSnapshot ? 'reloading' : 'connecting';
          return [...commands, ...setStatus(next === 'load' ? loadStatus : again), ...go(next)];
        }
        case 'pause':
          if (paused) return [];
          paused = true;
          return dropLink();
        case 'resume':
          if (!paused) return [];
          paused = false;
          return loading || waiting ? [] : go('connect');
        case 'close':
          return close();
        case 'filtered':
          contiguous = !input.filtered;
          return [];
      }
    },
  };
}
