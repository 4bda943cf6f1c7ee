import { badInput } from './errors.ts';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Edge<T>[];
  nodes: T[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  totalCount: number;
}

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

/**
 * Cursor pagination over an already-sorted list. A cursor carries the sort key of its
 * node, not an offset, so a page boundary survives objects appearing or disappearing
 * between two requests. `toNode` turns the page's items (only those) into nodes.
 *
 * Edges (and their cursors) are built when the query reads them: `nodes { … }` over tens of
 * thousands of hosts would otherwise encode a cursor per host for nothing.
 */
export function paginate<T, N = T>(sorted: readonly T[], sortKey: (item: T) => string, args: PageArgs, toNode?: (item: T) => N): Connection<N> {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw badInput(`"first" must be an integer from 0 to ${MAX_PAGE_SIZE}`, 'first');
  }
  let start = 0;
  if (args.after != null) {
    const afterKey = decodeCursor(args.after);
    start = sorted.findIndex((item) => sortKey(item) > afterKey);
    if (start === -1) start = sorted.length;
  }
  const page = sorted.slice(start, start + first);
  const nodes = toNode ? page.map(toNode) : (page as unknown as N[]);
  let edges: Edge<N>[] | undefined;
  return {
    get edges() {
      return (edges ??= nodes.map((node, i) => ({ cursor: encodeCursor(sortKey(page[i]!)), node })));
    },
    nodes,
    pageInfo: {
      hasNextPage: start + first < sorted.length,
      hasPreviousPage: start > 0,
      startCursor: page.length > 0 ? encodeCursor(sortKey(page[0]!)) : null,
      endCursor: page.length > 0 ? encodeCursor(sortKey(page[page.length - 1]!)) : null,
    },
    totalCount: sorted.length,
  };
}

const CURSOR_PREFIX = 'c1:';

function encodeCursor(key: string): string {
  return Buffer.from(CURSOR_PREFIX + key, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const decoded = /^[A-Za-z0-9_-]{1,512}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (!decoded.startsWith(CURSOR_PREFIX)) throw badInput('"after" is not a cursor returned by this API', 'after');
  return decoded.slice(CURSOR_PREFIX.length);
}

/**
 * Sort key for objects of one vCenter: the vCenter's position in the configuration, then
 * the MoID with its number zero-padded so that host-9 sorts before host-10.
 */
export function inventorySortKey(vcenterIndex: number, moId: string): string {
  const m = /^(.*?)(\d+)$/.exec(moId);
  const moKey = m ? `${m[1]}${m[2]!.padStart(12, '0')}` : moId;
  return `${String(vcenterIndex).padStart(4, '0')}/${moKey}`;
}
