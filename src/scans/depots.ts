/**
 * Which depots a patch scan may point ESXi hosts at. A scan makes every host fetch every
 * metadata URL, from inside the datacenter: without a policy, any client could make hosts
 * reach any address their network reaches (loopback, the management network, cloud metadata
 * services). The operator lists depot URL prefixes; a URL is accepted only when the exact
 * string that will be sent starts with one of them.
 */
export interface DepotPolicyOptions {
  /** URL prefixes of allowed depots, e.g. "https://depot.example/esxi/" (folders end with "/"). */
  allow?: readonly string[];
  /** Clients may set options.cmdOption (arguments for the host's patch tool). */
  allowCmdOption?: boolean;
  /** Clients may set options.proxy (where hosts connect for the depot). */
  allowProxy?: boolean;
  /** Bound on hosts × metadata URLs of one call (each is one fetch by one host). */
  maxFetchesPerCall?: number;
}

export const DEFAULT_MAX_DEPOT_FETCHES = 400;

export type DepotRefusal = { reason: string };

/**
 * A string as the WHATWG URL parser would write it back; null when it does not parse. The
 * check runs on the client's own string, so it must already be in this form: anything the
 * parser would rewrite (whitespace, CR/LF, backslashes, "..", percent-encoded dots, case of
 * the host) could mean one URL to this check and another to the host that fetches it.
 */
function canonical(raw: string): URL | null {
  if (!URL.canParse(raw)) return null;
  const url = new URL(raw);
  return url.href === raw ? url : null;
}

export class DepotPolicy {
  readonly allowCmdOption: boolean;
  readonly allowProxy: boolean;
  readonly maxFetchesPerCall: number;
  private readonly prefixes: readonly URL[];

  /** Throws on a prefix that is not an absolute http(s) URL without credentials. */
  constructor(options: DepotPolicyOptions = {}) {
    this.allowCmdOption = options.allowCmdOption === true;
    this.allowProxy = options.allowProxy === true;
    this.maxFetchesPerCall = options.maxFetchesPerCall ?? DEFAULT_MAX_DEPOT_FETCHES;
    this.prefixes = (options.allow ?? []).map((prefix) => {
      if (!URL.canParse(prefix)) throw new Error(`depot prefix ${JSON.stringify(prefix)} is not a URL`);
      const url = new URL(prefix);
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`depot prefix ${JSON.stringify(prefix)} must be http(s)`);
      if (url.username || url.password) throw new Error(`depot prefix ${JSON.stringify(prefix)} must not carry credentials`);
      if (url.search || url.hash) throw new Error(`depot prefix ${JSON.stringify(prefix)} must not have a query or fragment`);
      // Written back by the parser: a bare origin gains its "/", so "https://depot.example"
      // cannot admit "https://depot.example.evil.net/".
      return url;
    });
  }

  /** The allowed prefixes as compared (canonical form). */
  get allowed(): string[] {
    return this.prefixes.map((p) => p.href);
  }

  /** Undefined when hosts may fetch `raw` as it is; otherwise why not. */
  refusal(raw: string): DepotRefusal | undefined {
    const url = canonical(raw);
    if (!url) {
      return { reason: 'Depot URLs must be absolute and written canonically (no spaces, control characters, backslashes or dot segments)' };
    }
    if (url.username || url.password) return { reason: 'Depot URLs must not carry credentials: use options.userName and options.password' };
    // Every prefix holds an origin and its "/": a match names the listed host itself, so
    // loopback, private and link-local addresses are reached only when listed as such.
    if (!this.prefixes.some((p) => raw.startsWith(p.href))) return { reason: "This depot is not on the gateway's depot allowlist" };
    return undefined;
  }
}

/** What a failed scan's fault says about the depot, in the gateway's own words. */
export type DepotFailure = 'DEPOT_NOT_FOUND' | 'DEPOT_UNREACHABLE' | 'DEPOT_TLS_ERROR' | 'DEPOT_UNSUPPORTED_URL' | 'DEPOT_ERROR';

const DEPOT_SUMMARIES: Record<DepotFailure, string> = {
  DEPOT_NOT_FOUND: 'The depot has no metadata at that URL (HTTP 404).',
  DEPOT_UNREACHABLE: 'The host could not reach the depot (name resolution, connection or timeout).',
  DEPOT_TLS_ERROR: "The host refused the depot's TLS certificate.",
  DEPOT_UNSUPPORTED_URL: 'The host cannot fetch a URL of that kind.',
  DEPOT_ERROR: 'The host could not read the depot metadata.',
};

/**
 * Classifies the text of a PlatformConfigFault a host raised for a depot. The text itself is
 * not passed on: hosts quote the URL they fetched (signed URLs, tokens) and their own errors.
 */
export function summarizeDepotFault(text: string): { code: DepotFailure; message: string } {
  const t = text.toLowerCase();
  const code: DepotFailure = /\b404\b|not found/.test(t) && !/name or service not known/.test(t)
    ? 'DEPOT_NOT_FOUND'
    : /certificate|ssl|tls/.test(t)
      ? 'DEPOT_TLS_ERROR'
      : /unknown url type|offline bundle|not supported/.test(t)
        ? 'DEPOT_UNSUPPORTED_URL'
        : /name or service not known|errno|timed out|connection|unreachable|refused/.test(t)
          ? 'DEPOT_UNREACHABLE'
          : 'DEPOT_ERROR';
  return { code, message: DEPOT_SUMMARIES[code] };
}
