/**
 * The Kubernetes manifests under deploy/kubernetes, checked as data: required structure, and
 * cross-references (labels and selectors, mounted ConfigMap and Secret, the config file and the
 * password files it names, probe paths served by the gateway, image user, drain time).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHUTDOWN_GRACE_MS, loadConfig } from '../src/config.ts';
import { DEFAULT_TIMEOUT_MS } from '../src/vsphere/index.ts';
import { execForm } from './dockerfile.ts';
import { startHarness } from './harness.ts';
import type { Harness } from './harness.ts';

const DIR = resolve(import.meta.dirname, '../deploy/kubernetes');
type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [k: string]: any };

function load(file: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'));
  for (const d of docs) if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`);
  return docs.map((d) => d.toJS() as Manifest).filter(Boolean);
}

const kustomization = load('kustomization.yaml')[0]!;
const manifests = (kustomization['resources'] as string[]).flatMap(load);
const one = (kind: string) => {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
};
const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Kubernetes quantities → numbers (cores, bytes). */
function quantity(q: string | number): number {
  const m = /^([\d.]+)(m|Ki|Mi|Gi|Ti|k|M|G)?$/.exec(String(q));
  if (!m) throw new Error(`not a quantity: ${q}`);
  const unit = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

const deployment = one('Deployment');
const pod = deployment['spec'].template.spec;
const container = pod.containers.find((c: any) => c.name === 'gateway');
const mountOf = (volume: string) => container.volumeMounts.find((m: any) => m.name === volume);

describe('Kubernetes manifests', () => {
  it('lists every manifest in the kustomization and each parses with apiVersion, kind and name', () => {
    expect(new Set(manifests.map((m) => m.kind))).toEqual(new Set(['ConfigMap', 'Secret', 'Deployment', 'Service', 'PodDisruptionBudget']));
    for (const m of manifests) {
      expect(m.apiVersion, m.kind).toBeTruthy();
      expect(m.metadata.name, m.kind).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  });

  it('runs 2+ replicas that the Service and the PodDisruptionBudget select, without blocking drains', () => {
    const spec = deployment['spec'];
    expect(spec.replicas).toBeGreaterThanOrEqual(2);
    const labels = spec.template.metadata.labels;
    expect(matches(spec.selector.matchLabels, labels)).toBe(true);
    const service = one('Service');
    expect(matches(service['spec'].selector, labels)).toBe(true);
    const pdb = one('PodDisruptionBudget');
    expect(matches(pdb['spec'].selector.matchLabels, labels)).toBe(true);
    expect(pdb['spec'].minAvailable).toBeGreaterThanOrEqual(1);
    expect(pdb['spec'].minAvailable).toBeLessThan(spec.replicas);
    // The Service targets a port the container declares.
    const ports = container.ports.map((p: any) => p.name);
    for (const p of service['spec'].ports) expect(ports).toContain(p.targetPort);
  });

  it('has resource requests and limits, requests within limits', () => {
    for (const r of ['cpu', 'memory']) {
      const request = container.resources.requests[r];
      const limit = container.resources.limits[r];
      expect(request, r).toBeDefined();
      expect(limit, r).toBeDefined();
      expect(quantity(request)).toBeLessThanOrEqual(quantity(limit));
    }
  });

  it('caps the V8 heap below the memory limit (V8 sizes it from the machine, not the container)', () => {
    const nodeOptions = container.env.find((e: { name: string }) => e.name === 'NODE_OPTIONS')?.value as string | undefined;
    // The pod's node runs with the image's entry-point flags and NODE_OPTIONS both.
    const flags = [...execForm('ENTRYPOINT'), ...(nodeOptions ?? '').split(/\s+/)];
    const flag = (name: string) => Number(flags.map((f) => new RegExp(`^--${name}=(\\d+)$`).exec(f)?.[1]).find(Boolean));
    const oldSpaceMb = flag('max-old-space-size');
    expect(oldSpaceMb).toBeGreaterThan(0);
    // V8's young generation is three semi-spaces (two, plus the new large-object space); 16 MB each by default.
    const youngMb = 3 * (flag('max-semi-space-size') || 16);
    // Room beside the heap for buffers and code: the whole heap at most 3/4 of the limit.
    expect((oldSpaceMb + youngMb) * 1024 * 1024).toBeLessThanOrEqual(quantity(container.resources.limits.memory) * 0.75);
  });

  it('runs as the image\'s non-root user on a read-only root file system', () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).not.toBe(0);
    const user = /^USER\s+(\d+)/m.exec(readFileSync(resolve(import.meta.dirname, '../Dockerfile'), 'utf8'))![1];
    expect(String(pod.securityContext.runAsUser)).toBe(user);
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    // Node is the entry point (the image's); the manifest passes arguments only, never a shell or npm.
    expect(container.command).toBeUndefined();
  });

  it('mounts the ConfigMap and Secret it names; the config file it passes loads, with every password file from the Secret', () => {
    const volumes = new Map<string, any>(pod.volumes.map((v: any) => [v.name, v]));
    for (const m of container.volumeMounts) expect(volumes.has(m.name), m.name).toBe(true);
    const configMaps = manifests.filter((m) => m.kind === 'ConfigMap');
    const secrets = manifests.filter((m) => m.kind === 'Secret');
    const configVolume = pod.volumes.find((v: any) => v.configMap);
    const secretVolume = pod.volumes.find((v: any) => v.secret);
    const configMap = configMaps.find((c) => c.metadata.name === configVolume.configMap.name);
    const secret = secrets.find((s) => s.metadata.name === secretVolume.secret.secretName);
    expect(configMap).toBeDefined();
    expect(secret).toBeDefined();

    const configArg = container.args[container.args.indexOf('--config') + 1] as string;
    expect(posix.dirname(configArg)).toBe(mountOf(configVolume.name).mountPath);
    const configText = configMap!['data'][posix.basename(configArg)] as string;
    expect(configText).toBeDefined();

    // Load the config as the gateway would, with the password files where the Secret puts them.
    const secretDir = mountOf(secretVolume.name).mountPath as string;
    const passwords = { ...secret!['stringData'], ...Object.fromEntries(Object.entries(secret!['data'] ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString()])) };
    const local = mkdtempSync(join(tmpdir(), 'k8s-config-'));
    const file = JSON.parse(configText);
    expect(file.vcenters.length).toBeGreaterThan(0);
    for (const vc of file.vcenters) {
      expect(dirname(vc.passwordFile)).toBe(secretDir);
      const key = basename(vc.passwordFile);
      expect(Object.keys(passwords), vc.name).toContain(key);
      writeFileSync(join(local, key), passwords[key]);
      vc.passwordFile = join(local, key);
    }
    writeFileSync(join(local, 'config.json'), JSON.stringify(file));
    const env = Object.fromEntries(container.env.map((e: any) => [e.name, e.value]));
    const config = loadConfig(['--config', join(local, 'config.json')], env);
    expect(config.vcenters.map((v) => v.name)).toEqual(file.vcenters.map((v: any) => v.name));
    expect(config.graphiql).toBe(false);
    expect(config.host).toBe('0.0.0.0');
    // The container port is the one the gateway listens on.
    expect(container.ports.find((p: any) => p.name === 'http').containerPort).toBe(config.port);
  });

  it('gives the pod longer to stop than the gateway takes to drain', () => {
    const configMap = manifests.find((m) => m.kind === 'ConfigMap')!;
    const timeouts = (JSON.parse(configMap['data']['config.json']).vcenters as { timeoutMs?: number }[]).map((v) => v.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const preStop = container.lifecycle.preStop.exec.command.join(' ');
    const preStopSeconds = Number(/setTimeout\(.*?(\d+)\)/.exec(preStop)![1]) / 1000;
    // Drain: preStop, then in-flight requests get SHUTDOWN_GRACE_MS, then logouts bounded by the vCenter timeout.
    const drainSeconds = preStopSeconds + SHUTDOWN_GRACE_MS / 1000 + Math.max(...timeouts) / 1000;
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(drainSeconds);
  });

  describe('probes', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({ size: { vcenters: 1, clustersPerDatacenter: 1, hostsPerCluster: 1 } });
    });
    afterAll(async () => h?.close());

    it('use paths the gateway answers 200 on, on the container\'s port', async () => {
      expect(container.readinessProbe.httpGet.path).toBe('/readyz');
      expect(container.livenessProbe.httpGet.path).toBe('/healthz');
      const origin = h.url.replace(/\/graphql$/, '');
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        expect(container.ports.map((p: any) => p.name)).toContain(probe.httpGet.port);
        expect(probe.timeoutSeconds).toBeGreaterThanOrEqual(3);
        expect((await fetch(origin + probe.httpGet.path)).status, probe.httpGet.path).toBe(200);
      }
    });
  });
});
