/** Patch scans: mutations that start and cancel them, the PatchScan type, the live subscription. */
import type { GraphQLResolveInfo } from 'graphql';
import { ScanRefusal } from '../../scans/service.ts';
import type { ScanEvent, ScanRef } from '../../scans/service.ts';
import { isTerminal } from '../../scans/task-watcher.ts';
import type {
  HostPatchManagerResult,
  HostPatchManagerStatus,
  LocalizedMethodFault,
  MethodFault,
  TaskInfo,
} from '../../vsphere/index.ts';
import { isUpstreamError } from '../../vsphere/index.ts';
import type { GraphQLContext } from '../context.ts';
import { badInput, notFound } from '../errors.ts';
import type {
  MutationResolvers,
  PatchIntegrity,
  PatchInstallState,
  PatchNotApplicableReason,
  PatchScanOptions,
  PatchScanResolvers,
  PatchScanState,
  SubscriptionResolvers,
  UserError,
} from '../generated/resolvers-types.ts';
import { fromGlobalId, toGlobalId } from '../ids.ts';
import { openEnum } from '../open-enums.ts';
import { createLoaders, objectKey } from '../loaders.ts';
import type { PatchScanModel } from '../models.ts';
import { hostRef, patchScanRef } from '../models.ts';

/** Bounds on one mutation or subscription: each host or scan costs upstream work. */
export const MAX_SCAN_HOSTS = 200;
export const MAX_FOLLOWED_SCANS = 500;
export const MAX_META_URLS = 10;
export const MAX_URL_LENGTH = 2048;
export const MAX_OPTION_LENGTH = 1024;

/** The fault types vCenter raises for a scan that cannot start, as userError codes. */
const FAULT_CODES: Record<string, string> = {
  TaskInProgress: 'TASK_IN_PROGRESS',
  // The spec: "InvalidState: if the feature cannot be supported on the platform".
  InvalidState: 'NOT_SUPPORTED',
  HostNotConnected: 'HOST_NOT_CONNECTED',
  ManagedObjectNotFound: 'NOT_FOUND',
  NoPermission: 'FORBIDDEN',
  NotAuthenticated: 'UNAUTHENTICATED',
};

function userError(message: string, code: string, field?: string[]): UserError {
  return { message, code, field: field ?? null };
}

/** Turns a per-host upstream failure into a typed userError; never leaks raw internals. */
function upstreamUserError(error: unknown, field: string[], what: string, ctx: GraphQLContext): UserError {
  if (error instanceof ScanRefusal) return userError(`${what}: ${error.message}`, error.code, field);
  if (isUpstreamError(error)) {
    const code = (error.fault && FAULT_CODES[error.fault]) ?? error.code;
    return userError(`${what}: ${error.message}`, code, field);
  }
  ctx.logger.error('unexpected error starting a patch scan', { error });
  return userError(`${what}: unexpected error`, 'INTERNAL_SERVER_ERROR', field);
}

/** Validates metaUrls and options; returns problems as userErrors rather than throwing. */
function validateScanInput(metaUrls: readonly string[], options: PatchScanOptions | null | undefined): UserError[] {
  const errors: UserError[] = [];
  if (metaUrls.length === 0) errors.push(userError('Give at least one depot metadata URL', 'BAD_USER_INPUT', ['metaUrls']));
  if (metaUrls.length > MAX_META_URLS) {
    errors.push(userError(`At most ${MAX_META_URLS} metadata URLs per scan`, 'BAD_USER_INPUT', ['metaUrls']));
  }
  metaUrls.slice(0, MAX_META_URLS).forEach((raw, i) => {
    const field = ['metaUrls', String(i)];
    if (raw.length > MAX_URL_LENGTH) {
      errors.push(userError(`URL longer than ${MAX_URL_LENGTH} characters`, 'BAD_USER_INPUT', field));
      return;
    }
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      errors.push(userError('Not a URL', 'BAD_USER_INPUT', field));
      return;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      errors.push(userError(`Depot URLs must be http or https, not ${url.protocol.replace(':', '')}`, 'BAD_USER_INPUT', field));
    }
    if (url.username || url.password) {
      errors.push(userError('Put depot credentials in options.userName/password, not in the URL', 'BAD_USER_INPUT', field));
    }
  });
  if (options) {
    if (options.port != null && (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535)) {
      errors.push(userError('port must be from 1 to 65535', 'BAD_USER_INPUT', ['options', 'port']));
    }
    for (const key of ['proxy', 'userName', 'password', 'cmdOption'] as const) {
      const value = options[key];
      if (value != null && value.length > MAX_OPTION_LENGTH) {
        errors.push(userError(`${key} longer than ${MAX_OPTION_LENGTH} characters`, 'BAD_USER_INPUT', ['options', key]));
      }
    }
  }
  return errors;
}

interface HostTarget {
  vcenter: string;
  moId: string;
  /** Path of the input field that named this host, for userErrors. */
  field: string[];
  label: string;
}

/** Starts scans on hosts of possibly several vCenters; each host's failure is its own userError. */
async function startScans(
  ctx: GraphQLContext,
  targets: HostTarget[],
  metaUrls: readonly string[],
  options: PatchScanOptions | null | undefined,
): Promise<{ scans: PatchScanModel[]; failures: { target: HostTarget; error: UserError }[] }> {
  const byVCenter = new Map<string, HostTarget[]>();
  for (const t of targets) byVCenter.set(t.vcenter, [...(byVCenter.get(t.vcenter) ?? []), t]);
  const scans: PatchScanModel[] = [];
  const failures: { target: HostTarget; error: UserError }[] = [];
  await Promise.all(
    [...byVCenter].map(async ([vcenter, hosts]) => {
      try {
        const outcomes = await ctx.scans.start(vcenter, hosts.map((h) => h.moId), metaUrls, options);
        outcomes.forEach((outcome, i) => {
          const target = hosts[i]!;
          if ('task' in outcome) scans.push(patchScanRef(vcenter, outcome.task, undefined, { hostMoId: outcome.host }));
          else failures.push({ target, error: upstreamUserError(outcome.error, target.field, target.label, ctx) });
        });
      } catch (error) {
        for (const target of hosts) failures.push({ target, error: upstreamUserError(error, target.field, target.label, ctx) });
      }
    }),
  );
  return { scans, failures };
}

async function scanInfo(scan: PatchScanModel, ctx: GraphQLContext): Promise<TaskInfo> {
  if (scan.info) return scan.info;
  const info = await ctx.loaders.scanInfo.load(objectKey(scan.vcenter, scan.taskMoId));
  if (!info) throw notFound(`Patch scan ${scan.taskMoId} no longer exists in vCenter ${scan.vcenter}`, { vcenter: scan.vcenter });
  return info;
}

export async function loadPatchScan(ctx: GraphQLContext, vcenter: string, taskMoId: string): Promise<PatchScanModel> {
  const scan = patchScanRef(vcenter, taskMoId);
  const info = await scanInfo(scan, ctx);
  if (info.name !== undefined && info.name !== 'ScanHostPatchV2_Task') throw notFound(`${taskMoId} is not a patch scan`, { vcenter });
  return { ...scan, info };
}

/** TaskInfo.error is a LocalizedMethodFault; tolerate a bare MethodFault too. */
function faultOf(error: LocalizedMethodFault | MethodFault): { code: string; message: string } {
  const localized = 'fault' in error && error.fault ? (error as LocalizedMethodFault) : undefined;
  const fault = (localized?.fault ?? error) as MethodFault & { faultstring?: string; text?: string };
  const code = fault._typeName ?? 'MethodFault';
  const message = localized?.localizedMessage || fault.faultstring || fault.text || code;
  return { code, message };
}

/**
 * The reference page says info.result holds a HostPatchManagerStatus; the type system says
 * HostPatchManagerResult {version, status[]}. Accept both (and a bare status array).
 */
export function patchStatuses(result: unknown): { version: string | null; statuses: HostPatchManagerStatus[] } {
  if (Array.isArray(result)) return { version: null, statuses: result as HostPatchManagerStatus[] };
  if (result && typeof result === 'object') {
    const r = result as Partial<HostPatchManagerResult> & Partial<HostPatchManagerStatus>;
    if (r._typeName === 'HostPatchManagerStatus' || (r.id !== undefined && r.applicable !== undefined)) {
      return { version: null, statuses: [r as HostPatchManagerStatus] };
    }
    return { version: r.version ?? null, statuses: r.status ?? [] };
  }
  return { version: null, statuses: [] };
}

const CONNECTION_WORDS: Record<string, string> = { disconnected: 'disconnected', notResponding: 'not responding' };
const REASONS: readonly PatchNotApplicableReason[] = ['OBSOLETED', 'MISSING_PATCH', 'MISSING_LIB', 'HAS_DEPENDENT_PATCH', 'CONFLICT_PATCH', 'CONFLICT_LIB'];
const INTEGRITY: readonly PatchIntegrity[] = ['VALIDATED', 'KEY_NOT_FOUND', 'KEY_REVOKED', 'KEY_EXPIRED', 'DIGEST_MISMATCH', 'NOT_ENOUGH_SIGNATURES', 'VALIDATION_ERROR'];
const INSTALL_STATES: readonly PatchInstallState[] = ['HOST_RESTARTED', 'IMAGE_ACTIVE'];
const SCAN_STATES: readonly PatchScanState[] = ['QUEUED', 'RUNNING', 'SUCCESS', 'ERROR'];

export const PatchScan: PatchScanResolvers = {
  id: (s) => toGlobalId('PatchScan', s.vcenter, s.taskMoId),
  taskMoId: (s) => s.taskMoId,
  host: async (s, _a, ctx) => {
    // TaskInfo.entity is optional: the host the scan was started on is known without it.
    const moId = s.hostMoId ?? ctx.scans.hostOf(s) ?? (await scanInfo(s, ctx)).entity?.value;
    return moId ? hostRef(s.vcenter, moId) : null;
  },
  state: async (s, _a, ctx) => (s.expired ? 'EXPIRED' : openEnum(SCAN_STATES, (await scanInfo(s, ctx)).state)),
  stateRaw: async (s, _a, ctx) => (s.expired ? null : (await scanInfo(s, ctx)).state),
  progress: async (s, _a, ctx) => {
    const info = await scanInfo(s, ctx);
    return info.progress ?? (info.state === 'success' ? 100 : null);
  },
  cancelable: async (s, _a, ctx) => (await scanInfo(s, ctx)).cancelable,
  cancelled: async (s, _a, ctx) => (await scanInfo(s, ctx)).cancelled,
  queuedAt: async (s, _a, ctx) => (await scanInfo(s, ctx)).queueTime,
  startedAt: async (s, _a, ctx) => (await scanInfo(s, ctx)).startTime ?? null,
  completedAt: async (s, _a, ctx) => (await scanInfo(s, ctx)).completeTime ?? null,
  error: async (s, _a, ctx) => {
    const info = await scanInfo(s, ctx);
    return info.state === 'error' && info.error ? faultOf(info.error) : null;
  },
  result: async (s, _a, ctx) => {
    const info = await scanInfo(s, ctx);
    if (info.state !== 'success') return null;
    const { version, statuses } = patchStatuses(info.result);
    return {
      version,
      patches: statuses.map((p) => ({
        id: p.id,
        applicable: p.applicable,
        reasons: (p.reason ?? []).map((r) => openEnum(REASONS, r)),
        reasonsRaw: p.reason ?? [],
        integrity: p.integrity ? openEnum(INTEGRITY, p.integrity) : null,
        integrityRaw: p.integrity ?? null,
        installed: p.installed,
        installState: (p.installState ?? []).map((x) => openEnum(INSTALL_STATES, x)),
        installStateRaw: p.installState ?? [],
        prerequisitePatches: (p.prerequisitePatch ?? []).map((pre) => ({
          id: pre.id,
          installState: (pre.installState ?? []).map((x) => openEnum(INSTALL_STATES, x)),
          installStateRaw: pre.installState ?? [],
        })),
        restartRequired: p.restartRequired,
        reconnectRequired: p.reconnectRequired,
        vmOffRequired: p.vmOffRequired,
        supersededPatchIds: p.supersededPatchIds ?? [],
      })),
    };
  },
};

function decodeScanId(id: string, field: string): ScanRef {
  const { vcenter, moId } = fromGlobalId(id, 'PatchScan', field);
  return { vcenter, taskMoId: moId };
}

export const Mutation: MutationResolvers = {
  hostPatchScanStart: async (_p, { input }, ctx) => {
    const errors = validateScanInput(input.metaUrls, input.options);
    if (input.hostIds.length === 0) errors.push(userError('Give at least one host', 'BAD_USER_INPUT', ['hostIds']));
    if (input.hostIds.length > MAX_SCAN_HOSTS) {
      errors.push(userError(`At most ${MAX_SCAN_HOSTS} hosts per call`, 'BAD_USER_INPUT', ['hostIds']));
    }
    const targets: HostTarget[] = [];
    const seen = new Set<string>();
    input.hostIds.slice(0, MAX_SCAN_HOSTS).forEach((id, i) => {
      const field = ['hostIds', String(i)];
      try {
        const { vcenter, moId } = fromGlobalId(id, 'Host', `hostIds[${i}]`);
        if (!ctx.upstreams.has(vcenter)) throw badInput(`No vCenter named "${vcenter}" is configured`);
        if (seen.has(objectKey(vcenter, moId))) return; // the same host twice would fail with TaskInProgress
        seen.add(objectKey(vcenter, moId));
        targets.push({ vcenter, moId, field, label: `Host ${moId}` });
      } catch (error) {
        errors.push(userError((error as Error).message, 'BAD_USER_INPUT', field));
      }
    });
    // Nothing starts when the request itself is malformed: no half-applied mutation.
    if (errors.length > 0) return { scans: [], userErrors: errors };
    const { scans, failures } = await startScans(ctx, targets, input.metaUrls, input.options);
    return { scans, userErrors: failures.map((f) => f.error) };
  },

  clusterPatchScanStart: async (_p, { input }, ctx) => {
    const errors = validateScanInput(input.metaUrls, input.options);
    let cluster: { vcenter: string; moId: string } | undefined;
    try {
      const decoded = fromGlobalId(input.clusterId, 'Cluster', 'clusterId');
      if (!ctx.upstreams.has(decoded.vcenter)) throw badInput(`No vCenter named "${decoded.vcenter}" is configured`);
      cluster = decoded;
    } catch (error) {
      errors.push(userError((error as Error).message, 'BAD_USER_INPUT', ['clusterId']));
    }
    if (errors.length > 0 || !cluster) return { scans: [], skippedHosts: [], userErrors: errors };

    let hosts;
    try {
      const clusters = await ctx.loaders.clustersOfVCenter.load(cluster.vcenter);
      if (!clusters.some((c) => c.moId === cluster.moId)) {
        return { scans: [], skippedHosts: [], userErrors: [userError(`Cluster ${cluster.moId} does not exist in vCenter ${cluster.vcenter}`, 'NOT_FOUND', ['clusterId'])] };
      }
      hosts = await ctx.loaders.hostsOfCluster.load(objectKey(cluster.vcenter, cluster.moId));
    } catch (error) {
      return { scans: [], skippedHosts: [], userErrors: [upstreamUserError(error, ['clusterId'], `Cluster ${cluster.moId}`, ctx)] };
    }
    const skippedHosts = hosts
      .filter((h) => h.connectionState !== 'connected')
      .map((h) => ({ host: hostRef(h.vcenter, h.moId), reason: `Host ${h.name} is ${CONNECTION_WORDS[h.connectionState] ?? `in connection state ${h.connectionState}`}` }));
    const targets = hosts
      .filter((h) => h.connectionState === 'connected')
      .map((h) => ({ vcenter: h.vcenter, moId: h.moId, field: ['clusterId'], label: `Host ${h.name} (${h.moId})` }));
    const { scans, failures } = await startScans(ctx, targets, input.metaUrls, input.options);
    for (const f of failures) skippedHosts.push({ host: hostRef(f.target.vcenter, f.target.moId), reason: f.error.message });
    return { scans, skippedHosts, userErrors: failures.map((f) => f.error) };
  },

  patchScanCancel: async (_p, { input }, ctx) => {
    let ref: ScanRef;
    try {
      ref = decodeScanId(input.id, 'id');
      if (!ctx.upstreams.has(ref.vcenter)) throw badInput(`No vCenter named "${ref.vcenter}" is configured`);
    } catch (error) {
      return { scan: null, userErrors: [userError((error as Error).message, 'BAD_USER_INPUT', ['id'])] };
    }
    let scan: PatchScanModel;
    try {
      scan = await loadPatchScan(ctx, ref.vcenter, ref.taskMoId);
    } catch (error) {
      const code = isUpstreamError(error) ? error.code : 'NOT_FOUND';
      return { scan: null, userErrors: [userError((error as Error).message, code, ['id'])] };
    }
    if (isTerminal(scan.info) || !scan.info!.cancelable) {
      return {
        scan,
        userErrors: [userError(`Patch scan ${ref.taskMoId} cannot be cancelled: it is ${scan.info!.state}`, 'NOT_CANCELABLE', ['id'])],
      };
    }
    try {
      await ctx.scans.cancel(ref);
    } catch (error) {
      return { scan, userErrors: [upstreamUserError(error, ['id'], `Patch scan ${ref.taskMoId}`, ctx)] };
    }
    // Read the task again: the payload shows the scan as cancelling or cancelled, not as it was.
    const infos = await ctx.scans.taskInfos([ref]);
    const fresh = infos.get(objectKey(ref.vcenter, ref.taskMoId));
    return { scan: patchScanRef(ref.vcenter, ref.taskMoId, fresh ?? scan.info), userErrors: [] };
  },
};

export const Subscription: SubscriptionResolvers = {
  patchScanUpdated: {
    subscribe: async (_p, { ids }, ctx) => {
      if (ids.length === 0) throw badInput('Give at least one scan ID', 'ids');
      if (ids.length > MAX_FOLLOWED_SCANS) throw badInput(`At most ${MAX_FOLLOWED_SCANS} scans per subscription`, 'ids');
      const refs = ids.map((id, i) => decodeScanId(id, `ids[${i}]`));
      for (const ref of refs) ctx.upstreams.get(ref.vcenter);
      const unique = [...new Map(refs.map((r) => [objectKey(r.vcenter, r.taskMoId), r])).values()];
      // The first state of every scan comes fresh from vCenter, not from a cache.
      const initial = await ctx.scans.taskInfos(unique);
      const missing = unique.find((r) => !initial.has(objectKey(r.vcenter, r.taskMoId)));
      if (missing) throw notFound(`Patch scan ${missing.taskMoId} does not exist in vCenter ${missing.vcenter}`, { vcenter: missing.vcenter });
      return ctx.scans.follow(unique, initial);
    },
    resolve: (event: ScanEvent, _a: unknown, ctx: GraphQLContext, _i: GraphQLResolveInfo) => {
      // A subscription keeps one context for its whole life: give every event fresh loaders
      // so that nested fields (host name, state...) are never served from an old read.
      ctx.loaders = createLoaders(ctx.upstreams, ctx.scans);
      return patchScanRef(event.vcenter, event.taskMoId, event.info, { expired: event.expired === true });
    },
  } as SubscriptionResolvers['patchScanUpdated'],
};
