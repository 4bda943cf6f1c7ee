// Public API of the vCenter simulator: start N simulated vCenter Servers on
// loopback, each speaking the REST (/api) and VI/JSON (/sdk/vim25) APIs of a
// vCenter 8.0.3, rendered from one deterministic inventory.

import { buildUserDirectory } from './authz.ts';
import type { BulkUsersSpec, SimPermissionSpec, SimRoleSpec, SimUserSpec } from './authz.ts';
import { appendFileSync } from 'node:fs';
import { DEFAULT_FLEET_SIZE, buildFleet } from './inventory.ts';
import type { FleetSize, VCenterInventory } from './inventory.ts';
import { VCenterServer } from './server.ts';
import type { FaultRule } from './injection.ts';
import type { SimQuirks } from './quirks.ts';
import type { SimStats } from './stats.ts';
import { principalName } from './sessions.ts';
import { requestValidator } from './request-validation.ts';
import { TASK_RETENTION_MS } from './tasks.ts';
import { createTlsMaterial } from './tls.ts';

export type { FleetSize, VCenterInventory } from './inventory.ts';
export type { SimStats } from './stats.ts';
export type { FaultRule, InjectedError } from './injection.ts';
export type { InventoryChange, InventoryChangeResult } from './dynamics.ts';
export { InventoryChangeError } from './dynamics.ts';
import type { InventoryChange, InventoryChangeResult } from './dynamics.ts';
export type { SimQuirks } from './quirks.ts';
export { FUTURE_ENUM_VALUES } from './quirks.ts';
export { DEPOT_URLS } from './depot.ts';
export { DEFAULT_USERS, READ_ONLY_PRIVILEGES } from './authz.ts';
export type { BulkUsersSpec, SimPermissionSpec, SimRoleSpec, SimUserSpec } from './authz.ts';
export { principalName } from './sessions.ts';

export interface SimulatorOptions {
  /** default 1; same seed+size => identical inventory, MoIDs, names, builds */
  seed?: number;
  /** defaults: 2 vcenters, 1 datacenter, 3 clusters per datacenter, 4 hosts per cluster */
  size?: Partial<FleetSize>;
  /** default '127.0.0.1' */
  host?: string;
  /** 0 (default) => ephemeral ports; else vCenter i listens on basePort+i */
  basePort?: number;
  /** default true: HTTPS with a CA+leaf cert generated at start (SAN: 127.0.0.1, ::1, localhost) */
  tls?: boolean;
  /** injected delay before answering every request (not /_sim/), default 0 */
  latencyMs?: number;
  /** The administrator (role Administrator on the root folder, propagating); default 'administrator@vsphere.local' */
  username?: string;
  /** default 'VMware1!' */
  password?: string;
  /**
   * More users, after the administrator and DEFAULT_USERS (readonly@, cluster-reader@,
   * cluster-admin@vsphere.local); an entry named like an earlier user replaces it.
   */
  users?: SimUserSpec[];
  /** Many similar users for load tests: `${prefix}1@vsphere.local` … with `role` on the root folder. */
  bulkUsers?: BulkUsersSpec;
  /** Custom roles, besides the system roles Administrator, ReadOnly and NoAccess. */
  roles?: SimRoleSpec[];
  /** defaults 1000 / 2500 as documented */
  restListLimits?: { clusters?: number; hosts?: number };
  /** objects per RetrievePropertiesEx page when the caller sets no maxObjects, default 100 as on vCenter; an explicit maxObjects is honoured up to 10,000 */
  propertyCollectorPageSize?: number;
  /**
   * Per-vCenter overrides by index. `vimJson: false` simulates a vCenter
   * older than 8.0 U1, which has no VI/JSON API: every /sdk/vim25 path → 404.
   * `changeFeed: false` makes CreateFilter and WaitForUpdatesEx answer the
   * NotSupported fault (as behind proxies without the change feed).
   */
  perVcenter?: Array<PerVcenterOptions | undefined>;
  /** How long a HostPatchManager.ScanHostPatchV2_Task runs before it succeeds, default 1000 ms */
  patchScanDurationMs?: number;
  /**
   * Fault rules for every vCenter from the start (perVcenter[i].faults replaces them for vCenter i).
   * Their RNG is seeded from `seed` and the vCenter's index: same rules + same requests → same faults.
   */
  faults?: FaultRule[];
  /** How long a finished Task stays readable and in recentTask, default 600,000 ms (vCenter: ~10 minutes) */
  taskRetentionMs?: number;
  /**
   * Default true: every request body and parameter is checked against the official spec
   * subsets (../shared/vsphere-api/openapi, or $VSPHERE_API_SPEC_DIR) and refused like
   * vCenter refuses an invalid one. Without the subsets the simulator runs unvalidated and
   * says so once on stderr.
   */
  validateRequests?: boolean;
  /** Answers a real vCenter may give that the default simulator does not (see quirks.ts), for every vCenter */
  quirks?: SimQuirks;
}

export interface PerVcenterOptions {
  /** default true */
  vimJson?: boolean;
  /** default true */
  changeFeed?: boolean;
  /** Fault rules of this vCenter from the start (instead of SimulatorOptions.faults) */
  faults?: FaultRule[];
  /** Quirks of this vCenter (instead of SimulatorOptions.quirks) */
  quirks?: SimQuirks;
  /** The about.apiVersion this vCenter reports, default '8.0.3.0'; it serves VI/JSON for every listed release up to it */
  apiVersion?: string;
}

export interface SimulatedVCenter {
  /** e.g. 'vc-01.sim.local' — display name */
  name: string;
  /** e.g. 'https://127.0.0.1:43211' */
  url: string;
  port: number;
  inventory: VCenterInventory;
  /** same object /_sim/stats returns */
  stats(): SimStats;
  resetStats(): void;
  /** invalidate every REST and VI/JSON session now */
  expireSessions(): void;
  /**
   * Changes the inventory as an operator or vCenter would (same as POST /_sim/inventory):
   * visible at once in REST lists and in the change feed. Throws InventoryChangeError
   * (status 400/404/409) when vCenter would refuse the change.
   */
  changeInventory(change: InventoryChange): InventoryChangeResult;
  /** Random inventory churn, `perSecond` changes a second from a seeded RNG (same as POST /_sim/churn); 0 stops it. */
  setChurn(perSecond: number, seed?: number): void;
  setLatency(ms: number): void;
  /** Replaces the fault rules (same as POST /_sim/faults) and restarts their RNG, from `seed` when given. */
  setFaults(rules: FaultRule[], seed?: number): void;
  /** Removes every fault rule (same as DELETE /_sim/faults). */
  clearFaults(): void;
  /** Replaces the quirks in force (from the next request on). */
  setQuirks(quirks: SimQuirks): void;
  /** Closes the listening socket and destroys every connection: the whole vCenter is unreachable. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
}

export interface Simulator {
  vcenters: SimulatedVCenter[];
  /** PEM of the CA that signed every vCenter's certificate; undefined without TLS */
  caPem: string | undefined;
  /** The administrator's name and password */
  username: string;
  password: string;
  /** Every user that can log in (administrator, defaults, bulk, custom), with its password and principal name. */
  users: ReadonlyArray<{ name: string; password: string; principal: string; permissions: readonly SimPermissionSpec[] }>;
  close(): Promise<void>;
}

export const DEFAULT_USERNAME = 'administrator@vsphere.local';
export const DEFAULT_PASSWORD = 'VMware1!';

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const size: FleetSize = { ...DEFAULT_FLEET_SIZE, ...options.size };
  for (const [k, v] of Object.entries(size)) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`size.${k} must be a non-negative integer, got ${String(v)}`);
  }
  const username = options.username ?? DEFAULT_USERNAME;
  const password = options.password ?? DEFAULT_PASSWORD;
  const users = buildUserDirectory({ admin: { name: username, password }, users: options.users, bulkUsers: options.bulkUsers, roles: options.roles });
  const tls = options.tls === false ? undefined : await createTlsMaterial();
  const seed = options.seed ?? 1;
  const inventories = buildFleet({
    seed,
    size,
    ...(options.perVcenter ? { perVcenter: options.perVcenter } : {}),
  });

  const validator = options.validateRequests === false ? undefined : requestValidator();
  options.perVcenter?.forEach((o, i) => {
    const inventory = inventories[i];
    if (o?.apiVersion !== undefined && inventory) {
      inventory.apiVersion = o.apiVersion;
      inventory.about = { ...inventory.about, apiVersion: o.apiVersion };
    }
  });
  const servers: VCenterServer[] = [];
  try {
    for (const inventory of inventories) {
      const server = new VCenterServer({
        inventory,
        host: options.host ?? '127.0.0.1',
        port: options.basePort ? options.basePort + inventory.index : 0,
        ...(tls ? { tls } : {}),
        latencyMs: options.latencyMs ?? 0,
        users,
        restListLimits: { clusters: options.restListLimits?.clusters ?? 1000, hosts: options.restListLimits?.hosts ?? 2500 },
        propertyCollectorPageSize: options.propertyCollectorPageSize ?? 100,
        patchScanDurationMs: options.patchScanDurationMs ?? 1000,
        taskRetentionMs: options.taskRetentionMs ?? TASK_RETENTION_MS,
        faults: options.perVcenter?.[inventory.index]?.faults ?? options.faults ?? [],
        faultSeed: (seed * 7919 + inventory.index * 104729 + 0x5eed) >>> 0,
        changeFeed: options.perVcenter?.[inventory.index]?.changeFeed ?? true,
        requestValidator: validator,
        quirks: { ...(options.perVcenter?.[inventory.index]?.quirks ?? options.quirks ?? {}) },
      });
      servers.push(server);
      await server.listen();
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }

  return {
    vcenters: servers.map((s) => ({
      name: s.inventory.name,
      url: s.url,
      port: s.listeningPort,
      inventory: s.inventory,
      stats: () => s.stats(),
      resetStats: () => s.resetStats(),
      expireSessions: () => s.expireSessions(),
      changeInventory: (change: InventoryChange) => s.changeInventory(change),
      setChurn: (perSecond: number, seed?: number) => s.setChurn(perSecond, seed),
      setLatency: (ms: number) => s.setLatency(ms),
      setFaults: (rules: FaultRule[], faultSeed?: number) => s.setFaults(rules, faultSeed),
      clearFaults: () => s.clearFaults(),
      setQuirks: (quirks: SimQuirks) => s.setQuirks(quirks),
      down: () => s.down(),
      up: () => s.up(),
    })),
    caPem: tls?.caPem,
    username,
    password,
    users: users.users.map((u) => ({ name: u.name, password: u.password, principal: principalName(u.name), permissions: u.permissions ?? [] })),
    close: async () => {
      await Promise.all(servers.map((s) => s.close()));
      // $SIM_VALIDATION_REPORT: one JSON line per closed simulator with the requests it
      // validated against the spec, so a whole test run can be summed up.
      const report = process.env['SIM_VALIDATION_REPORT'];
      if (report && validator) appendFileSync(report, `${JSON.stringify(validator.drainTally())}\n`);
    },
  };
}
