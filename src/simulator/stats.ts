// Request and session counters behind GET /_sim/stats.

export interface SimStats {
  /** key = "METHOD route-template", e.g. "GET /api/vcenter/cluster" */
  requests: Record<string, number>;
  totalRequests: number;
  /** successful logins since last reset */
  logins: { rest: number; vim: number };
  failedLogins: { rest: number; vim: number };
  liveSessions: { rest: number; vim: number };
}

export type Api = 'rest' | 'vim';

export class StatsRecorder {
  private requests = new Map<string, number>();
  private total = 0;
  private logins = { rest: 0, vim: 0 };
  private failedLogins = { rest: 0, vim: 0 };

  /** Called once per request with its route template (never for /_sim/). */
  count(method: string, route: string): void {
    const key = `${method} ${route}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    this.total++;
  }

  login(api: Api, ok: boolean): void {
    if (ok) this.logins[api]++;
    else this.failedLogins[api]++;
  }

  snapshot(liveSessions: { rest: number; vim: number }): SimStats {
    return {
      requests: Object.fromEntries([...this.requests].sort(([a], [b]) => a.localeCompare(b))),
      totalRequests: this.total,
      logins: { ...this.logins },
      failedLogins: { ...this.failedLogins },
      liveSessions: { ...liveSessions },
    };
  }

  reset(): void {
    this.requests.clear();
    this.total = 0;
    this.logins = { rest: 0, vim: 0 };
    this.failedLogins = { rest: 0, vim: 0 };
  }
}
