import { badInput } from './errors.ts';

/**
 * Global IDs: base64url of `v1|{Type}|{vcenter}|{moId}`. They are opaque to clients,
 * stable across restarts (built from the configured vCenter name and the MoID, both
 * stable), and carry everything needed to route a lookup to one vCenter.
 */
export const NODE_TYPES = ['VCenter', 'Cluster', 'Host', 'PatchScan'] as const;
export type NodeType = (typeof NODE_TYPES)[number];

export interface DecodedId {
  type: NodeType;
  vcenter: string;
  /** Empty for a VCenter. */
  moId: string;
}

const VERSION = 'v1';
/** MoIDs as vCenter issues them (domain-c8, host-21, task-301); anything else is refused before it reaches a URL. */
const MOID = /^[A-Za-z][A-Za-z0-9_.-]{0,79}$/;

export function toGlobalId(type: NodeType, vcenter: string, moId = ''): string {
  return Buffer.from([VERSION, type, vcenter, moId].join('|'), 'utf8').toString('base64url');
}

export function isValidMoId(moId: string): boolean {
  return MOID.test(moId);
}

/** Decodes a global ID or throws BAD_USER_INPUT. `expected` restricts the type. */
export function fromGlobalId(id: string, expected?: NodeType | readonly NodeType[], field = 'id'): DecodedId {
  const fail = (why: string): never => {
    throw badInput(`Invalid ${field} "${truncate(id)}": ${why}`, field);
  };
  if (typeof id !== 'string' || id.length === 0 || id.length > 512 || !/^[A-Za-z0-9_-]+$/.test(id)) {
    fail('not a global ID');
  }
  const parts = Buffer.from(id, 'base64url').toString('utf8').split('|');
  if (parts.length !== 4 || parts[0] !== VERSION) fail('not a global ID');
  const [, type, vcenter, moId] = parts as [string, string, string, string];
  if (!(NODE_TYPES as readonly string[]).includes(type)) fail('unknown object type');
  const nodeType = type as NodeType;
  const allowed = expected === undefined ? undefined : typeof expected === 'string' ? [expected] : expected;
  if (allowed && !allowed.includes(nodeType)) fail(`expected the ID of a ${allowed.join(' or ')}, got a ${nodeType}`);
  if (!vcenter) fail('no vCenter');
  if (nodeType === 'VCenter' ? moId !== '' : !isValidMoId(moId)) fail('malformed managed object ID');
  return { type: nodeType, vcenter, moId };
}

function truncate(s: string): string {
  return typeof s === 'string' && s.length > 64 ? `${s.slice(0, 64)}…` : String(s);
}
