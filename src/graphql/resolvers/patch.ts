/** Patch scans: mutations that start and cancel them, the PatchScan type, the live subscription. */
import type { GraphQLResolveInfo } from 'graphql';
import type { DepotPolicy } from '../../scans/depots.ts';
import { summarizeDepotFault } from '../../scans/depots.ts';
import type { ScanEvent, ScanRef } from '../../scans/service.ts';
import { ScanTargetError, scanKey } from '../../scans/service.ts';
import { isTerminal } from '../../scans/task-watcher.ts';
import type {
  HostPatchManagerResult,
  HostPatchManagerStatus,
  LocalizedMethodFault,
  MethodFault,
  TaskInfo,
} from '../../vsphere/index.ts';
import { isUpstreamError } from '../../vsphere/index.ts';
import { auditRecord } from '../audit.ts';
import type { AuditOutcome } from '../audit.ts';
import type { GraphQLContext } from '../context.ts';
import { badInput, notFound } from '../errors.ts';
import type {
  MutationResolvers,
  PatchIntegrity,
  PatchInstallState,
  PatchNotApplicableReason,
  PatchScanError,
  PatchScanOptions,
  PatchScanResolvers,
  PatchScanState,
  SubscriptionResolvers,
  UserError,
  UserErrorCode,
} from '../generated/resolvers-types.ts';
import { fromGlobalId, toGlobalId } from '../ids.ts';
import { openEnum } from '../open-enums.ts';
import { createLoaders, objectKey } from '../loaders.ts';
import type { PatchScanModel, SkippedHostModel } from '../models.ts';
import { hostRef, patchScanRef } from '../models.ts';

/** Bounds on one mutation or subscription: each host or scan costs upstream work. */
export const MAX_SCAN_HOSTS = 200;
export const MAX_FOLLOWED_SCANS = 500;
export const MAX_META_URLS = 10;
export const MAX_URL_LENGTH = 2048;
export const MAX_OPTION_LENGTH = 1024;

/** The fault types vCenter raises for a scan that cannot start, as userError codes. */
const FAULT_CODES: Record<string, UserErrorCode> = {
  TaskInProgress: 'TASK_IN_PROGRESS',
  // The spec: "InvalidState: if the feature cannot be supported on the platform".
  InvalidState: 'NOT_SUPPORTED',
  HostNotConnected: 'HOST_NOT_CONNECTED',
  ManagedObjectNotFound: 'NOT_FOUND',
  NoPermission: 'FORBIDDEN',
  NotAuthenticated: 'UNAUTHENTICATED',
};

/** The upstream client's error codes that are UserErrorCode values too. */
const UPSTREAM_CODES = new Set<string>(['NOT_FOUND', 'FORBIDDEN', 'UNAUTHENTICATED', 'VCENTER_UNAVAILABLE', 'VIM_API_UNAVAILABLE', 'UPSTREAM_TIMEOUT', 'TLS_ERROR']);

function userError(message: string, code: UserErrorCode, field?: string[], upstreamFault?: string): UserError {
  return { message, code, field: field ?? null, upstreamFault: upstreamFault ?? null };
}

/** Turns a per-host failure into a typed userError; never leaks raw internals. */
function upstreamUserError(error: unknown, field: string[], what: string, ctx: GraphQLContext): UserError {
  if (error instanceof ScanTargetError) {
    ctx.logger.debug('patch scan target refused', { code: error.code, field });
    return userError(`${what}: ${error.message}`, error.code, field);
  }
  if (isUpstreamError(error)) {
    const code = (error.fault ? FAULT_CODES[error.fault] : undefined) ?? (UPSTREAM_CODES.has(error.code) ? (error.code as UserErrorCode) : 'UPSTREAM_ERROR');
    return userError(`${what}: ${error.message}`, code, field, error.fault);
  }
  ctx.logger.error('unexpected error starting a patch scan', { error });
  return userError(`${what}: unexpected error`, 'INTERNAL_SERVER_ERROR', field);
}

/** Validates metaUrls and options against the depot policy; returns problems as userErrors rather than throwing. */
function validateScanInput(metaUrls: readonly string[], options: PatchScanOptions | null | undefined, policy: DepotPolicy): UserError[] {
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
      return;
    }
    const refusal = policy.refusal(raw);
    if (refusal) errors.push(userError(refusal.reason, 'DEPOT_NOT_ALLOWED', field));
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
    // Where hosts connect and what their patch tool runs with are the operator's to decide.
    if (options.proxy != null && !policy.allowProxy) {
      errors.push(userError('options.proxy is not allowed by the gateway configuration (depots.allowProxy)', 'OPTION_NOT_ALLOWED', ['options', 'proxy']));
    }
    if (options.cmdOption != null && !policy.allowCmdOption) {
      errors.push(
        userError('options.cmdOption is not allowed by the gateway configuration (depots.allowCmdOption)', 'OPTION_NOT_ALLOWED', ['options', 'cmdOption']),
      );
    }
  }
  return errors;
}

/** Every host fetches every metadata URL: bound the fetches one call sets off. */
function fetchBoundError(hosts: number, metaUrls: readonly string[], policy: DepotPolicy, field: string[]): UserError | undefined {
  const fetches = hosts * Math.max(1, metaUrls.length);
  if (fetches <= policy.maxFetchesPerCall) return undefined;
  return userError(
    `${hosts} hosts × ${metaUrls.length} depot URLs is ${fetches} depot fetches; the gateway allows ${policy.maxFetchesPerCall} per call`,
    'TOO_MANY_DEPOT_FETCHES',
    field,
  );
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

/** The scan with that task, read from vCenter; null when there is none (or the task is no patch scan). */
export async function findPatchScan(ctx: GraphQLContext, vcenter: string, taskMoId: string): Promise<PatchScanModel | null> {
  const info = await ctx.loaders.scanInfo.load(objectKey(vcenter, taskMoId));
  if (!info || (info.name !== undefined && info.name !== 'ScanHostPatchV2_Task')) return null;
  return patchScanRef(vcenter, taskMoId, info);
}

/** Longest vCenter fault message passed on (non-depot faults). */
const MAX_FAULT_MESSAGE = 300;

/**
 * TaskInfo.error (a LocalizedMethodFault; a bare MethodFault is tolerated) as a PatchScanError.
 * A depot failure is summarized: the host's text quotes the URL it fetched and its own errors.
 */
function faultOf(error: LocalizedMethodFault | MethodFault): PatchScanError {
  const localized = 'fault' in error && error.fault ? (error as LocalizedMethodFault) : undefined;
  const fault = (localized?.fault ?? error) as MethodFault & { faultstring?: string; text?: string };
  const type = fault._typeName ?? 'MethodFault';
  const message = localized?.localizedMessage || fault.faultstring || fault.text || type;
  if (type === 'PlatformConfigFault') return { fault: type, ...summarizeDepotFault(`${fault.text ?? ''} ${message}`) };
  if (type === 'RequestCanceled') return { fault: type, code: 'CANCELLED', message: 'The scan was cancelled.' };
  return { fault: type, code: 'OTHER', message: message.length > MAX_FAULT_MESSAGE ? `${message.slice(0, MAX_FAULT_MESSAGE)}…` : message };
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
  startedBy: async (s, _a, ctx) => {
    const reason = (await scanInfo(s, ctx)).reason as { _typeName?: string; userName?: string } | undefined;
    return reason?._typeName === 'TaskReasonUser' && typeof reason.userName === 'string' ? reason.userName : null;
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

/** The audit record of a scan start: one outcome per host, started or refused (with its code). */
function auditStart(
  ctx: GraphQLContext,
  operation: string,
  requested: string[],
  metaUrls: readonly string[],
  started: PatchScanModel[],
  refused: { vcenter: string; moId: string; code: string }[],
  requestErrors: UserError[] = [],
): void {
  const outcomes: AuditOutcome[] = [
    ...started.map((scan) => ({ vcenter: scan.vcenter, target: scan.hostMoId ?? '', task: scan.taskMoId, result: 'OK' })),
    ...refused.map((r) => ({ vcenter: r.vcenter, target: r.moId, result: r.code })),
    ...requestErrors.map((e) => ({ vcenter: '', target: (e.field ?? []).join('.') || 'request', result: e.code })),
  ];
  ctx.audit(auditRecord(ctx.caller, operation, requested, outcomes, metaUrls));
}

export const Mutation: MutationResolvers = {
  hostPatchScanStart: async (_p, { input }, ctx) => {
    const errors = validateScanInput(input.metaUrls, input.options, ctx.scans.depots);
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
    const tooMany = fetchBoundError(targets.length, input.metaUrls, ctx.scans.depots, ['hostIds']);
    if (tooMany) errors.push(tooMany);
    // Nothing starts when the request itself is malformed: no half-applied mutation.
    if (errors.length > 0) {
      auditStart(ctx, 'hostPatchScanStart', input.hostIds, input.metaUrls, [], [], errors);
      return { scans: [], userErrors: errors };
    }
    const { scans, failures } = await startScans(ctx, targets, input.metaUrls, input.options);
    auditStart(ctx, 'hostPatchScanStart', input.hostIds, input.metaUrls, scans, failures.map((f) => ({ vcenter: f.target.vcenter, moId: f.target.moId, code: f.error.code })));
    return { scans, userErrors: failures.map((f) => f.error) };
  },

  clusterPatchScanStart: async (_p, { input }, ctx) => {
    const errors = validateScanInput(input.metaUrls, input.options, ctx.scans.depots);
    let cluster: { vcenter: string; moId: string } | undefined;
    try {
      const decoded = fromGlobalId(input.clusterId, 'Cluster', 'clusterId');
      if (!ctx.upstreams.has(decoded.vcenter)) throw badInput(`No vCenter named "${decoded.vcenter}" is configured`);
      cluster = decoded;
    } catch (error) {
      errors.push(userError((error as Error).message, 'BAD_USER_INPUT', ['clusterId']));
    }
    if (errors.length > 0 || !cluster) {
      auditStart(ctx, 'clusterPatchScanStart', [input.clusterId], input.metaUrls, [], [], errors);
      return { scans: [], skippedHosts: [], userErrors: errors };
    }

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
    const skippedHosts: SkippedHostModel[] = hosts
      .filter((h) => h.connectionState !== 'connected')
      .map((h) => ({
        host: hostRef(h.vcenter, h.moId),
        reason: `Host ${h.name} is ${CONNECTION_WORDS[h.connectionState] ?? `in connection state ${h.connectionState}`}`,
        code: 'HOST_NOT_CONNECTED',
      }));
    const targets = hosts
      .filter((h) => h.connectionState === 'connected')
      .map((h) => ({ vcenter: h.vcenter, moId: h.moId, field: ['clusterId'], label: `Host ${h.name} (${h.moId})` }));
    const tooMany = fetchBoundError(targets.length, input.metaUrls, ctx.scans.depots, ['clusterId']);
    if (tooMany) return { scans: [], skippedHosts: [], userErrors: [tooMany] };
    const { scans, failures } = await startScans(ctx, targets, input.metaUrls, input.options);
    // A host's failure is reported once, as a skipped host; userErrors are about the call itself.
    for (const f of failures) skippedHosts.push({ host: hostRef(f.target.vcenter, f.target.moId), reason: f.error.message, code: f.error.code });
    auditStart(
      ctx,
      'clusterPatchScanStart',
      [input.clusterId],
      input.metaUrls,
      scans,
      skippedHosts.map((skipped) => ({ vcenter: skipped.host.vcenter, moId: skipped.host.moId, code: skipped.code ?? 'SKIPPED' })),
    );
    return { scans, skippedHosts, userErrors: [] };
  },

  patchScanCancel: async (_p, { input }, ctx) => {
    const payload = await cancelScan(input.id, ctx);
    const ref = payload.ref;
    ctx.audit(
      auditRecord(ctx.caller, 'patchScanCancel', [input.id], [
        { vcenter: ref?.vcenter ?? '', target: ref?.taskMoId ?? 'request', ...(ref ? { task: ref.taskMoId } : {}), result: payload.userErrors[0]?.code ?? 'OK' },
      ]),
    );
    return { scan: payload.scan, userErrors: payload.userErrors };
  },
};

/** patchScanCancel without its audit record; `ref` is the scan, when the ID named one. */
async function cancelScan(id: string, ctx: GraphQLContext): Promise<{ ref?: ScanRef; scan: PatchScanModel | null; userErrors: UserError[] }> {
  let ref: ScanRef;
  try {
    ref = decodeScanId(id, 'id');
    if (!ctx.upstreams.has(ref.vcenter)) throw badInput(`No vCenter named "${ref.vcenter}" is configured`);
  } catch (error) {
    return { scan: null, userErrors: [userError((error as Error).message, 'BAD_USER_INPUT', ['id'])] };
  }
  let scan: PatchScanModel | null;
  try {
    scan = await findPatchScan(ctx, ref.vcenter, ref.taskMoId);
  } catch (error) {
    return { ref, scan: null, userErrors: [upstreamUserError(error, ['id'], `Patch scan ${ref.taskMoId}`, ctx)] };
  }
  if (!scan) {
    return { ref, scan: null, userErrors: [userError(`Patch scan ${ref.taskMoId} does not exist in vCenter ${ref.vcenter}`, 'NOT_FOUND', ['id'])] };
  }
  if (isTerminal(scan.info) || !scan.info!.cancelable) {
    return {
      ref,
      scan,
      userErrors: [userError(`Patch scan ${ref.taskMoId} cannot be cancelled: it is ${scan.info!.state}`, 'NOT_CANCELABLE', ['id'])],
    };
  }
  try {
    await ctx.scans.cancel(ref);
  } catch (error) {
    return { ref, scan, userErrors: [upstreamUserError(error, ['id'], `Patch scan ${ref.taskMoId}`, ctx)] };
  }
  // Read the task again: the payload shows the scan as cancelling or cancelled, not as it was.
  const infos = await ctx.scans.taskInfos([ref]);
  const fresh = infos.get(objectKey(ref.vcenter, ref.taskMoId));
  return { ref, scan: patchScanRef(ref.vcenter, ref.taskMoId, fresh ?? scan.info), userErrors: [] };
}

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
      ctx.onSubscriptionEvent?.(scanKey(event));
      return patchScanRef(event.vcenter, event.taskMoId, event.info, { expired: event.expired === true });
    },
  } as SubscriptionResolvers['patchScanUpdated'],
};
