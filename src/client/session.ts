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
import { follows } from '../lib/positions.js';
import {
  BadFilterError,
  type OrdersLiveError,
  RefusedError,
  ResyncError,
  refusalError,
  UnauthorizedError,
} from './errors.js';
import type {
  LiveStatus,
  Session,
  SessionCommand,
  SessionInput,
  SessionOptions,
  SessionStats,
} from './session-protocol.js';

export type * from './session-protocol.js';

type Next = 'connect' | 'load';

export function createSession(options: SessionOptions): Session {
  return new SessionMachine(options);
}

class SessionMachine implements Session {
  // Public here, read-only through Session: the driver and the application only read them.
  position: number | undefined;
  epoch: number | undefined;
  status: LiveStatus = 'connecting';
  readonly stats: SessionStats = { duplicates: 0, gaps: 0 };
  private readonly retry: NonNullable<SessionOptions['retry']>;
  private contiguous: boolean;
  private statusDetail: string | undefined;
  private hasSnapshot = false;
  private everLive = false;
  private url = 0;
  private attempt = 0;
  private link = 0;
  private linkOpen = false; // a link is connecting or open
  private load = 0;
  private loading = false;
  private waiting: Next | null = null;
  private paused = false;
  private started = false;
  /** Closed by a refused handshake: reconnect() may try again. */
  private reopenable = false;

  constructor(private readonly options: SessionOptions) {
    this.retry = { baseMs: 500, capMs: 5_000, ...options.retry };
    this.position = options.snapshot ? undefined : options.since;
    this.epoch = options.snapshot || options.since === undefined ? undefined : options.epoch;
    this.contiguous = options.contiguous;
  }

  handle(input: SessionInput): SessionCommand[] {
    // Closed for good, except that reconnect() tries again after a refused handshake (the
    // application may have a new token).
    if (this.status === 'closed' && !(input.type === 'reconnect' && this.reopenable)) return [];
    // What an older link or load reports is ignored.
    if ('link' in input && (input.link !== this.link || !this.linkOpen)) return [];
    if ('load' in input && (!this.loading || input.load !== this.load)) return [];
    switch (input.type) {
      case 'start':
        return this.start();
      case 'loaded':
        return this.loaded(input.load, input.position, input.epoch);
      case 'load-failed':
        return this.loadFailed(input.error);
      case 'open':
        return this.setStatus('catching-up');
      case 'events':
        return this.accept(input.events);
      case 'ready':
        return this.ready(input.position, input.epoch);
      case 'resync':
        return this.reload(input.reason);
      case 'lost':
        return this.lost(input.reason, input.refusal);
      case 'timer':
        return this.waiting ? this.go(this.waiting) : [];
      case 'reconnect':
        return this.reconnect();
      case 'pause':
        return this.pause();
      case 'resume':
        return this.resume();
      case 'close':
        return this.close();
      case 'filtered':
        this.contiguous = !input.filtered;
        return [];
    }
  }

  private start(): SessionCommand[] {
    if (this.started) return [];
    this.started = true;
    return [...this.setStatus('connecting'), ...this.go(this.options.snapshot ? 'load' : 'connect')];
  }

  private loaded(load: number, position: number, epoch: number | undefined): SessionCommand[] {
    this.loading = false;
    this.hasSnapshot = true;
    this.position = position;
    this.epoch = epoch;
    return [{ type: 'snapshot', load }, ...this.go('connect')];
  }

  private loadFailed(error: OrdersLiveError): SessionCommand[] {
    this.loading = false;
    if (error.code === 'unauthorized') return this.refused({ status: 401, message: error.message });
    return [{ type: 'error', error, fatal: false }, ...this.later('load')];
  }

  private accept(events: readonly OrderEvent[]): SessionCommand[] {
    const fresh: OrderEvent[] = [];
    const delivered = (): SessionCommand[] => (fresh.length > 0 ? [{ type: 'deliver', events: fresh }] : []);
    for (const event of events) {
      // A newer epoch is taken only for positions beyond ours: the gateway compared our epoch
      // with its own before it replayed; at or below ours it is another history.
      if (!this.continuesHistory(event.epoch, event.position, (this.position ?? 0) + 1)) {
        const reason = `position ${event.position} is of epoch ${event.epoch}, ours of ${this.epoch}`;
        return this.reload(reason, delivered());
      }
      const step = follows(this.position, event.position);
      if (step === 'repeat') {
        this.stats.duplicates += 1;
        continue;
      }
      // The gateway skipped positions: resume after the last one delivered (it fills the gap).
      if (this.contiguous && step === 'gap') return [...delivered(), ...this.gap()];
      fresh.push(event);
      this.position = event.position;
      this.epoch = event.epoch ?? this.epoch;
    }
    return delivered();
  }

  private ready(position: number, epoch: number | undefined): SessionCommand[] {
    // At our own position a newer epoch is the gateway's answer to ours: it found our
    // position shared with its history. Below it, the log went back under us.
    if (!this.continuesHistory(epoch, position, this.position ?? 0))
      return this.reload(`the log is at position ${position} of epoch ${epoch}, ours of ${this.epoch}`);
    if (this.contiguous && this.position !== undefined && position > this.position) return this.gap();
    this.position = Math.max(this.position ?? position, position);
    this.epoch = epoch ?? this.epoch;
    this.attempt = 0;
    this.everLive = true;
    return this.setStatus('live');
  }

  /** Positions were skipped: drop the link and resume after the last one delivered. */
  private gap(): SessionCommand[] {
    this.stats.gaps += 1;
    return [
      ...this.dropLink(),
      ...this.setStatus('reconnecting', `gap after position ${this.position}`),
      ...this.later('connect'),
    ];
  }

  private lost(reason: string, refusal: { status: number; message: string } | undefined): SessionCommand[] {
    this.linkOpen = false;
    if (refusal) return this.refused(refusal);
    return [
      ...this.setStatus(this.everLive ? 'reconnecting' : 'connecting', reason),
      ...this.later('connect'),
    ];
  }

  private reconnect(): SessionCommand[] {
    if (!this.started || this.paused) return [];
    this.attempt = 0;
    this.reopenable = false;
    const commands: SessionCommand[] = [...this.dropLink(), { type: 'wait', ms: null }];
    // A load in flight may carry the old token: a new one replaces it.
    const next = this.loading ? 'load' : this.waitingFor();
    const again = this.everLive ? 'reconnecting' : 'connecting';
    const loadStatus = this.hasSnapshot ? 'reloading' : 'connecting';
    return [...commands, ...this.setStatus(next === 'load' ? loadStatus : again), ...this.go(next)];
  }

  private pause(): SessionCommand[] {
    if (this.paused) return [];
    this.paused = true;
    return this.dropLink();
  }

  private resume(): SessionCommand[] {
    if (!this.paused) return [];
    this.paused = false;
    return this.loading || this.waiting ? [] : this.go('connect');
  }

  private setStatus(next: LiveStatus, detail?: string): SessionCommand[] {
    // The same status again (a refused token, retried) is news only with a new reason.
    if (next === this.status && (detail === undefined || detail === this.statusDetail)) return [];
    this.status = next;
    this.statusDetail = detail;
    return [
      detail === undefined ? { type: 'status', status: next } : { type: 'status', status: next, detail },
    ];
  }

  private dropLink(): SessionCommand[] {
    if (!this.linkOpen) return [];
    this.linkOpen = false;
    return [{ type: 'disconnect', link: this.link }];
  }

  private go(next: Next): SessionCommand[] {
    this.waiting = null;
    if (next === 'load') {
      this.loading = true;
      this.load += 1;
      return [{ type: 'load', load: this.load, url: this.url }];
    }
    if (this.paused) return [];
    this.link += 1;
    this.linkOpen = true;
    const known = this.position !== undefined && this.epoch !== undefined ? { epoch: this.epoch } : {};
    return [{ type: 'connect', link: this.link, url: this.url, since: this.position, ...known }];
  }

  /** Retries `next` after the backoff, on the next URL. */
  private later(next: Next, floorMs = 0): SessionCommand[] {
    this.url = (this.url + 1) % this.options.urls;
    const ms = Math.max(floorMs, backoffDelayMs(this.attempt, this.retry));
    this.attempt += 1;
    this.waiting = next;
    return [{ type: 'wait', ms }];
  }

  private close(error?: OrdersLiveError): SessionCommand[] {
    const commands: SessionCommand[] = [...this.dropLink(), { type: 'wait', ms: null }];
    this.waiting = null;
    this.loading = false;
    this.reopenable =
      error instanceof RefusedError || error instanceof BadFilterError || error instanceof UnauthorizedError;
    if (error) commands.push({ type: 'error', error, fatal: true });
    return [...commands, ...this.setStatus('closed', error?.message)];
  }

  private refused(refusal: { status: number; message: string }): SessionCommand[] {
    const error = refusalError(refusal);
    if (!(error instanceof UnauthorizedError) || this.options.refusalIsFatal) return this.close(error);
    // A token does not mend itself quickly: wait the longest backoff, or for reconnect().
    return [
      { type: 'error', error, fatal: false },
      ...this.setStatus('unauthorized', refusal.message),
      ...this.later(this.waitingFor(), this.retry.capMs),
    ];
  }

  /** What to do next when the stream cannot go on: a snapshot first if there is none yet. */
  private waitingFor(): Next {
    return this.options.snapshot && !this.hasSnapshot ? 'load' : 'connect';
  }

  /**
   * What was delivered belongs to another history of the log: reload the snapshot, or, without
   * one, end the stream with ResyncError. `resync` from the gateway ends up here as well.
   */
  private reload(reason: string, delivered: SessionCommand[] = []): SessionCommand[] {
    const commands = [...delivered, ...this.dropLink()];
    if (!this.options.snapshot) return [...commands, ...this.close(new ResyncError(reason, this.position))];
    return [...commands, ...this.setStatus('reloading', reason), ...this.go('load')];
  }

  /**
   * Whether an event or `ready` of epoch `next` at `at` continues the history delivered so far:
   * the same epoch, one not known on either side, or a newer one from `newerFrom` on.
   */
  private continuesHistory(next: number | undefined, at: number, newerFrom: number): boolean {
    const { epoch, position } = this;
    if (next === undefined || epoch === undefined || position === undefined || next === epoch) return true;
    return next > epoch && at >= newerFrom;
  }
}
