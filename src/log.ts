/**
 * Structured JSON-lines logging on pino. Call sites see the small `Logger` interface below;
 * every record passes through `redact` (secret-looking keys at any depth) and pino's own
 * redaction paths, so a password, session id or Authorization header handed to the logger by
 * mistake never reaches the output. A line logged while an operation runs carries its
 * request id (see operation-context.ts).
 */
import { pino } from 'pino';
import type { Logger as PinoLogger } from 'pino';
import { currentOperation } from './operation-context.ts';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const LEVELS: ReadonlySet<string> = new Set<LogLevel>(LOG_LEVELS);

const SECRET_KEY = /pass(word)?|secret|token|authorization|session[-_]?id|cookie/i;

export const REDACTED = '[redacted]';

/**
 * pino's redaction (fast-redact) covers fixed paths only; `redact()` covers any depth. Both run:
 * the paths also guard values that reach pino without passing through this module's wrapper.
 */
const REDACT_PATHS = [
  'password', '*.password', 'token', '*.token', 'authorization', '*.authorization', 'cookie', '*.cookie',
  'sessionId', '*.sessionId', 'headers.authorization', 'headers.cookie', '*.headers.authorization', '*.headers.cookie',
  'headers["vmware-api-session-id"]', '*.headers["vmware-api-session-id"]',
];

/** Deep-copies `value`, replacing every value stored under a secret-looking key. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return { name: value.name, message: value.message, stack: value.stack };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) && v !== undefined && v !== null ? REDACTED : redact(v, depth + 1);
  }
  return out;
}

/**
 * A URL for the logs: the query string and fragment replaced (signed depot URLs carry their
 * signature or token there), user-info dropped. Anything that does not parse is kept out whole.
 */
export function redactUrlQuery(raw: string): string {
  if (!URL.canParse(raw)) return REDACTED;
  const url = new URL(raw);
  url.username = '';
  url.password = '';
  const query = url.search ? `?${REDACTED}` : '';
  const fragment = url.hash ? `#${REDACTED}` : '';
  url.search = '';
  url.hash = '';
  return `${url.href}${query}${fragment}`;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go (one JSON object per call, no trailing newline); defaults to stderr. Tests pass a collector. */
  write?: (line: string) => void;
  bindings?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const wanted = options.level ?? process.env['LOG_LEVEL'];
  const level = wanted && LEVELS.has(wanted) ? wanted : 'info';
  const write = options.write;
  const destination = write
    ? { write: (chunk: string) => write(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk) }
    // Synchronous: the last lines before process.exit (a failed start, a shutdown) are not lost.
    : pino.destination({ dest: 2, sync: true });
  const root = pino(
    {
      level,
      base: null,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
    },
    destination,
  );
  const bindings = options.bindings ?? {};
  return wrap(() => (Object.keys(bindings).length ? root.child(redact(bindings) as Record<string, unknown>) : root), new Set(Object.keys(bindings)));
}

/**
 * `bound`: the keys this logger's bindings (its own and its parents') already write. pino
 * writes a field given at the call site as well as the bound one, and a line with a key twice
 * (`"vcenter":"a","vcenter":"a"`) is rejected or mangled by strict log pipelines, so a call-site
 * field under a bound key is dropped: the logger's context names it. The same holds for the
 * running operation's request id.
 * `target` is made on the first line actually written: every operation gets a child logger
 * and most never write through it, so building pino's child (and redacting its bindings) per
 * request was wasted work. A child writes at its parent's level, so the parent answers the
 * level check until then.
 */
function wrap(make: () => PinoLogger, bound: ReadonlySet<string>, levelOf?: PinoLogger): Logger {
  let target: PinoLogger | undefined = levelOf ? undefined : make();
  const resolve = (): PinoLogger => (target ??= make());
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (!(target ?? levelOf!).isLevelEnabled(level)) return;
    const record = (fields ? redact(fields) : {}) as Record<string, unknown>;
    for (const key of bound) delete record[key];
    if (!bound.has('requestId') && record['requestId'] === undefined) {
      const operation = currentOperation();
      if (operation) record['requestId'] = operation.requestId;
    }
    resolve()[level](record, msg);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (b) => {
      const parent = target ?? levelOf!;
      return wrap(() => resolve().child(redact(b) as Record<string, unknown>), new Set([...bound, ...Object.keys(b)]), parent);
    },
  };
}

/** A logger that drops everything; the default for library code used without one. */
export const silentLogger: Logger = wrap(() => pino({ level: 'silent' }), new Set());
