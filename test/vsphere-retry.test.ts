/**
 * Edge cases the simulator does not produce (503s, Retry-After, vAPI 500 bodies, faults with
 * details, a vCenter without VI/JSON, stalled bodies), against a scripted loopback HTTP server.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamError, VCenterClient, moRef } from '../src/vsphere/index.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

let server: Server;
let url: string;
let handler: Handler;
let seen: string[] = [];
const clients: VCenterClient[] = [];
const PASSWORD = 'S3cret-Passw0rd';
const SESSION = 'sess-0123456789abcdef';

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const SERVICE_CONTENT = {
  _typeName: 'ServiceContent',
  rootFolder: { _typeName: 'ManagedObjectReference', type: 'Folder', value: 'group-d1' },
  propertyCollector: { _typeName: 'ManagedObjectReference', type: 'PropertyCollector', value: 'propertyCollector' },
  viewManager: { _typeName: 'ManagedObjectReference', type: 'ViewManager', value: 'ViewManager' },
  sessionManager: { _typeName: 'ManagedObjectReference', type: 'SessionManager', value: 'SessionManager' },
  about: {
    _typeName: 'AboutInfo', name: 'VMware VirtualCenter', fullName: 'x', vendor: 'VMware, Inc.', version: '8.0.2', build: '1',
    osType: 'linux-x64', productLineId: 'vpx', apiType: 'VirtualCenter', apiVersion: '8.0.2.0',
  },
};

/** Default behaviour: REST login and VI/JSON bootstrap + login succeed. */
function base(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'POST' && req.url === '/api/session') {
    json(res, 201, SESSION);
    return true;
  }
  if (req.method === 'GET' && req.url === '/sdk/vim25/8.0.1.0/ServiceInstance/ServiceInstance/content') {
    json(res, 200, SERVICE_CONTENT);
    return true;
  }
  if (req.method === 'POST' && req.url === '/sdk/vim25/8.0.2.0/SessionManager/SessionManager/Login') {
    json(res, 200, { _typeName: 'UserSession', key: 'k', userName: 'u' }, { 'vmware-api-session-id': SESSION });
    return true;
  }
  return false;
}

function mk(over: { timeoutMs?: number } = {}): VCenterClient {
  const c = new VCenterClient(
    { name: 'fake-vc', url, username: 'administrator@vsphere.local', password: PASSWORD, timeoutMs: over.timeoutMs ?? 2_000 },
    { retry: { baseDelayMs: 5, maxDelayMs: 20 } },
  );
  clients.push(c);
  return c;
}

async function upstreamError(p: Promise<unknown>): Promise<UpstreamError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(UpstreamError);
  return e as UpstreamError;
}

const count = (prefix: string) => seen.filter((s) => s.startsWith(prefix)).length;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      handler(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()));
  seen = [];
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('REST edge cases', () => {
  it('retries an idempotent GET on 503, honouring Retry-After', async () => {
    let n = 0;
    handler = (req, res) => {
      if (base(req, res)) return;
      if (req.url === '/api/vcenter/cluster') {
        if (++n <= 2) return json(res, 503, { error_type: 'SERVICE_UNAVAILABLE', messages: [] }, { 'retry-after': '0' });
        return json(res, 200, [{ cluster: 'domain-c1', name: 'c1', ha_enabled: true, drs_enabled: false }]);
      }
      json(res, 404, {});
    };
    const c = mk();
    expect(await c.listClusters()).toHaveLength(1);
    expect(count('GET /api/vcenter/cluster')).toBe(3);
    expect(c.requestCount()).toBe(4); // login + 3 attempts
  });

  it('gives up after two retries: VCENTER_UNAVAILABLE, retryable', async () => {
    handler = (req, res) => {
      if (base(req, res)) return;
      json(res, 503, { error_type: 'SERVICE_UNAVAILABLE', messages: [{ id: 'x', default_message: 'vCenter is being patched', args: [] }] });
    };
    const e = await upstreamError(mk().listHosts());
    expect(e).toMatchObject({ code: 'VCENTER_UNAVAILABLE', retryable: true, status: 503, fault: 'SERVICE_UNAVAILABLE', api: 'rest' });
    expect(e.message).toContain('vCenter is being patched');
    expect(count('GET /api/vcenter/host')).toBe(3);
  });

  it('maps a vAPI 500 to UPSTREAM_ERROR with error_type, scrubbing echoed secrets', async () => {
    handler = (req, res) => {
      if (base(req, res)) return;
      json(res, 500, {
        error_type: 'UNABLE_TO_ALLOCATE_RESOURCE',
        messages: [{ id: 'x', default_message: `too many results (session ${SESSION}, password ${PASSWORD})`, args: [] }],
      });
    };
    const e = await upstreamError(mk().listHosts({ clusters: ['domain-c1', 'domain-c2'], connectionStates: ['CONNECTED'], standalone: false }));
    expect(e).toMatchObject({ code: 'UPSTREAM_ERROR', fault: 'UNABLE_TO_ALLOCATE_RESOURCE', status: 500, retryable: false });
    expect(e.message).toContain('too many results');
    expect(e.message).not.toContain(SESSION);
    expect(e.message).not.toContain(PASSWORD);
    expect(seen).toContain('GET /api/vcenter/host?clusters=domain-c1&clusters=domain-c2&standalone=false&connection_states=CONNECTED');
    expect(count('GET /api/vcenter/host')).toBe(1);
  });

  it('renews once on 401 and returns the second 401', async () => {
    handler = (req, res) => {
      if (base(req, res)) return;
      json(res, 401, { error_type: 'UNAUTHENTICATED', messages: [] });
    };
    const e = await upstreamError(mk().listClusters());
    expect(e).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    expect(count('POST /api/session')).toBe(2);
    expect(count('GET /api/vcenter/cluster')).toBe(2);
  });

  it('a stalled body → UPSTREAM_TIMEOUT', async () => {
    handler = (req, res) => {
      if (base(req, res)) return;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('[');
    };
    const t0 = Date.now();
    const e = await upstreamError(mk({ timeoutMs: 150 }).listClusters());
    expect(e.code).toBe('UPSTREAM_TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(1_500);
  });
});

describe('VI/JSON edge cases', () => {
  it('no VI/JSON API (404 at bootstrap) → VIM_API_UNAVAILABLE', async () => {
    handler = (req, res) => {
      res.writeHead(404, { 'content-length': 0 });
      res.end();
    };
    const e = await upstreamError(mk().about());
    expect(e.code).toBe('VIM_API_UNAVAILABLE');
    expect(e.message).toMatch(/8\.0 Update 1/);
  });

  it('uses the discovered release, sends _typeName on bodies, never blindly retries a non-idempotent invoke', async () => {
    const bodies: unknown[] = [];
    handler = (req, res, body) => {
      if (base(req, res)) {
        if (body) bodies.push(JSON.parse(body));
        return;
      }
      if (req.url === '/sdk/vim25/8.0.2.0/HostPatchManager/patchManager-1/ScanHostPatchV2_Task') {
        bodies.push(JSON.parse(body));
        return json(res, 503, {});
      }
      json(res, 404, {});
    };
    const c = mk();
    const e = await upstreamError(c.invoke('HostPatchManager', 'patchManager-1', 'ScanHostPatchV2_Task', { metaUrls: ['https://depot/metadata.zip'] }));
    expect(e).toMatchObject({ code: 'VCENTER_UNAVAILABLE', api: 'vim', status: 503 });
    expect(count('POST /sdk/vim25/8.0.2.0/HostPatchManager')).toBe(1);
    expect(bodies[0]).toEqual({ _typeName: 'LoginRequestType', userName: 'administrator@vsphere.local', password: PASSWORD });
    // The spec's request type: vim25 drops _Task from request type names.
    expect(bodies[1]).toEqual({ _typeName: 'ScanHostPatchV2RequestType', metaUrls: ['https://depot/metadata.zip'] });
  });

  it('maps faults: TaskInProgress keeps its details, NotAuthenticated renews once', async () => {
    let notAuth = 0;
    handler = (req, res) => {
      if (base(req, res)) return;
      if (req.url?.endsWith('/ScanHostPatchV2_Task')) {
        return json(res, 500, {
          _typeName: 'TaskInProgress',
          faultstring: 'A patch operation is already running',
          task: { _typeName: 'ManagedObjectReference', type: 'Task', value: 'task-9' },
        });
      }
      if (req.url?.endsWith('/Task/task-1/info')) {
        if (++notAuth === 1) return json(res, 500, { _typeName: 'NotAuthenticated', object: { _typeName: 'ManagedObjectReference', type: 'Task', value: 'task-1' } });
        return json(res, 200, {
          _typeName: 'TaskInfo', key: 'task-1', state: 'success', cancelled: false, cancelable: false,
          reason: { _typeName: 'TaskReasonUser', userName: 'VSPHERE.LOCAL\\Administrator' },
          result: { _typeName: 'HostPatchManagerResult', version: '1', status: [{ _typeName: 'HostPatchManagerStatus', id: 'p', applicable: true, installed: false, restartRequired: false, reconnectRequired: false, vmOffRequired: false }] },
          progressDetails: [{ _typeName: 'KeyAnyValue', key: 'k', value: { _typeName: 'int', _value: 3 } }],
        });
      }
      json(res, 404, {});
    };
    const c = mk();
    const e = await upstreamError(c.invoke('HostPatchManager', 'pm', 'ScanHostPatchV2_Task', {}));
    expect(e).toMatchObject({ code: 'UPSTREAM_ERROR', fault: 'TaskInProgress', status: 500, retryable: false });
    expect(e.message).toContain('A patch operation is already running');
    expect((e.detail as { task: unknown }).task).toEqual(moRef('Task', 'task-9'));

    const info = await c.getProperty<Record<string, any>>('Task', 'task-1', 'info');
    expect(info.reason._typeName).toBe('TaskReasonUser');
    expect(info.result.status[0].applicable).toBe(true);
    expect(info.progressDetails[0].value).toBe(3);
    expect(count('POST /sdk/vim25/8.0.2.0/SessionManager/SessionManager/Login')).toBe(2);
  });

  it('void methods answer undefined; RetrievePropertiesEx null → []', async () => {
    handler = (req, res) => {
      if (base(req, res)) return;
      if (req.url?.endsWith('/CancelTask')) {
        res.writeHead(204, { 'content-length': 0 });
        return res.end();
      }
      if (req.url?.endsWith('/RetrievePropertiesEx')) return json(res, 200, null);
      json(res, 404, {});
    };
    const c = mk();
    expect(await c.invoke('Task', 'task-1', 'CancelTask')).toBeUndefined();
    expect(await c.retrieveProperties([{ propSet: [{ type: 'HostSystem', pathSet: ['name'] }], objectSet: [{ obj: moRef('HostSystem', 'host-1') }] }])).toEqual([]);
  });
});
