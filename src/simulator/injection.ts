// Fault injection for resilience tests: per route template (the keys of
// SimStats.requests, or '*'), added latency and jitter, error answers, hangs
// and connection resets, decided by a seeded RNG so that the same rules,
// seed and request sequence always inject the same faults.

import { createRng } from './inventory.ts';

/**
 * '503': REST answers the vAPI SERVICE_UNAVAILABLE body, VI/JSON answers 503 as
 * vCenter's reverse proxy does. '500': REST ERROR body, VI/JSON SystemError.
 * Any other value names a VI/JSON fault type (e.g. 'SystemError',
 * 'NotAuthenticated') answered as an HTTP 500 fault body (REST routes: 500 ERROR).
 */
export type InjectedError = '503' | '500' | (string & {});

export interface FaultRule {
  /** 'METHOD template' as in SimStats.requests ('GET /api/vcenter/cluster'), a bare template (any method), or '*' */
  route: string;
  /** Added before answering, ms */
  latencyMs?: number;
  /** Uniform random extra latency 0..jitterMs */
  jitterMs?: number;
  /** Probability (0..1) of answering `error` instead of handling the request */
  errorRate?: number;
  /** Default '503' */
  error?: InjectedError;
  /** Retry-After header (seconds) on injected 503s */
  retryAfterSeconds?: number;
  /** Probability of accepting the request and never answering */
  hangRate?: number;
  /** Probability of destroying the connection without an answer */
  resetRate?: number;
}

export type Outcome = 'pass' | 'error' | 'hang' | 'reset';

export interface Decision {
  rule: FaultRule;
  delayMs: number;
  outcome: Outcome;
}

const RATES = ['resetRate', 'hangRate', 'errorRate'] as const;

/** Validates rules from JSON; throws an Error whose message says what is wrong. */
export function parseFaultRules(x: unknown): FaultRule[] {
  if (!Array.isArray(x)) throw new Error('rules must be an array of fault rules');
  return x.map((r: unknown, i) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new Error(`rules[${i}] must be an object`);
    const o = r as Record<string, unknown>;
    if (typeof o.route !== 'string' || o.route === '') throw new Error(`rules[${i}].route must be '*' or a route template`);
    const rule: FaultRule = { route: o.route };
    for (const k of ['latencyMs', 'jitterMs', 'retryAfterSeconds'] as const) {
      const val = o[k];
      if (val === undefined) continue;
      if (typeof val !== 'number' || !Number.isFinite(val) || val < 0) throw new Error(`rules[${i}].${k} must be a non-negative number`);
      rule[k] = val;
    }
    let sum = 0;
    for (const k of RATES) {
      const val = o[k];
      if (val === undefined) continue;
      if (typeof val !== 'number' || !(val >= 0 && val <= 1)) throw new Error(`rules[${i}].${k} must be between 0 and 1`);
      rule[k] = val;
      sum += val;
    }
    if (sum > 1) throw new Error(`rules[${i}]: resetRate + hangRate + errorRate must not exceed 1`);
    if (o.error !== undefined) {
      if (typeof o.error !== 'string' || !/^(503|500|[A-Z][A-Za-z]*)$/.test(o.error)) throw new Error(`rules[${i}].error must be '503', '500' or a VI/JSON fault type`);
      rule.error = o.error;
    }
    const unknown = Object.keys(o).filter((k) => !['route', 'latencyMs', 'jitterMs', 'retryAfterSeconds', 'error', ...RATES].includes(k));
    if (unknown.length > 0) throw new Error(`rules[${i}] has unknown fields: ${unknown.join(', ')}`);
    return rule;
  });
}

export class FaultInjector {
  private rules: FaultRule[] = [];
  private rng: () => number;
  private seed: number;

  constructor(seed: number, rules: FaultRule[] = []) {
    this.seed = seed;
    this.rng = createRng(seed);
    this.set(rules);
  }

  /** Replaces every rule and restarts the RNG (from `seed` when given), so a run can be replayed. */
  set(rules: FaultRule[], seed?: number): void {
    this.rules = parseFaultRules(rules);
    if (seed !== undefined) this.seed = seed >>> 0;
    this.rng = createRng(this.seed);
  }

  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /** The rule for a request: 'METHOD template' before a bare template before '*'; the last of equals wins. */
  private match(method: string, route: string): FaultRule | undefined {
    for (const key of [`${method} ${route}`, route, '*']) {
      const found = this.rules.findLast((r) => r.route === key);
      if (found) return found;
    }
    return undefined;
  }

  /** What to do with a request; undefined when no rule applies (no RNG draw, so other routes never shift a replay). */
  decide(method: string, route: string): Decision | undefined {
    const rule = this.match(method, route);
    if (!rule) return undefined;
    let delayMs = rule.latencyMs ?? 0;
    if (rule.jitterMs) delayMs += Math.floor(this.rng() * (rule.jitterMs + 1));
    let outcome: Outcome = 'pass';
    if (RATES.some((k) => (rule[k] ?? 0) > 0)) {
      const u = this.rng();
      let edge = 0;
      for (const [k, o] of [['resetRate', 'reset'], ['hangRate', 'hang'], ['errorRate', 'error']] as const) {
        edge += rule[k] ?? 0;
        if (u < edge) {
          outcome = o;
          break;
        }
      }
    }
    return { rule, delayMs, outcome };
  }
}
