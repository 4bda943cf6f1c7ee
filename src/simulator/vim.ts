// VI/JSON API: /sdk/vim25/{release}/{Type}/{moId}/{property|Method}.
// GET reads a property (raw value), POST invokes a method (200 with the
// result, 204 for void). Faults are HTTP 500 with the fault object as body.

import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { accessOf } from './authz.ts';
import type { Authorization } from './authz.ts';
import { VimFault, fault } from './faults.ts';
import type { SimStats } from './stats.ts';
import { headerValue, readBody, sendEmpty, sendJson } from './http.ts';
import type { VCenterInventory } from './inventory.ts';
import type { MoRef } from './inventory.ts';
import { parseMoRef, retrieveContents } from './property-collector.ts';
import type { ObjectContentJson } from './property-collector.ts';
import type { CollectorState, SessionStore, VimSession } from './sessions.ts';
import { DEFAULT_COLLECTOR } from './sessions.ts';
import type { StatsRecorder } from './stats.ts';
import { resolveDepots, scanResult } from './depot.ts';
import { isTerminal } from './tasks.ts';
import type { TaskStore } from './tasks.ts';
import { createFilter, waitForUpdates } from './updates.ts';
import { KNOWN_TYPES, PROPERTIES, patchManagerHost, resolve, serviceContent, userSession } from './vim-model.ts';
import type { VimContext } from './vim-model.ts';
import { morefJson, toRaw } from './vim-values.ts';
import type { VimValue } from './vim-values.ts';
import type { SimQuirks } from './quirks.ts';

export interface VimDeps {
  inv: VCenterInventory;
  sessions: SessionStore;
  stats: StatsRecorder;
  authz: Authorization;
  /** Server policy cap on objects per RetrievePropertiesEx page. */
  pageSize: number;
  tasks: TaskStore;
  /** How long a ScanHostPatchV2_Task runs. */
  patchScanDurationMs: number;
  /** False: CreateFilter and WaitForUpdatesEx answer NotSupported. */
  changeFeed: boolean;
  quirks: SimQuirks;
}

/** Releases of the spec's release enum that have the VI/JSON API (8.0 U1 and later). */
const VIM_JSON_RELEASES = ['8.0.1.0', '8.0.2.0', '8.0.3.0', '8.0.3.1', '9.0.0.0', '9.1.0.0', '9.1.1.0'];

function releaseCompare(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function supportsRelease(inv: VCenterInventory, release: string): boolean {
  return inv.vimJson && VIM_JSON_RELEASES.includes(release) && releaseCompare(release, inv.apiVersion) <= 0;
}

interface Call {
  ctx: VimContext;
  deps: VimDeps;
  target: MoRef;
  body: Record<string, unknown>;
  req: IncomingMessage;
  /** Aborted when the client goes away or the server shuts down. */
  signal: AbortSignal;
}

type Result =
  | { status: 200; body: unknown; headers?: Record<string, string> }
  | { status: 204 };

interface Method {
  /** Callable without a session (System.Anonymous). */
  anonymous?: boolean;
  run(call: Call): Result | Promise<Result>;
}

const ok = (body: unknown, headers?: Record<string, string>): Result => (headers ? { status: 200, body, headers } : { status: 200, body });
const noContent: Result = { status: 204 };

function requireSession(call: Call): VimSession {
  if (!call.ctx.session) throw fault.notAuthenticated(call.target);
  return call.ctx.session;
}

/** NoPermission unless the session's user holds `privilege` on the entity governing `ref`. */
function requirePrivilege(ctx: VimContext, ref: MoRef, privilege: string): void {
  const entity = ctx.access.denied(ref, privilege);
  if (entity) throw fault.noPermission(entity, privilege);
}

/** An optional string[] parameter (unset → empty). */
function stringList(x: unknown, name: string): string[] {
  if (x === undefined || x === null) return [];
  if (!Array.isArray(x) || !x.every((u) => typeof u === 'string')) throw fault.invalidArgument(name);
  return x as string[];
}

/** CreateFilter and WaitForUpdatesEx on a vCenter configured without the change feed. */
function requireChangeFeed(call: Call): void {
  if (!call.deps.changeFeed) throw fault.notSupported();
}

/** The collector a PropertyCollector call targets, as the caller's session knows it. */
function collectorOf(call: Call, session: VimSession): CollectorState {
  const collector = session.collectors.get(call.target.value);
  if (!collector) throw fault.managedObjectNotFound(call.target);
  return collector;
}

function retrieveOptions(body: Record<string, unknown>): number | undefined {
  const options = body.options;
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object' || Array.isArray(options)) throw fault.invalidArgument('options');
  const max = (options as Record<string, unknown>).maxObjects;
  if (max === undefined || max === null) return undefined;
  if (typeof max !== 'number' || !Number.isInteger(max) || max <= 0) throw fault.invalidArgument('maxObjects');
  return max;
}

/**
 * Objects per page when the caller sets maxObjects: honoured up to this policy cap. Like
 * vCenter, an unset maxObjects gets the small default page (deps.pageSize, 100).
 */
export const MAX_PAGE_SIZE = 10_000;

/** One RetrieveResult page; the rest waits under a single-use token in the session, with the caller's page size. */
function page(call: Call, session: VimSession, objects: ObjectContentJson[], maxObjects: number | undefined): unknown {
  const size = maxObjects === undefined ? call.deps.pageSize : Math.min(maxObjects, MAX_PAGE_SIZE);
  const result: Record<string, unknown> = { _typeName: 'RetrieveResult' };
  // quirks.endlessPaging: a token on every page, so a client that follows tokens blindly never stops.
  if (objects.length > size || call.deps.quirks.endlessPaging) {
    const token = randomBytes(8).toString('hex');
    session.retrievals.set(token, { collector: call.target.value, remaining: objects.slice(size), maxObjects });
    result.token = token;
  }
  result.objects = objects.slice(0, size);
  return result;
}

function takeToken(call: Call, session: VimSession): { remaining: ObjectContentJson[]; maxObjects: number | undefined } {
  const token = call.body.token;
  const pending = typeof token === 'string' ? session.retrievals.get(token) : undefined;
  if (typeof token !== 'string' || !pending || pending.collector !== call.target.value) throw fault.invalidArgument('token');
  session.retrievals.delete(token);
  return pending;
}

const METHODS: Record<string, Record<string, Method>> = {
  ServiceInstance: {
    RetrieveServiceContent: { anonymous: true, run: (c) => ok(toRaw(serviceContent(c.deps.inv))) },
    CurrentTime: { anonymous: true, run: () => ok(new Date().toISOString()) },
  },
  SessionManager: {
    Login: {
      anonymous: true,
      run(c) {
        const { userName, password, locale } = c.body;
        if (typeof userName !== 'string') throw fault.invalidArgument('userName');
        if (typeof password !== 'string') throw fault.invalidArgument('password');
        const account = c.deps.authz.authenticate(userName, password);
        c.deps.stats.login('vim', account !== undefined);
        if (account === undefined) throw fault.invalidLogin();
        const s = c.deps.sessions.createVim(
          account,
          c.req.socket.remoteAddress ?? '127.0.0.1',
          headerValue(c.req, 'user-agent') ?? '',
          typeof locale === 'string' ? locale : 'en',
        );
        s.callCount = 1;
        return ok(toRaw(userSession(s)), { 'vmware-api-session-id': s.id });
      },
    },
    Logout: {
      run(c) {
        const s = requireSession(c);
        c.deps.sessions.vim.delete(s.id);
        c.deps.stats.logout('vim');
        return noContent;
      },
    },
  },
  PropertyCollector: {
    RetrievePropertiesEx: {
      run(c) {
        const s = requireSession(c);
        const maxObjects = retrieveOptions(c.body);
        const objects = retrieveContents(c.ctx, c.body.specSet);
        // The spec: "retrieved objects or null if there are no matching objects".
        return ok(objects.length === 0 ? null : page(c, s, objects, maxObjects));
      },
    },
    ContinueRetrievePropertiesEx: {
      run(c) {
        const s = requireSession(c);
        const pending = takeToken(c, s);
        return ok(page(c, s, pending.remaining, pending.maxObjects));
      },
    },
    CancelRetrievePropertiesEx: {
      run(c) {
        takeToken(c, requireSession(c));
        return noContent;
      },
    },
    RetrieveProperties: {
      run(c) {
        requireSession(c);
        return ok(retrieveContents(c.ctx, c.body.specSet));
      },
    },
    CreateFilter: {
      run(c) {
        const s = requireSession(c);
        requireChangeFeed(c);
        if (typeof c.body.partialUpdates !== 'boolean') throw fault.invalidArgument('partialUpdates');
        const collector = collectorOf(c, s);
        return ok(morefJson(createFilter(c.ctx, s, collector.moId, c.body.spec, c.body.partialUpdates, `session[${s.key}]${randomUUID()}`)));
      },
    },
    WaitForUpdatesEx: {
      async run(c) {
        const s = requireSession(c);
        requireChangeFeed(c);
        const options = (c.body.options ?? {}) as Record<string, unknown>;
        const max = options.maxWaitSeconds;
        if (max !== undefined && max !== null && (typeof max !== 'number' || !Number.isInteger(max) || max < 0)) throw fault.invalidArgument('maxWaitSeconds');
        const maxUpdates = options.maxObjectUpdates;
        if (maxUpdates !== undefined && maxUpdates !== null && (typeof maxUpdates !== 'number' || !Number.isInteger(maxUpdates) || maxUpdates <= 0)) {
          throw fault.invalidArgument('maxObjectUpdates');
        }
        c.deps.stats.waitBegin();
        try {
          return ok(
            await waitForUpdates(c.ctx, c.deps.sessions, s, collectorOf(c, s), c.body.version, {
              maxWaitSeconds: typeof max === 'number' ? max : undefined,
              maxObjectUpdates: typeof maxUpdates === 'number' ? maxUpdates : undefined,
              signal: c.signal,
            }),
          );
        } finally {
          c.deps.stats.waitEnd();
        }
      },
    },
    CancelWaitForUpdates: {
      run(c) {
        collectorOf(c, requireSession(c)).waitGeneration++;
        return noContent;
      },
    },
    // A private collector per feed lets one session run several WaitForUpdatesEx loops
    // (each collector has its own filters and version), as govmomi's property.Wait does.
    CreatePropertyCollector: {
      run(c) {
        const s = requireSession(c);
        const moId = `session[${s.key}]${randomUUID()}`;
        s.collectors.set(moId, { moId, updateVersion: 0, waitGeneration: 0 });
        return ok(morefJson({ type: 'PropertyCollector', value: moId }));
      },
    },
    DestroyPropertyCollector: {
      run(c) {
        const s = requireSession(c);
        const collector = collectorOf(c, s);
        // Its filters go with it; the session's default collector itself stays.
        for (const [id, f] of s.filters) if (f.collector === collector.moId) s.filters.delete(id);
        collector.waitGeneration++;
        if (collector.moId !== DEFAULT_COLLECTOR) s.collectors.delete(collector.moId);
        return noContent;
      },
    },
  },
  PropertyFilter: {
    DestroyPropertyFilter: {
      run(c) {
        requireSession(c).filters.delete(c.target.value);
        return noContent;
      },
    },
  },
  HostPatchManager: {
    ScanHostPatchV2_Task: {
      run(c) {
        const s = requireSession(c);
        const host = patchManagerHost(c.ctx, c.target.value);
        if (!host) throw fault.managedObjectNotFound(c.target);
        // The spec: "Required privileges: System.Read" (on the host the manager belongs to).
        requirePrivilege(c.ctx, c.target, 'System.Read');
        const metaUrls = stringList(c.body.metaUrls, 'metaUrls');
        const bundleUrls = stringList(c.body.bundleUrls, 'bundleUrls');
        c.deps.stats.scanSpecReceived(observedSpec(c.body.spec));
        if (host.connectionState !== 'connected') throw fault.invalidState('The operation is not allowed in the current state.');
        const running = c.ctx.tasks.forEntity(host.moId).find((t) => t.name === 'ScanHostPatchV2_Task' && !isTerminal(t, Date.now()));
        if (running) throw fault.taskInProgress({ type: 'Task', value: running.moId });
        // Depot problems surface when hostd runs the scan: the task fails, the call itself succeeds.
        const depots = resolveDepots(metaUrls, bundleUrls);
        const result = Array.isArray(depots) ? scanResult(host, depots) : undefined;
        const task = c.ctx.tasks.create({
          name: 'ScanHostPatchV2_Task',
          descriptionId: 'host.PatchManager.scanV2',
          entity: { type: 'HostSystem', value: host.moId },
          entityName: host.name,
          userName: s.userName,
          result: () => result,
          ...(Array.isArray(depots)
            ? {}
            : { failure: fault.platformConfigFault(depots.text).body, durationMs: Math.ceil(c.deps.patchScanDurationMs / 3) }),
        });
        return ok(morefJson({ type: 'Task', value: task.moId }));
      },
    },
  },
  Task: {
    CancelTask: {
      run(c) {
        requireSession(c);
        const task = c.ctx.tasks.tasks.get(c.target.value);
        if (!task) throw fault.managedObjectNotFound(c.target);
        // Cancelling needs the privilege of the method that started the task (System.Read for a scan), on its entity.
        requirePrivilege(c.ctx, task.entity, 'System.Read');
        // The spec: InvalidState when the task is already canceled or completed.
        if (isTerminal(task, Date.now())) throw fault.invalidState('The operation is not allowed in the current state.');
        task.cancelledAt = Date.now();
        return noContent;
      },
    },
  },
  ViewManager: {
    CreateContainerView: {
      run(c) {
        const s = requireSession(c);
        const container = parseMoRef(c.body.container, 'container');
        if (!resolve(c.ctx, container)) throw fault.managedObjectNotFound(container);
        const types = c.body.type ?? [];
        if (!Array.isArray(types) || !types.every((t) => typeof t === 'string')) throw fault.invalidArgument('type');
        for (const t of types as string[]) if (!KNOWN_TYPES.has(t)) throw fault.invalidType(t);
        if (typeof c.body.recursive !== 'boolean') throw fault.invalidArgument('recursive');
        // Session-scoped MoID in the shape vCenter uses: session[<session key>]<uuid>
        const moId = `session[${s.key}]${randomUUID()}`;
        s.views.set(moId, { moId, container, types: types as string[], recursive: c.body.recursive });
        return ok(morefJson({ type: 'ContainerView', value: moId }));
      },
    },
  },
  ContainerView: {
    DestroyView: {
      run(c) {
        const s = requireSession(c);
        s.views.delete(c.target.value);
        return noContent;
      },
    },
  },
};

/** Route template for stats: concrete type and member names only when the simulator knows them. */
export function vimRouteTemplate(method: string, type: string, member: string): string {
  const known = method === 'GET' ? PROPERTIES[type]?.includes(member) : METHODS[type]?.[member] !== undefined;
  return known ? `/sdk/vim25/{release}/${type}/{moId}/${member}` : '/sdk/vim25/{release}/{type}/{moId}/{member}';
}

/** What /_sim/stats may show of a HostPatchManagerPatchManagerOperationSpec: never the password. */
function observedSpec(spec: unknown): SimStats['lastScanSpec'] {
  if (!spec || typeof spec !== 'object') return null;
  const s = spec as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  return { userName: text(s['userName']), passwordSent: typeof s['password'] === 'string' && s['password'] !== '', proxy: text(s['proxy']), cmdOption: text(s['cmdOption']) };
}

function sendFault(res: ServerResponse, f: VimFault): void {
  sendJson(res, 500, f.body);
}

/**
 * Handles one /sdk/vim25 request. `segments` are the decoded path segments
 * (starting with 'sdk'). Returns the route template for stats, or undefined
 * when no route matched (answered 404).
 */
/** Route template of a /sdk/vim25 request for stats and fault rules; undefined when it is a 404. */
export function vimRoute(inv: VCenterInventory, method: string, segments: string[]): string | undefined {
  const [, , release = '', type = '', , member = '', ...extra] = segments;
  const known = KNOWN_TYPES.has(type) && member !== '' && extra.length === 0 && (method === 'GET' || method === 'POST');
  if (!supportsRelease(inv, release) || !known || (method === 'POST' && METHODS[type]?.[member] === undefined)) return undefined;
  return vimRouteTemplate(method, type, member);
}

export async function handleVim(req: IncomingMessage, res: ServerResponse, segments: string[], deps: VimDeps): Promise<string | undefined> {
  const [, , , type = '', moId = '', member = ''] = segments;
  const method = req.method ?? 'GET';
  const route = vimRoute(deps.inv, method, segments);
  if (route === undefined) {
    sendEmpty(res, 404);
    return undefined;
  }
  const target: MoRef = { type, value: moId };
  const sessionId = headerValue(req, 'vmware-api-session-id');
  const session = sessionId ? deps.sessions.vim.get(sessionId) : undefined;
  if (session) {
    session.lastActiveTime = new Date();
    session.callCount++;
  }
  const base = { inv: deps.inv, sessions: deps.sessions, tasks: deps.tasks, access: accessOf(deps.authz, deps.inv, deps.tasks, session?.account), quirks: deps.quirks };
  deps.stats.release(segments[2] ?? '');
  const ctx: VimContext = session ? { ...base, session } : base;

  try {
    if (method === 'GET') {
      // Only ServiceInstance.content is readable without a session.
      const anonymous = type === 'ServiceInstance' && member === 'content';
      if (!session && !anonymous) throw fault.notAuthenticated(target);
      const obj = resolve(ctx, target);
      if (!obj) throw fault.managedObjectNotFound(target);
      requirePrivilege(ctx, target, 'System.Read');
      if (!PROPERTIES[type]?.includes(member)) throw fault.invalidProperty(member);
      const value: VimValue | undefined = obj.get(member);
      sendJson(res, 200, value === undefined ? null : toRaw(value));
      return route;
    }

    const m = METHODS[type]?.[member] as Method;
    let body: Record<string, unknown> = {};
    const text = await readBody(req);
    if (text.trim() !== '') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw fault.invalidRequest('The request body is not valid JSON.');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw fault.invalidRequest('The request body must be a JSON object.');
      body = parsed as Record<string, unknown>;
    }
    if (!session && !m.anonymous) throw fault.notAuthenticated(target);
    if (!resolve(ctx, target)) throw fault.managedObjectNotFound(target);
    const aborter = new AbortController();
    res.once('close', () => aborter.abort());
    const result = await m.run({ ctx, deps, target, body, req, signal: aborter.signal });
    if (result.status === 204) sendEmpty(res, 204);
    else sendJson(res, 200, result.body, result.headers);
    return route;
  } catch (e) {
    if (e instanceof VimFault) {
      deps.stats.faultAnswered(String(e.body._typeName));
      sendFault(res, e);
      return route;
    }
    throw e;
  }
}
