// Minimal HTTP client for talking to a simulated vCenter in tests and
// scripts (TLS verification stays on: it trusts the simulator's CA only).

import { Agent, request } from 'undici';
import type { Simulator, SimulatedVCenter } from './index.ts';

export interface SimResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Raw body text */
  text: string;
  /** Parsed JSON body; undefined for an empty body */
  json: unknown;
}

export class SimClient {
  readonly dispatcher: Agent;

  constructor(readonly sim: Simulator) {
    this.dispatcher = new Agent(sim.caPem ? { connect: { ca: sim.caPem } } : {});
  }

  async call(
    vc: SimulatedVCenter,
    method: 'GET' | 'POST' | 'DELETE' | 'PUT',
    path: string,
    options: { session?: string; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<SimResponse> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.session) headers['vmware-api-session-id'] = options.session;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const res = await request(vc.url + path, {
      method,
      headers,
      dispatcher: this.dispatcher,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text, json: text === '' ? undefined : JSON.parse(text) };
  }

  /** POST /api/session with HTTP Basic; returns the session id. */
  async restLogin(vc: SimulatedVCenter, username = this.sim.username, password = this.sim.password): Promise<string> {
    const res = await this.call(vc, 'POST', '/api/session', {
      headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` },
    });
    if (res.status !== 201 || typeof res.json !== 'string') throw new Error(`REST login failed: ${res.status} ${res.text}`);
    return res.json;
  }

  /** SessionManager.Login on /sdk/vim25/{release}; returns the session id header. */
  async vimLogin(vc: SimulatedVCenter, release = '8.0.3.0', username = this.sim.username, password = this.sim.password): Promise<string> {
    const res = await this.call(vc, 'POST', `/sdk/vim25/${release}/SessionManager/SessionManager/Login`, {
      body: { _typeName: 'Login', userName: username, password },
    });
    const id = res.headers['vmware-api-session-id'];
    if (res.status !== 200 || typeof id !== 'string') throw new Error(`VI/JSON login failed: ${res.status} ${res.text}`);
    return id;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
