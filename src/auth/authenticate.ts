/**
 * Turns what a client presented (HTTP Authorization header, graphql-ws connection_init
 * payload) into a Caller, per the configured mode, or refuses with a typed AuthError.
 */
import { createHash } from 'node:crypto';
import { anonymousCaller, type Caller, type PassthroughCredential } from './caller.ts';
import type { AuthConfig, AuthMode } from './config.ts';
import { basicChallenge, type ParsedAuthorization } from './authorization-header.ts';
import { type AuthError, unauthenticated } from './errors.ts';

const MISSING_BASIC = 'Log in with your vCenter credentials (HTTP Basic, or the connection_init payload on WebSocket)';
const MISSING_BEARER = 'Send an OIDC access token: Authorization: Bearer <token>';

/** How the credential of a passthrough caller fared on the configured vCenters. */
export interface PassthroughVerdict {
  accepted: number;
  refused: number;
  /** Could not tell (vCenter down, timeout): the caller's requests will fail there with typed errors. */
  unreachable: number;
}

export interface BearerVerifier {
  authenticate(token: string): Promise<Caller>;
  close?(): Promise<void>;
}

export interface AuthenticatorDeps {
  config: AuthConfig;
  /** Passthrough: tries the credential on every vCenter (a session that exists costs nothing). */
  verifyPassthrough?: (credential: PassthroughCredential) => Promise<PassthroughVerdict>;
  /** jwt: validates bearer tokens. */
  bearer?: BearerVerifier;
}

/** Caller key of a passthrough user: the name plus a short hash of the credential, never the password. */
export function passthroughKey(credential: PassthroughCredential): string {
  const digest = createHash('sha256').update(`${credential.username}\u0000${credential.password}`, 'utf8').digest('hex');
  return `vcenter:${credential.username}#${digest.slice(0, 16)}`;
}

export class Authenticator {
  readonly mode: AuthMode;

  constructor(private readonly deps: AuthenticatorDeps) {
    this.mode = deps.config.mode;
    if (this.mode === 'vcenter' && !deps.verifyPassthrough) throw new Error('auth mode vcenter needs verifyPassthrough');
    if (this.mode === 'jwt' && !deps.bearer) throw new Error('auth mode jwt needs a bearer verifier');
  }

  /** The `WWW-Authenticate` challenge of a 401 in this mode. */
  challenge(error?: AuthError): string | undefined {
    const realm = this.deps.config.realm;
    if (this.mode === 'vcenter') return basicChallenge(realm);
    // RFC 6750: a token was sent and is not valid → error="invalid_token"; none sent → the bare challenge.
    if (this.mode === 'jwt') return error && error.message !== MISSING_BEARER ? `Bearer realm="${realm}", error="invalid_token"` : `Bearer realm="${realm}"`;
    return undefined;
  }

  async authenticate(presented: ParsedAuthorization, address: string): Promise<Caller> {
    switch (this.mode) {
      case 'none':
        return anonymousCaller(address);
      case 'vcenter': {
        if (presented.scheme !== 'basic') {
          throw unauthenticated(presented.scheme === 'none' ? 'malformed_authorization' : 'unsupported_scheme', MISSING_BASIC);
        }
        const credential = { username: presented.username, password: presented.password };
        const verdict = await this.deps.verifyPassthrough!(credential);
        if (verdict.accepted === 0 && verdict.refused > 0) {
          throw unauthenticated('invalid_claim', 'vCenter refused these credentials');
        }
        return {
          key: passthroughKey(credential),
          kind: 'vcenter',
          name: presented.username,
          // The gateway adds no restriction of its own: vCenter's permissions decide.
          roles: new Set(['viewer', 'operator']),
          credential,
          address,
        };
      }
      case 'jwt': {
        if (presented.scheme !== 'bearer') {
          throw unauthenticated(presented.scheme === 'none' ? 'malformed_authorization' : 'unsupported_scheme', MISSING_BEARER);
        }
        const caller = await this.deps.bearer!.authenticate(presented.token);
        return { ...caller, address };
      }
    }
  }

  async close(): Promise<void> {
    await this.deps.bearer?.close?.();
  }
}
