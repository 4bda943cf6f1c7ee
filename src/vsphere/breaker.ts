/**
 * A circuit breaker per vCenter. After `failureThreshold` consecutive outage-type failures
 * (no connection, timeout, 502/503/504) it opens: calls fail at once with
 * VCENTER_UNAVAILABLE instead of each waiting for its own timeout, and a background probe
 * asks the vCenter every `probeIntervalMs` until it answers, which closes the breaker.
 * Faults and HTTP errors from a vCenter that answers are not outages and reset the count.
 */
export type BreakerState = 'closed' | 'open';

export interface BreakerOptions {
  failureThreshold: number;
  probeIntervalMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { failureThreshold: 5, probeIntervalMs: 2_000 };

export interface BreakerStatus {
  state: BreakerState;
  consecutiveFailures: number;
  /** When the breaker last changed state (ISO). */
  since: string;
  /** The last outage-type failure, already free of secrets. */
  lastError?: string;
}

export class CircuitBreaker {
  private state: BreakerState = 'closed';
  private failures = 0;
  private since = new Date();
  private lastError: string | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly options: BreakerOptions,
    /** Resolves when the vCenter answered at all (any HTTP status but 502/503/504). */
    private readonly probe: () => Promise<boolean>,
    private readonly onChange: (status: BreakerStatus) => void = () => {},
  ) {}

  get isOpen(): boolean {
    return this.state === 'open';
  }

  status(): BreakerStatus {
    return {
      state: this.state,
      consecutiveFailures: this.failures,
      since: this.since.toISOString(),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  recordSuccess(): void {
    this.failures = 0;
    if (this.state === 'open') this.transition('closed');
  }

  recordOutage(message: string): void {
    this.failures++;
    this.lastError = message;
    if (this.state === 'closed' && this.failures >= this.options.failureThreshold) {
      this.transition('open');
      this.scheduleProbe();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
  }

  private transition(state: BreakerState): void {
    this.state = state;
    this.since = new Date();
    this.onChange(this.status());
  }

  private scheduleProbe(): void {
    if (this.stopped || this.state !== 'open') return;
    this.probeTimer = setTimeout(() => {
      void this.probe()
        .then((alive) => (alive ? this.recordSuccess() : undefined))
        .catch(() => undefined)
        .finally(() => this.scheduleProbe());
    }, this.options.probeIntervalMs);
    this.probeTimer.unref();
  }
}
