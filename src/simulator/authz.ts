// vCenter authorization as the simulator models it: SSO users with
// passwords, roles (sets of privileges) and permissions (principal + role on
// an inventory object, optionally propagating to its children). As on
// vCenter, the permission defined nearest to an object on its path to the
// root folder decides what a user may do there; a non-propagating permission
// applies to its own object only.

import type { MoRef, VCenterInventory } from './inventory.ts';
import type { TaskStore } from './tasks.ts';
import { patchManagerHost } from './vim-model.ts';

export type SimRoleName = string;

export interface SimPermissionSpec {
  /**
   * The inventory object: 'root' (the root folder), 'cluster:N' / 'host:N'
   * (the N-th cluster / host of the vCenter in inventory order, 0-based), a
   * MoID ('domain-c8', 'host-12', 'group-d1'), or an inventory path as govc
   * prints it ('/DC/host/Cluster-x', '/DC/host/Cluster-x/esx-01.dc.sim.local').
   */
  entity: string;
  /** 'Administrator', 'ReadOnly', 'NoAccess' or a role from SimulatorOptions.roles */
  role: SimRoleName;
  /** default true: applies to the object's children too */
  propagate?: boolean;
}

export interface SimUserSpec {
  /** SSO user name, e.g. 'ops@vsphere.local'; login compares it case-insensitively */
  name: string;
  password: string;
  /** none: the user can log in but may read nothing */
  permissions?: SimPermissionSpec[];
}

export interface SimRoleSpec {
  name: string;
  privileges: string[];
}

export interface BulkUsersSpec {
  /** users `${prefix}1@vsphere.local` … `${prefix}${count}@vsphere.local` */
  count: number;
  /** default 'user' */
  prefix?: string;
  password: string;
  /** default 'ReadOnly'; granted on the root folder, propagating */
  role?: SimRoleName;
}

/** The privileges of vCenter's ReadOnly system role. */
export const READ_ONLY_PRIVILEGES = ['System.Anonymous', 'System.View', 'System.Read'] as const;

/** Marks the Administrator role: every privilege, present and future. */
const ALL = 'all';

const SYSTEM_ROLES: ReadonlyArray<{ name: string; privileges: readonly string[] | typeof ALL }> = [
  { name: 'Administrator', privileges: ALL },
  { name: 'ReadOnly', privileges: READ_ONLY_PRIVILEGES },
  { name: 'NoAccess', privileges: [] },
];

/**
 * The simulator's default users besides the administrator (whose name and
 * password come from SimulatorOptions.username/password). Documented in the
 * README and printed by `npm run simulator`.
 */
export const DEFAULT_USERS: readonly SimUserSpec[] = [
  { name: 'readonly@vsphere.local', password: 'ReadOnly1!', permissions: [{ entity: 'root', role: 'ReadOnly' }] },
  { name: 'cluster-reader@vsphere.local', password: 'ClusterReader1!', permissions: [{ entity: 'cluster:0', role: 'ReadOnly' }] },
  { name: 'cluster-admin@vsphere.local', password: 'ClusterAdmin1!', permissions: [{ entity: 'cluster:1', role: 'Administrator' }] },
];

/** Every user and role of a simulator (the same on each of its vCenters). */
export interface UserDirectory {
  users: SimUserSpec[];
  /** role name → its privileges ('all' for Administrator) */
  roles: Map<string, ReadonlySet<string> | 'all'>;
}

/** Upper bound for bulkUsers.count: enough for load tests, not enough to exhaust memory by mistake. */
export const MAX_BULK_USERS = 100_000;

/**
 * The full user directory for a simulator: the administrator, the default
 * users, bulk users, then `users` (a later entry with the same name replaces
 * an earlier one, so tests can redefine a default user). Throws on bad input.
 */
export function buildUserDirectory(options: {
  admin: { name: string; password: string };
  users?: SimUserSpec[] | undefined;
  bulkUsers?: BulkUsersSpec | undefined;
  roles?: SimRoleSpec[] | undefined;
}): UserDirectory {
  const roles = new Map<string, ReadonlySet<string> | typeof ALL>();
  for (const r of SYSTEM_ROLES) roles.set(r.name, r.privileges === ALL ? ALL : new Set(r.privileges));
  for (const r of options.roles ?? []) {
    if (typeof r?.name !== 'string' || r.name === '') throw new Error('roles[].name must be a non-empty string');
    if (roles.has(r.name)) throw new Error(`role ${r.name} already exists`);
    if (!Array.isArray(r.privileges) || !r.privileges.every((p) => typeof p === 'string')) throw new Error(`roles[${r.name}].privileges must be an array of strings`);
    roles.set(r.name, new Set(r.privileges));
  }

  const byName = new Map<string, SimUserSpec>();
  const add = (u: SimUserSpec, where: string): void => {
    if (typeof u?.name !== 'string' || u.name.trim() === '') throw new Error(`${where}.name must be a non-empty string`);
    if (typeof u.password !== 'string' || u.password === '') throw new Error(`${where}.password must be a non-empty string`);
    for (const p of u.permissions ?? []) {
      if (typeof p?.entity !== 'string' || p.entity === '') throw new Error(`${where} (${u.name}): permissions[].entity must be a non-empty string`);
      if (!roles.has(p.role)) throw new Error(`${where} (${u.name}): unknown role '${String(p.role)}' (known: ${[...roles.keys()].join(', ')})`);
    }
    byName.delete(u.name.toLowerCase());
    byName.set(u.name.toLowerCase(), u);
  };

  add({ name: options.admin.name, password: options.admin.password, permissions: [{ entity: 'root', role: 'Administrator' }] }, 'username');
  for (const u of DEFAULT_USERS) if (!byName.has(u.name.toLowerCase())) add(u, 'default user');
  const bulk = options.bulkUsers;
  if (bulk) {
    if (!Number.isInteger(bulk.count) || bulk.count < 0 || bulk.count > MAX_BULK_USERS) throw new Error(`bulkUsers.count must be an integer from 0 to ${MAX_BULK_USERS}`);
    const prefix = bulk.prefix ?? 'user';
    const role = bulk.role ?? 'ReadOnly';
    for (let i = 1; i <= bulk.count; i++) add({ name: `${prefix}${i}@vsphere.local`, password: bulk.password, permissions: [{ entity: 'root', role }] }, 'bulkUsers');
  }
  (options.users ?? []).forEach((u, i) => add(u, `users[${i}]`));
  return { users: [...byName.values()], roles };
}

interface Permission {
  role: string;
  propagate: boolean;
}

const keyOf = (r: MoRef): string => `${r.type}:${r.value}`;

/** The parent of an inventory object, as ManagedEntity.parent reports it. */
function parentOf(inv: VCenterInventory, r: MoRef): MoRef | undefined {
  switch (r.type) {
    case 'Folder':
      return inv.folderById.get(r.value)?.parent;
    case 'Datacenter': {
      const dc = inv.datacenterById.get(r.value);
      return dc && { type: 'Folder', value: dc.parentFolder };
    }
    case 'ClusterComputeResource': {
      const c = inv.clusterById.get(r.value);
      return c && { type: 'Folder', value: c.parentFolder };
    }
    case 'HostSystem': {
      const h = inv.hostById.get(r.value);
      return h && { type: 'ClusterComputeResource', value: h.cluster };
    }
    case 'ResourcePool': {
      const rp = inv.resourcePoolById.get(r.value);
      return rp && { type: 'ClusterComputeResource', value: rp.owner };
    }
    default:
      return undefined;
  }
}

/** Children of an inventory object by display name, for inventory paths. */
function childrenOf(inv: VCenterInventory, r: MoRef): Array<{ name: string; ref: MoRef }> {
  const named = (refs: MoRef[]): Array<{ name: string; ref: MoRef }> =>
    refs.flatMap((c) => {
      const name =
        c.type === 'Folder'
          ? inv.folderById.get(c.value)?.name
          : c.type === 'Datacenter'
            ? inv.datacenterById.get(c.value)?.name
            : c.type === 'ClusterComputeResource'
              ? inv.clusterById.get(c.value)?.name
              : c.type === 'HostSystem'
                ? inv.hostById.get(c.value)?.name
                : undefined;
      return name === undefined ? [] : [{ name, ref: c }];
    });
  switch (r.type) {
    case 'Folder':
      return named(inv.folderById.get(r.value)?.children ?? []);
    case 'Datacenter': {
      const dc = inv.datacenterById.get(r.value);
      return dc ? named([dc.vmFolder, dc.hostFolder, dc.datastoreFolder, dc.networkFolder].map((value) => ({ type: 'Folder', value }))) : [];
    }
    case 'ClusterComputeResource':
      return named((inv.clusterById.get(r.value)?.hosts ?? []).map((value) => ({ type: 'HostSystem', value })));
    default:
      return [];
  }
}

/** The inventory object a permission's entity names on this vCenter; undefined when it names none. */
export function resolveEntity(inv: VCenterInventory, entity: string): MoRef | undefined {
  const root: MoRef = { type: 'Folder', value: inv.rootFolder };
  if (entity === 'root' || entity === '/') return root;
  const indexed = /^(cluster|host):(\d+)$/.exec(entity);
  if (indexed) {
    const i = Number(indexed[2]);
    const moId = indexed[1] === 'cluster' ? inv.clusters[i]?.moId : inv.hosts[i]?.moId;
    return moId === undefined ? undefined : { type: indexed[1] === 'cluster' ? 'ClusterComputeResource' : 'HostSystem', value: moId };
  }
  if (entity.startsWith('/')) {
    let cur: MoRef | undefined = root;
    for (const name of entity.split('/').filter((s) => s !== '')) {
      cur = cur && childrenOf(inv, cur).find((c) => c.name === name)?.ref;
      if (!cur) return undefined;
    }
    return cur;
  }
  if (inv.folderById.has(entity)) return { type: 'Folder', value: entity };
  if (inv.datacenterById.has(entity)) return { type: 'Datacenter', value: entity };
  if (inv.clusterById.has(entity)) return { type: 'ClusterComputeResource', value: entity };
  if (inv.hostById.has(entity)) return { type: 'HostSystem', value: entity };
  if (inv.resourcePoolById.has(entity)) return { type: 'ResourcePool', value: entity };
  return undefined;
}

/** Users, roles and permissions of one simulated vCenter. */
export class Authorization {
  /** lower-cased user name → its directory entry */
  private readonly users = new Map<string, SimUserSpec>();
  /** lower-cased user name → entity key → the user's permission there */
  private readonly permissions = new Map<string, Map<string, Permission>>();
  private readonly roles: Map<string, ReadonlySet<string> | typeof ALL>;

  constructor(
    private readonly inv: VCenterInventory,
    directory: UserDirectory,
  ) {
    this.roles = directory.roles;
    for (const u of directory.users) {
      const account = u.name.toLowerCase();
      this.users.set(account, u);
      const perms = new Map<string, Permission>();
      for (const p of u.permissions ?? []) {
        const ref = resolveEntity(inv, p.entity);
        if (!ref) {
          // A default user's object may be absent in a small fleet (no second cluster): that user then sees nothing.
          if (DEFAULT_USERS.includes(u)) continue;
          throw new Error(`user ${u.name}: permission entity '${p.entity}' names nothing on ${inv.name}`);
        }
        perms.set(keyOf(ref), { role: p.role, propagate: p.propagate ?? true });
      }
      this.permissions.set(account, perms);
    }
  }

  /** The directory name of the user these credentials log in, or undefined (unknown user or wrong password). */
  authenticate(userName: string, password: string): string | undefined {
    const u = this.users.get(userName.toLowerCase());
    return u && u.password === password ? u.name : undefined;
  }

  /** The role that applies to `account` on `entity`: the nearest permission on its path to the root. */
  roleOn(account: string, entity: MoRef): string | undefined {
    const perms = this.permissions.get(account.toLowerCase());
    if (!perms || perms.size === 0) return undefined;
    let cur: MoRef | undefined = entity;
    for (let depth = 0; cur; depth++) {
      const p = perms.get(keyOf(cur));
      // A permission that does not propagate applies to its own object only.
      if (p && (depth === 0 || p.propagate)) return p.role;
      cur = parentOf(this.inv, cur);
    }
    return undefined;
  }

  has(account: string, entity: MoRef, privilege: string): boolean {
    const role = this.roleOn(account, entity);
    const privileges = role === undefined ? undefined : this.roles.get(role);
    return privileges === ALL || (privileges !== undefined && privileges.has(privilege));
  }
}

/**
 * The inventory object whose permissions govern `ref`: a managed entity
 * governs itself, a Task its entity, a HostPatchManager its host. Other
 * objects (ServiceInstance, the managers, a session's views and filters)
 * are not governed by inventory permissions: undefined.
 */
export function governingEntity(inv: VCenterInventory, tasks: TaskStore, ref: MoRef): MoRef | undefined {
  switch (ref.type) {
    case 'Folder':
    case 'Datacenter':
    case 'ClusterComputeResource':
    case 'HostSystem':
    case 'ResourcePool':
      return ref;
    case 'Task':
      return tasks.tasks.get(ref.value)?.entity;
    case 'HostPatchManager': {
      const host = patchManagerHost({ inv }, ref.value);
      return host && { type: 'HostSystem', value: host.moId };
    }
    default:
      return undefined;
  }
}

/** What one session's user may do, as the VI/JSON handlers ask it. */
export interface Access {
  /** The entity on which the user lacks `privilege` to use `ref`; undefined when allowed. */
  denied(ref: MoRef, privilege?: string): MoRef | undefined;
  /** Whether the user may read `ref` (System.Read on its governing entity). */
  mayRead(ref: MoRef): boolean;
}

/** Access of the user `account` (undefined: no session, so no inventory object is readable). */
export function accessOf(authz: Authorization, inv: VCenterInventory, tasks: TaskStore, account: string | undefined): Access {
  const denied = (ref: MoRef, privilege = 'System.Read'): MoRef | undefined => {
    const entity = governingEntity(inv, tasks, ref);
    if (!entity) return undefined;
    return account !== undefined && authz.has(account, entity, privilege) ? undefined : entity;
  };
  return { denied, mayRead: (ref) => denied(ref) === undefined };
}
