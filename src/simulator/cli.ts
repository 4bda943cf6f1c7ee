// `npm run simulator`: start a simulated vCenter fleet and print how to reach it.
//   --vcenters N --datacenters N --clusters N --hosts N   fleet size (per vCenter / datacenter / cluster)
//   --seed N        inventory seed (default 1)
//   --port N        vCenter i listens on N+i (default: ephemeral ports)
//   --http          plain HTTP instead of HTTPS
//   --latency MS    delay before every answer
//   --scan-ms MS    how long a patch scan task runs (default 1000)
//   --faults FILE   JSON array of fault rules for every vCenter (see FaultRule)

import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEPOT_URLS, startSimulator } from './index.ts';
import { parseFaultRules } from './injection.ts';

const { values } = parseArgs({
  options: {
    vcenters: { type: 'string' },
    datacenters: { type: 'string' },
    clusters: { type: 'string' },
    hosts: { type: 'string' },
    seed: { type: 'string' },
    port: { type: 'string' },
    http: { type: 'boolean', default: false },
    latency: { type: 'string' },
    'scan-ms': { type: 'string' },
    faults: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log('usage: npm run simulator -- [--vcenters N] [--datacenters N] [--clusters N] [--hosts N] [--seed N] [--port N] [--http] [--latency MS] [--scan-ms MS] [--faults FILE]');
  process.exit(0);
}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer, got '${v}'`);
    process.exit(2);
  }
  return n;
}

const size = Object.fromEntries(
  Object.entries({
    vcenters: int('vcenters', values.vcenters),
    datacentersPerVcenter: int('datacenters', values.datacenters),
    clustersPerDatacenter: int('clusters', values.clusters),
    hostsPerCluster: int('hosts', values.hosts),
  }).filter(([, v]) => v !== undefined),
);
const seed = int('seed', values.seed);
const basePort = int('port', values.port);
const latencyMs = int('latency', values.latency);
const patchScanDurationMs = int('scan-ms', values['scan-ms']);
let faults;
if (values.faults !== undefined) {
  try {
    faults = parseFaultRules(JSON.parse(readFileSync(values.faults, 'utf8')));
  } catch (err) {
    console.error(`--faults ${values.faults}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
}

const sim = await startSimulator({
  size,
  tls: !values.http,
  ...(seed !== undefined ? { seed } : {}),
  ...(basePort !== undefined ? { basePort } : {}),
  ...(latencyMs !== undefined ? { latencyMs } : {}),
  ...(patchScanDurationMs !== undefined ? { patchScanDurationMs } : {}),
  ...(faults ? { faults } : {}),
});

console.log(`vCenter simulator: ${sim.vcenters.length} vCenter(s)`);
// Test fixtures, not secrets: printed so anyone can try each user ('cluster:N' is the N-th cluster, 0-based).
console.log('  users (the same on every vCenter):');
for (const u of sim.users) {
  const grants = u.permissions.map((p) => `${p.role} on ${p.entity}${p.propagate === false ? ' (not propagating)' : ''}`).join(', ');
  console.log(`    ${u.name.padEnd(30)} ${u.password.padEnd(16)} ${grants}`);
}
if (sim.caPem) {
  const caFile = join(tmpdir(), `vcenter-simulator-ca-${process.pid}.pem`);
  writeFileSync(caFile, sim.caPem);
  console.log(`  CA certificate: ${caFile}   (e.g. NODE_EXTRA_CA_CERTS=${caFile}, curl --cacert ${caFile})`);
}
for (const vc of sim.vcenters) {
  const inv = vc.inventory;
  console.log(`  ${vc.name}  ${vc.url}  (${inv.datacenters.length} datacenters, ${inv.clusters.length} clusters, ${inv.hosts.length} hosts)`);
}
console.log(`Patch depots (ScanHostPatchV2_Task metaUrls): ${DEPOT_URLS.join(' ')}`);
console.log('Observability: GET /_sim/stats, POST /_sim/reset, POST /_sim/expire-sessions, POST /_sim/latency {"ms":N}.');
console.log('Faults: GET|POST|DELETE /_sim/faults {"rules":[...],"seed"?:N}, POST /_sim/down {"forMs":N}. Ctrl-C to stop.');

const stop = (): void => {
  sim.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
