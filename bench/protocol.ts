/** Messages between the benchmark driver and its child processes (see bench/child.ts). */
import type { FleetSize } from '../src/simulator/index.ts';
import type { VCenterEndpoint } from '../src/vsphere/index.ts';

export interface RpcRequest {
  id: number;
  cmd: string;
  args?: unknown;
}

export type RpcResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Highest values seen by the 20 ms sampler since start or the last resetPeak. */
  peakRss: number;
  peakHeap: number;
}

export interface SimStart {
  size: FleetSize;
  latencyMs: number;
  patchScanDurationMs?: number;
}

export interface SimInfo {
  vcenters: { name: string; url: string; hosts: number; clusters: number }[];
  caPem: string | undefined;
  username: string;
  password: string;
  /** The simulator's patch depot URLs, when it exports DEPOT_URLS. */
  depotUrls?: string[];
}

export interface GatewayStart {
  vcenters: VCenterEndpoint[];
  /** Run the inventory mirrors (GatewayOptions.inventoryMirror with its defaults). */
  inventoryMirror?: boolean;
  /** GatewayOptions.jit (compiled execution); absent: the gateway's default. */
  jit?: boolean;
}
