// When the leader holds the doorbell's lease (writers skip NOTIFY, the leader polls) and when it
// lets writers ring: decided from the rate of events its drains hand over. NOTIFY serialises the
// commits of notifying transactions on one lock, which costs writers under a heavy load; under a
// light one it costs nothing and wakes the leader at once, where the poll makes each event wait
// half a poll period on average. Pure: drains are reported with their time, it says what to hold.

/** Drains with work the take decision looks at: the rate must hold over several, not one burst. */
const TAKE_OVER_DRAINS = 8;

export interface LeasePolicyOptions {
  /** Take the lease at this many events/s or more; 0: whenever there is work. */
  leaseAbovePerSecond: number;
  /**
   * Held at least this long (ms), and let go once the rate averaged over the last this long is
   * below half the take rate: a dip does not flip the mode.
   */
  releaseAfterMs: number;
}

export interface LeasePolicy {
  /** A drain handed over `events` at `now` (ms); returns whether the lease should be held now. */
  observe(events: number, now: number): boolean;
  /** Whether the lease is held, as last decided. */
  readonly held: boolean;
}

export function createLeasePolicy(options: LeasePolicyOptions): LeasePolicy {
  return new RateLeasePolicy(options);
}

class RateLeasePolicy implements LeasePolicy {
  /** Drains that found work: their time and events, oldest first, the last releaseAfterMs at least. */
  private recent: { at: number; events: number }[] = [];
  private holding = false;
  private heldSince = 0;
  private readonly leaseAbovePerSecond: number;
  private readonly releaseAfterMs: number;

  constructor({ leaseAbovePerSecond, releaseAfterMs }: LeasePolicyOptions) {
    this.leaseAbovePerSecond = leaseAbovePerSecond;
    this.releaseAfterMs = releaseAfterMs;
  }

  get held(): boolean {
    return this.holding;
  }

  observe(events: number, now: number): boolean {
    if (events > 0) this.recent.push({ at: now, events });
    const horizon = now - this.releaseAfterMs;
    const { recent } = this;
    if (recent.length > TAKE_OVER_DRAINS && recent[0]!.at < horizon) {
      this.recent = recent.filter((d, i) => d.at >= horizon || i >= recent.length - TAKE_OVER_DRAINS);
    }
    if (!this.holding) {
      const rate = this.leaseAbovePerSecond;
      const take = rate === 0 ? events > 0 : this.drainRate() >= rate;
      if (take) {
        this.holding = true;
        this.heldSince = now;
      }
    } else if (now - this.heldSince >= this.releaseAfterMs) {
      const rate = this.leaseAbovePerSecond;
      const low = rate === 0 ? this.windowRate(now) === 0 : this.windowRate(now) < rate / 2;
      if (low) this.holding = false;
    }
    return this.holding;
  }

  /** Events/s over the last TAKE_OVER_DRAINS drains with work (the first one's events excluded). */
  private drainRate(): number {
    const last = this.recent.slice(-TAKE_OVER_DRAINS);
    if (last.length < TAKE_OVER_DRAINS) return 0;
    const span = last.at(-1)!.at - last[0]!.at;
    const events = last.slice(1).reduce((n, d) => n + d.events, 0);
    return span > 0 ? (events * 1000) / span : Number.POSITIVE_INFINITY;
  }

  /** Events/s over the last releaseAfterMs. */
  private windowRate(now: number): number {
    const since = now - this.releaseAfterMs;
    const events = this.recent.filter((d) => d.at > since).reduce((n, d) => n + d.events, 0);
    return (events * 1000) / this.releaseAfterMs;
  }
}
