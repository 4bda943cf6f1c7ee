// vCenter REST ("Automation") API under /api: sessions, cluster and host
// lists, and the vLCM esx/settings reads. Errors use the vAPI error body
// {"error_type", "messages": [LocalizableMessage]} of Vapi.Std.Errors.*.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { installedImageInfo, message, softwareInfo } from './esx-settings.ts';
import { headerValue, sendEmpty, sendJson } from './http.ts';
import type { Authorization } from './authz.ts';
import type { SimCluster, SimHost, VCenterInventory } from './inventory.ts';
import type { RestSession, SessionStore } from './sessions.ts';
import type { StatsRecorder } from './stats.ts';
import { installedImagesWithQuirks } from './quirks.ts';
import type { SimQuirks } from './quirks.ts';

export interface RestDeps {
  inv: VCenterInventory;
  sessions: SessionStore;
  stats: StatsRecorder;
  authz: Authorization;
  limits: { clusters: number; hosts: number };
  quirks: SimQuirks;
}

type Json = Record<string, unknown>;

function vapiError(res: ServerResponse, status: number, errorType: string, messages: Json[], headers: Record<string, string> = {}): void {
  sendJson(res, status, { error_type: errorType, messages }, headers);
}

function unauthenticated(res: ServerResponse): void {
  vapiError(
    res,
    401,
    'UNAUTHENTICATED',
    [message('com.vmware.vapi.endpoint.method.authentication.required', 'Authentication required.')],
    { 'www-authenticate': 'Basic realm="VAPI endpoint"' },
  );
}

function notFound(res: ServerResponse, id: string, text: string, args: string[]): void {
  vapiError(res, 404, 'NOT_FOUND', [message(id, text, args)]);
}

function invalidArgument(res: ServerResponse, text: string, args: string[]): void {
  vapiError(res, 400, 'INVALID_ARGUMENT', [message('vapi.bindings.typeconverter.invalid.argument', text, args)]);
}

/**
 * 403 Vapi.Std.Errors.Unauthorized: the user is authenticated but lacks a privilege. Per the
 * spec the messages do not say which privilege or resource.
 */
function unauthorized(res: ServerResponse): void {
  vapiError(res, 403, 'UNAUTHORIZED', [message('vapi.security.authorization.invalid', 'Unable to authorize user')]);
}

/** Whether the session's user holds `privilege` on the cluster. */
function mayOnCluster(deps: RestDeps, session: RestSession | undefined, cluster: SimCluster, privilege: string): boolean {
  return session !== undefined && deps.authz.has(session.account, { type: 'ClusterComputeResource', value: cluster.moId }, privilege);
}

function clusterNotFound(res: ServerResponse, cluster: string): void {
  notFound(res, 'com.vmware.vapi.vcenter.cluster.not_found', `Cluster with identifier ${cluster} does not exist.`, [cluster]);
}

/** Basic credentials from the Authorization header. */
function basicCredentials(req: IncomingMessage): { user: string; pass: string } | undefined {
  const h = headerValue(req, 'authorization');
  const m = h ? /^Basic\s+(.+)$/i.exec(h) : null;
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), pass: decoded.slice(colon + 1) };
}

/** Repeatable form-exploded query params (`?clusters=a&clusters=b`); empty means "any". */
function filterSet(q: URLSearchParams, name: string): Set<string> | undefined {
  const values = q.getAll(name).filter((v) => v !== '');
  return values.length > 0 ? new Set(values) : undefined;
}

/** Folders containing an object that sits in `folder` of datacenter `dc`: its own folder and every ancestor. */
function folderChain(inv: VCenterInventory, folder: string): Set<string> {
  const chain = new Set<string>();
  let cur: string | undefined = folder;
  while (cur) {
    chain.add(cur);
    const f = inv.folderById.get(cur);
    const parent = f?.parent;
    if (!parent) break;
    cur = parent.type === 'Datacenter' ? inv.datacenterById.get(parent.value)?.parentFolder : parent.value;
  }
  return chain;
}

function intersects(filter: Set<string> | undefined, values: Iterable<string>): boolean {
  if (!filter) return true;
  for (const v of values) if (filter.has(v)) return true;
  return false;
}

/** The list operations' documented result limit: 500 UNABLE_TO_ALLOCATE_RESOURCE, nothing listed. */
function tooMany(res: ServerResponse, kind: 'cluster' | 'host', matched: number, limit: number): void {
  vapiError(res, 500, 'UNABLE_TO_ALLOCATE_RESOURCE', [
    message(
      `com.vmware.api.vcenter.${kind}.max_limit`,
      `Too many ${kind}s: ${matched} ${kind}s match the filter, at most ${limit} can be returned.`,
      [String(matched), String(limit)],
    ),
  ]);
}

function listClusters(res: ServerResponse, deps: RestDeps, q: URLSearchParams, session: RestSession | undefined): void {
  const { inv } = deps;
  const ids = filterSet(q, 'clusters');
  const names = filterSet(q, 'names');
  const folders = filterSet(q, 'folders');
  const datacenters = filterSet(q, 'datacenters');
  const matches = inv.clusters.filter(
    (c) =>
      (!ids || ids.has(c.moId)) &&
      (!names || names.has(c.name)) &&
      (!datacenters || datacenters.has(c.datacenter)) &&
      intersects(folders, folderChain(inv, c.parentFolder)) &&
      // "visible (subject to permission checks)": System.Read on the cluster.
      mayOnCluster(deps, session, c, 'System.Read'),
  );
  if (matches.length > deps.limits.clusters) return tooMany(res, 'cluster', matches.length, deps.limits.clusters);
  sendJson(res, 200, matches.map((c) => ({ cluster: c.moId, name: c.name, ha_enabled: c.haEnabled, drs_enabled: c.drsEnabled })));
}

const CONNECTION_STATES: Record<SimHost['connectionState'], string> = {
  connected: 'CONNECTED',
  disconnected: 'DISCONNECTED',
  notResponding: 'NOT_RESPONDING',
};
const POWER_STATES: Partial<Record<SimHost['powerState'], string>> = {
  poweredOn: 'POWERED_ON',
  poweredOff: 'POWERED_OFF',
  standBy: 'STANDBY',
};

function hostSummary(h: SimHost): Json {
  const summary: Json = { host: h.moId, name: h.name, connection_state: CONNECTION_STATES[h.connectionState] };
  // vCenter knows no power state for a host it cannot reach.
  const power = h.connectionState === 'connected' ? POWER_STATES[h.powerState] : undefined;
  if (power) summary.power_state = power;
  return summary;
}

function listHosts(res: ServerResponse, deps: RestDeps, q: URLSearchParams, session: RestSession | undefined): void {
  const { inv } = deps;
  const ids = filterSet(q, 'hosts');
  const names = filterSet(q, 'names');
  const folders = filterSet(q, 'folders');
  const datacenters = filterSet(q, 'datacenters');
  const clusters = filterSet(q, 'clusters');
  const states = filterSet(q, 'connection_states');
  for (const s of states ?? []) {
    if (!Object.values(CONNECTION_STATES).includes(s)) {
      invalidArgument(res, `Invalid value '${s}' for enumeration com.vmware.vcenter.host.connection_state.`, [s]);
      return;
    }
  }
  const standaloneParam = q.get('standalone');
  if (standaloneParam !== null && standaloneParam !== 'true' && standaloneParam !== 'false') {
    invalidArgument(res, `Invalid value '${standaloneParam}' for boolean property standalone.`, [standaloneParam]);
    return;
  }
  // Every simulated host sits in a cluster, so standalone=true matches none.
  const standalone = standaloneParam === 'true';
  const matches = inv.hosts.filter((h) => {
    const cluster = inv.clusterById.get(h.cluster) as SimCluster;
    return (
      !standalone &&
      (!ids || ids.has(h.moId)) &&
      (!names || names.has(h.name)) &&
      (!datacenters || datacenters.has(h.datacenter)) &&
      (!clusters || clusters.has(h.cluster)) &&
      (!states || states.has(CONNECTION_STATES[h.connectionState])) &&
      intersects(folders, folderChain(inv, cluster.parentFolder)) &&
      session !== undefined &&
      deps.authz.has(session.account, { type: 'HostSystem', value: h.moId }, 'System.Read')
    );
  });
  if (matches.length > deps.limits.hosts) return tooMany(res, 'host', matches.length, deps.limits.hosts);
  sendJson(res, 200, matches.map(hostSummary));
}

interface Route {
  method: string;
  template: string;
  /** Whether a valid session is needed (all but login). */
  auth: boolean;
  handle(req: IncomingMessage, res: ServerResponse, deps: RestDeps, params: Record<string, string>, q: URLSearchParams, session?: RestSession): void;
}

const ROUTES: Route[] = [
  {
    method: 'POST',
    template: '/api/session',
    auth: false,
    handle(req, res, deps) {
      const creds = basicCredentials(req);
      const account = creds && deps.authz.authenticate(creds.user, creds.pass);
      deps.stats.login('rest', account !== undefined);
      if (account === undefined) return unauthenticated(res);
      sendJson(res, 201, deps.sessions.createRest(account).id);
    },
  },
  {
    method: 'GET',
    template: '/api/session',
    auth: true,
    handle(_req, res, _deps, _p, _q, session) {
      const s = session as RestSession;
      sendJson(res, 200, { user: s.user, created_time: s.createdTime.toISOString(), last_accessed_time: s.lastAccessedTime.toISOString() });
    },
  },
  {
    method: 'DELETE',
    template: '/api/session',
    auth: true,
    handle(_req, res, deps, _p, _q, session) {
      deps.sessions.rest.delete((session as RestSession).id);
      deps.stats.logout('rest');
      sendEmpty(res, 204);
    },
  },
  { method: 'GET', template: '/api/vcenter/cluster', auth: true, handle: (_r, res, deps, _p, q, session) => listClusters(res, deps, q, session) },
  {
    method: 'GET',
    template: '/api/vcenter/cluster/{cluster}',
    auth: true,
    handle(_req, res, deps, p, _q, session) {
      const c = deps.inv.clusterById.get(p.cluster ?? '');
      if (!c) return clusterNotFound(res, p.cluster ?? '');
      if (!mayOnCluster(deps, session, c, 'System.Read')) return unauthorized(res);
      sendJson(res, 200, { name: c.name, resource_pool: c.resourcePool });
    },
  },
  { method: 'GET', template: '/api/vcenter/host', auth: true, handle: (_r, res, deps, _p, q, session) => listHosts(res, deps, q, session) },
  {
    method: 'GET',
    template: '/api/esx/settings/clusters/{cluster}/installed-images',
    auth: true,
    handle(_req, res, deps, p, _q, session) {
      const c = deps.inv.clusterById.get(p.cluster ?? '');
      if (!c) return clusterNotFound(res, p.cluster ?? '');
      // Per the operation's spec; vCenter's ReadOnly role does not include it.
      if (!mayOnCluster(deps, session, c, 'VcIntegrity.lifecycleSettings.Read')) return unauthorized(res);
      sendJson(res, 200, installedImagesWithQuirks(installedImageInfo(deps.inv, c), deps.quirks));
    },
  },
  {
    method: 'GET',
    template: '/api/esx/settings/clusters/{cluster}/software',
    auth: true,
    handle(_req, res, deps, p, _q, session) {
      const c = deps.inv.clusterById.get(p.cluster ?? '');
      if (!c) return clusterNotFound(res, p.cluster ?? '');
      if (!mayOnCluster(deps, session, c, 'VcIntegrity.lifecycleSoftwareSpecification.Read')) return unauthorized(res);
      if (!c.desiredImage) {
        notFound(
          res,
          'com.vmware.vcIntegrity.lifecycle.Cluster.NotManagedBySingleImage',
          `Cluster ${c.name} (${c.moId}) is not managed with a single image.`,
          [c.name, c.moId],
        );
        return;
      }
      sendJson(res, 200, softwareInfo(c.desiredImage));
    },
  },
];

function match(template: string, segments: string[]): Record<string, string> | undefined {
  const parts = template.split('/').filter((s) => s !== '');
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    const seg = segments[i] as string;
    if (part.startsWith('{') && part.endsWith('}')) params[part.slice(1, -1)] = seg;
    else if (part !== seg) return undefined;
  }
  return params;
}

/** The route an /api request goes to, with its path parameters; undefined: no route (404). */
function findRoute(method: string, segments: string[]): { route: Route; params: Record<string, string> } | undefined {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const params = match(route.template, segments);
    if (params) return { route, params };
  }
  return undefined;
}

/** Route template of an /api request for stats and fault rules (undefined: no route). */
export function restRouteTemplate(method: string, segments: string[]): string | undefined {
  return findRoute(method, segments)?.route.template;
}

/** Handles one /api request; returns the route template for stats (undefined: no route, 404). */
export function handleRest(req: IncomingMessage, res: ServerResponse, segments: string[], q: URLSearchParams, deps: RestDeps): string | undefined {
  const found = findRoute(req.method ?? 'GET', segments);
  if (!found) {
    notFound(res, 'com.vmware.vapi.rest.httpNotFound', 'Not found.', []);
    return undefined;
  }
  const { route, params } = found;
  let session: RestSession | undefined;
  if (route.auth) {
    const id = headerValue(req, 'vmware-api-session-id');
    session = id ? deps.sessions.rest.get(id) : undefined;
    if (!session) {
      unauthenticated(res);
      return route.template;
    }
    session.lastAccessedTime = new Date();
  }
  route.handle(req, res, deps, params, q, session);
  return route.template;
}

/** An error answer of the vAPI endpoint itself (fault injection): 503 SERVICE_UNAVAILABLE or 500 ERROR. */
export function restServiceError(res: ServerResponse, status: 503 | 500, headers: Record<string, string> = {}): void {
  if (status === 503) {
    vapiError(res, 503, 'SERVICE_UNAVAILABLE', [message('com.vmware.vapi.endpoint.service_unavailable', 'The service is unavailable. Try again later.')], headers);
  } else {
    vapiError(res, 500, 'ERROR', [message('com.vmware.vapi.endpoint.failed', 'A general error occurred on the server.')], headers);
  }
}
