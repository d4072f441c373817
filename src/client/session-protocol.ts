// The session's vocabulary (session.ts): its options, the inputs the driver reports, the commands
// it returns, and what it shows the application. Types only.

import type { OrderEvent } from '../contract/events.js';
import type { OrdersLiveError } from './errors.js';

export type LiveStatus =
  /** Loading the first snapshot, or connecting for the first time. */
  | 'connecting'
  /** Connected; the gateway is replaying what happened after our position. */
  | 'catching-up'
  /** Caught up (`ready`): events arrive as they happen. */
  | 'live'
  /** The link dropped: retrying with backoff, on the next gateway, resuming after our position. */
  | 'reconnecting'
  /** The gateway cannot serve our position: a new snapshot is loading. */
  | 'reloading'
  /** The token was refused: retrying slowly, or at once on reconnect(). */
  | 'unauthorized'
  /** Closed by the application or by an error that retrying cannot mend. */
  | 'closed';

export interface SessionOptions {
  /** How many gateway URLs there are (tried in turn). */
  urls: number;
  /** Load a snapshot first and again on `resync` (live orders); else a resync is an error (events). */
  snapshot: boolean;
  /** Without a snapshot: resume after this position, or live from now when undefined. */
  since?: number;
  /** The epoch of `since`, when known. */
  epoch?: number;
  /** No server-side filter: positions must follow one another (changed by the `filtered` input). */
  contiguous: boolean;
  /** A refused token ends the session instead of being retried. */
  refusalIsFatal: boolean;
  /** Retry waits: full jitter, 500 ms doubling to 5 s (lib/backoff.ts). */
  retry?: { baseMs: number; capMs: number; random?: () => number };
}

export type SessionInput =
  | { type: 'start' }
  /** A snapshot loaded by `load` command number `load`, consistent at `position` of `epoch`. */
  | { type: 'loaded'; load: number; position: number; epoch?: number }
  | { type: 'load-failed'; load: number; error: OrdersLiveError }
  | { type: 'open'; link: number }
  | { type: 'events'; link: number; events: readonly OrderEvent[] }
  | { type: 'ready'; link: number; position: number; epoch?: number }
  | { type: 'resync'; link: number; reason: string }
  /** The link closed or never opened; `refusal` when the gateway refused the handshake. */
  | { type: 'lost'; link: number; reason: string; refusal?: { status: number; message: string } }
  /** The timer of the last `wait` fired. */
  | { type: 'timer' }
  /** The application asks to connect again now (a new token, say). */
  | { type: 'reconnect' }
  /** Stop receiving for a while (the consumer is behind); `resume` continues after the position. */
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'close' }
  /** The gateway's filter changed: with one, positions skip what it leaves out. */
  | { type: 'filtered'; filtered: boolean };

export type SessionCommand =
  /** `epoch`, the epoch of `since`, only when known. */
  | { type: 'connect'; link: number; url: number; since: number | undefined; epoch?: number }
  | { type: 'disconnect'; link: number }
  | { type: 'load'; load: number; url: number }
  /** The snapshot of that load is accepted: replace the model with it (position is set). */
  | { type: 'snapshot'; load: number }
  /** Replace any pending timer: fire `timer` after `ms`; `ms` null cancels it. */
  | { type: 'wait'; ms: number | null }
  /** New events, once each, in order. */
  | { type: 'deliver'; events: OrderEvent[] }
  | { type: 'status'; status: LiveStatus; detail?: string }
  /** `fatal`: the session is closed. */
  | { type: 'error'; error: OrdersLiveError; fatal: boolean };

/** What the session mended: a correct gateway gives neither, so they are worth watching. */
export interface SessionStats {
  /** Events dropped because their position was already delivered. */
  duplicates: number;
  /** Times positions were skipped and the session resumed over the gap. */
  gaps: number;
}

export interface Session {
  readonly stats: Readonly<SessionStats>;
  /** The last position delivered (or of the snapshot, or of `ready`). */
  readonly position: number | undefined;
  /** The epoch of the log `position` belongs to, when known. */
  readonly epoch: number | undefined;
  readonly status: LiveStatus;
  handle(input: SessionInput): SessionCommand[];
}
