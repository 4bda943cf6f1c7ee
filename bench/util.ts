/** Small helpers shared by the scenarios: percentiles, a GraphQL client, formatting. */
import { Agent, request } from 'undici';

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // nearest-rank
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export const median = (values: readonly number[]): number => percentile(values, 50);

export interface Summary {
  n: number;
  median: number;
  p95: number;
  min: number;
  max: number;
}

export function summarize(values: readonly number[]): Summary {
  return {
    n: values.length,
    median: median(values),
    p95: percentile(values, 95),
    min: values.length ? Math.min(...values) : Number.NaN,
    max: values.length ? Math.max(...values) : Number.NaN,
  };
}

export interface GraphQLResult {
  data?: any;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

const agent = new Agent({ connections: 8, keepAliveTimeout: 30_000 });

/** POSTs a GraphQL operation; returns the parsed result and the wall time until the whole body arrived. */
export async function gql(url: string, query: string, variables?: Record<string, unknown>, timeoutMs = 60_000): Promise<{ result: GraphQLResult; ms: number; bytes: number }> {
  const start = performance.now();
  const res = await request(url, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query, variables }),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const text = await res.body.text();
  const ms = performance.now() - start;
  let result: GraphQLResult;
  try {
    result = JSON.parse(text) as GraphQLResult;
  } catch {
    result = { errors: [{ message: `HTTP ${res.statusCode}, body not JSON: ${text.slice(0, 200)}` }] };
  }
  return { result, ms, bytes: text.length };
}

export function errorCodes(result: GraphQLResult): string[] {
  return (result.errors ?? []).map((e) => String(e.extensions?.['code'] ?? e.message.slice(0, 80)));
}

export const LOGIN_ROUTES = new Set(['POST /api/session', 'POST /sdk/vim25/{release}/SessionManager/{moId}/Login']);

/** Sums per-route request counts over vCenters. */
export function sumRoutes(perVcenter: readonly { requests: Record<string, number> }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of perVcenter) for (const [route, n] of Object.entries(s.requests)) out[route] = (out[route] ?? 0) + n;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

export function total(routes: Record<string, number>, withLogins = false): number {
  return Object.entries(routes)
    .filter(([r]) => withLogins || !LOGIN_ROUTES.has(r))
    .reduce((s, [, n]) => s + n, 0);
}

export const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–');
export const mb = (bytes: number): number => bytes / (1024 * 1024);

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Short route name for tables: "GET /api/vcenter/cluster" → "GET cluster". */
export function shortRoute(route: string): string {
  const m = /^(\w+) (.*)$/.exec(route);
  if (!m) return route;
  const path = m[2]!;
  const vim = /\/sdk\/vim25\/\{release\}\/(\w+)\/\{moId\}\/(\w+)$/.exec(path);
  if (vim) return `${m[1]} ${vim[1]}.${vim[2]}`;
  return `${m[1]} ${path.replace('/api/vcenter/', '').replace('/api/esx/settings/clusters/', '')}`;
}

export function closeAgent(): Promise<void> {
  return agent.close();
}
