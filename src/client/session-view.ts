// What `events()` and `liveOrders()` show of their session (session.ts): its position, epoch,
// status and stats, read through. No state of its own, nothing that can fail.

import type { LiveStatus, Session, SessionStats } from './session.js';

/** The base of the event stream and of the live set: the session's state, read-only. */
export class SessionView {
  constructor(protected readonly session: Session) {}

  get position(): number | undefined {
    return this.session.position;
  }

  get epoch(): number | undefined {
    return this.session.epoch;
  }

  get status(): LiveStatus {
    return this.session.status;
  }

  get stats(): Readonly<SessionStats> {
    return this.session.stats;
  }
}
