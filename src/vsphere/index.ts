/**
 * Public API of the vSphere upstream clients (REST `/api` and VI/JSON `/sdk/vim25/{release}`).
 * The GraphQL layer codes against exactly these exports.
 */
export {
  VCenterClient,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_MAX_CONCURRENT_REQUESTS,
  type VCenterEndpoint,
  type VCenterClientOptions,
  type VCenterClientDiagnostics,
} from './vcenter-client.ts';
export { UpstreamError, isUpstreamError, type UpstreamErrorCode, type UpstreamApi } from './errors.ts';
export { decodeVim, encodeVim, encodeFilterSpec, box, moRef, isMoRef, isBoxed, propsOf, type Boxed } from './vim-codec.ts';
export { BOOTSTRAP_RELEASE, type InvokeOptions } from './vim-client.ts';
export { credentialKey, type Credential } from './sessions.ts';
export type { RetryPolicy, UpstreamCall } from './http.ts';
export { Semaphore } from './http.ts';
export { runInCallScope, currentCallScope, detached, DeadlineExceeded, type CallScope } from './call-scope.ts';
export { DEFAULT_BREAKER, type BreakerOptions, type BreakerStatus, type BreakerState } from './breaker.ts';
export type * from './rest-types.ts';
export type * from './vim-types.ts';
