// REST and VI/JSON sessions of one simulated vCenter. The two are separate,
// as on a real vCenter: a client logs into each API on its own.

import { randomBytes, randomUUID } from 'node:crypto';
import type { MoRef } from './inventory.ts';
import type { ObjectContentJson } from './property-collector.ts';
import type { FilterState, SuspendedUpdate } from './updates.ts';

export interface RestSession {
  id: string;
  /** The user's directory name ('readonly@vsphere.local'): whose permissions apply. */
  account: string;
  /** Principal name as vCenter reports it ('VSPHERE.LOCAL\\Readonly'). */
  user: string;
  createdTime: Date;
  lastAccessedTime: Date;
}

export interface ContainerViewState {
  moId: string;
  container: MoRef;
  types: string[];
  recursive: boolean;
}

export interface PendingRetrieval {
  collector: string;
  remaining: ObjectContentJson[];
  /** The maxObjects of the RetrievePropertiesEx that started it: later pages keep that size. */
  maxObjects: number | undefined;
}

/**
 * A PropertyCollector as one session sees it: the default one (ServiceContent.propertyCollector,
 * 'propertyCollector') or a private one from CreatePropertyCollector. Each has its own filters'
 * version and waits, so one session can run a WaitForUpdatesEx loop per collector.
 */
export interface CollectorState {
  moId: string;
  /** Last UpdateSet.version handed out by WaitForUpdatesEx on this collector */
  updateVersion: number;
  /** Bumped by CancelWaitForUpdates to end waits in progress */
  waitGeneration: number;
  /**
   * The rest of the last change calculation when it was truncated (maxObjectUpdates): per
   * filter, the ObjectUpdates not handed out yet. The truncated version resumes it, once.
   */
  suspended?: { version: string; pending: Map<string, SuspendedUpdate[]> };
}

export const DEFAULT_COLLECTOR = 'propertyCollector';

export interface VimSession {
  id: string;
  /** UserSession.key */
  key: string;
  /** The user's directory name ('readonly@vsphere.local'): whose permissions apply. */
  account: string;
  /** Principal name as vCenter reports it ('VSPHERE.LOCAL\\Readonly'). */
  userName: string;
  loginTime: Date;
  lastActiveTime: Date;
  callCount: number;
  ipAddress: string;
  userAgent: string;
  locale: string;
  views: Map<string, ContainerViewState>;
  /** RetrievePropertiesEx continuation tokens */
  retrievals: Map<string, PendingRetrieval>;
  /** PropertyFilters created by this session (CreateFilter), on any of its collectors */
  filters: Map<string, FilterState>;
  /** The default collector and the private ones this session created */
  collectors: Map<string, CollectorState>;
}

/** 'administrator@vsphere.local' → 'VSPHERE.LOCAL\\Administrator', as vCenter reports it. */
export function principalName(username: string): string {
  const at = username.lastIndexOf('@');
  if (at < 0) return username;
  const user = username.slice(0, at);
  const domain = username.slice(at + 1).toUpperCase();
  return `${domain}\\${user.charAt(0).toUpperCase()}${user.slice(1)}`;
}

export class SessionStore {
  readonly rest = new Map<string, RestSession>();
  readonly vim = new Map<string, VimSession>();

  createRest(username: string): RestSession {
    const now = new Date();
    const s: RestSession = { id: randomBytes(16).toString('hex'), account: username, user: principalName(username), createdTime: now, lastAccessedTime: now };
    this.rest.set(s.id, s);
    return s;
  }

  createVim(username: string, ipAddress: string, userAgent: string, locale: string): VimSession {
    const now = new Date();
    const s: VimSession = {
      id: randomBytes(20).toString('hex'),
      key: randomUUID(),
      account: username,
      userName: principalName(username),
      loginTime: now,
      lastActiveTime: now,
      callCount: 0,
      ipAddress,
      userAgent,
      locale,
      views: new Map(),
      retrievals: new Map(),
      filters: new Map(),
      collectors: new Map([[DEFAULT_COLLECTOR, { moId: DEFAULT_COLLECTOR, updateVersion: 0, waitGeneration: 0 }]]),
    };
    this.vim.set(s.id, s);
    return s;
  }

  /** Invalidate every REST and VI/JSON session now (views, tokens and filters die with them). */
  expireAll(): void {
    this.rest.clear();
    this.vim.clear();
  }

  live(): { rest: number; vim: number } {
    return { rest: this.rest.size, vim: this.vim.size };
  }

  /** Live sessions per API per principal name ('VSPHERE.LOCAL\\User7' → 1). */
  liveByUser(): { rest: Record<string, number>; vim: Record<string, number> } {
    const count = (names: Iterable<string>): Record<string, number> => {
      const out: Record<string, number> = {};
      for (const n of [...names].sort()) out[n] = (out[n] ?? 0) + 1;
      return out;
    };
    return { rest: count([...this.rest.values()].map((s) => s.user)), vim: count([...this.vim.values()].map((s) => s.userName)) };
  }

  /** PropertyFilters of every live VI/JSON session. */
  liveFilters(): number {
    let n = 0;
    for (const s of this.vim.values()) n += s.filters.size;
    return n;
  }
}
