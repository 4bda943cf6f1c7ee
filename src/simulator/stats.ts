// Request and session counters behind GET /_sim/stats.

export interface SimStats {
  /** key = "METHOD route-template", e.g. "GET /api/vcenter/cluster" */
  requests: Record<string, number>;
  totalRequests: number;
  /** Requests checked against the official spec subsets, by "METHOD route-template" (see request-validation.ts). */
  validatedRequests: Record<string, number>;
  /** Of those, the ones refused as invalid (InvalidRequest / 400 INVALID_ARGUMENT). */
  invalidRequests: Record<string, number>;
  /** successful logins since last reset */
  logins: { rest: number; vim: number };
  /** logins refused (unknown user or wrong password) since last reset */
  failedLogins: { rest: number; vim: number };
  /** explicit logouts (DELETE /api/session, SessionManager.Logout) since last reset */
  logouts: { rest: number; vim: number };
  liveSessions: { rest: number; vim: number };
  /** live sessions per API per principal name as vCenter reports it, e.g. { rest: { 'VSPHERE.LOCAL\\User7': 1 }, vim: {} } */
  sessionsByUser: { rest: Record<string, number>; vim: Record<string, number> };
  /** PropertyFilters alive now, over every session (they die with their session). */
  liveFilters: number;
  /** WaitForUpdatesEx calls pending right now. */
  waitingCalls: number;
  /** The most WaitForUpdatesEx calls pending at once since the last reset. */
  peakWaitingCalls: number;
  /** Tasks vCenter still knows (queued, running, finished within the retention time). */
  liveTasks: number;
  /** Tasks queued or running. */
  runningTasks: number;
  /** VI/JSON requests by the release in their URL (/sdk/vim25/{release}/...). */
  vimReleases: Record<string, number>;
  /** Injected faults by kind: latency, http503, http500, fault:<VimFaultType>, hang, reset, down. */
  faultsInjected: Record<string, number>;
  /** Faults the VI/JSON API answered by itself (not injected), by fault type, e.g. InvalidCollectorVersion. */
  faultsAnswered: Record<string, number>;
  /**
   * What the newest ScanHostPatchV2_Task received as its operation spec (null without one):
   * the depot user name and whether a password came along, never the password itself.
   */
  lastScanSpec: { userName: string | null; passwordSent: boolean; proxy: string | null; cmdOption: string | null } | null;
}

/** Live state the recorder does not own, read at snapshot time. */
export interface LiveCounts {
  sessions: { rest: number; vim: number };
  sessionsByUser: { rest: Record<string, number>; vim: Record<string, number> };
  filters: number;
  tasks: { live: number; running: number };
}

export type Api = 'rest' | 'vim';

export class StatsRecorder {
  private requests = new Map<string, number>();
  private total = 0;
  private validated = new Map<string, number>();
  private invalid = new Map<string, number>();
  private logins = { rest: 0, vim: 0 };
  private failedLogins = { rest: 0, vim: 0 };
  private logouts = { rest: 0, vim: 0 };
  private waiting = 0;
  private peakWaiting = 0;
  private faults = new Map<string, number>();
  private answered = new Map<string, number>();
  private scanSpec: SimStats['lastScanSpec'] = null;
  private releases = new Map<string, number>();

  release(release: string): void {
    this.releases.set(release, (this.releases.get(release) ?? 0) + 1);
  }

  /** Called once per request with its route template (never for /_sim/). */
  count(method: string, route: string): void {
    const key = `${method} ${route}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    this.total++;
  }

  /** A request checked against the spec; `valid` false when it was refused. */
  validation(method: string, route: string, valid: boolean): void {
    const key = `${method} ${route}`;
    this.validated.set(key, (this.validated.get(key) ?? 0) + 1);
    if (!valid) this.invalid.set(key, (this.invalid.get(key) ?? 0) + 1);
  }

  login(api: Api, ok: boolean): void {
    if (ok) this.logins[api]++;
    else this.failedLogins[api]++;
  }

  logout(api: Api): void {
    this.logouts[api]++;
  }

  waitBegin(): void {
    this.waiting++;
    this.peakWaiting = Math.max(this.peakWaiting, this.waiting);
  }

  waitEnd(): void {
    this.waiting--;
  }

  faultInjected(kind: string): void {
    this.faults.set(kind, (this.faults.get(kind) ?? 0) + 1);
  }

  faultAnswered(type: string): void {
    this.answered.set(type, (this.answered.get(type) ?? 0) + 1);
  }

  scanSpecReceived(spec: SimStats['lastScanSpec']): void {
    this.scanSpec = spec;
  }

  snapshot(live: LiveCounts): SimStats {
    const sorted = (m: Map<string, number>): Record<string, number> => Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)));
    return {
      requests: sorted(this.requests),
      totalRequests: this.total,
      validatedRequests: sorted(this.validated),
      invalidRequests: sorted(this.invalid),
      logins: { ...this.logins },
      failedLogins: { ...this.failedLogins },
      logouts: { ...this.logouts },
      liveSessions: { ...live.sessions },
      sessionsByUser: live.sessionsByUser,
      liveFilters: live.filters,
      waitingCalls: this.waiting,
      peakWaitingCalls: this.peakWaiting,
      liveTasks: live.tasks.live,
      runningTasks: live.tasks.running,
      vimReleases: sorted(this.releases),
      faultsInjected: sorted(this.faults),
      faultsAnswered: sorted(this.answered),
      lastScanSpec: this.scanSpec && { ...this.scanSpec },
    };
  }

  reset(): void {
    this.requests.clear();
    this.total = 0;
    this.validated.clear();
    this.invalid.clear();
    this.logins = { rest: 0, vim: 0 };
    this.failedLogins = { rest: 0, vim: 0 };
    this.logouts = { rest: 0, vim: 0 };
    // Calls still waiting stay counted; the peak restarts from them.
    this.peakWaiting = this.waiting;
    this.faults.clear();
    this.answered.clear();
    this.scanSpec = null;
    this.releases.clear();
  }
}
