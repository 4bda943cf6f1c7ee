/**
 * Structured JSON-lines logger. Every record passes through `redact`, so a password,
 * session id or Authorization header handed to the logger by mistake never reaches the output.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const SECRET_KEY = /pass(word)?|secret|token|authorization|session[-_]?id|cookie/i;

export const REDACTED = '[redacted]';

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
  /** Where lines go; defaults to stderr. Tests pass a collector. */
  write?: (line: string) => void;
  bindings?: Record<string, unknown>;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = LEVELS[options.level ?? (process.env.LOG_LEVEL as LogLevel) ?? 'info'] ?? LEVELS.info;
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const bindings = options.bindings ?? {};
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] < threshold) return;
    const record = redact({ time: new Date().toISOString(), level, msg, ...bindings, ...fields });
    write(JSON.stringify(record));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (b) => createLogger({ ...options, bindings: { ...bindings, ...b } }),
  };
}

/** A logger that drops everything; the default for library code used without one. */
export const silentLogger: Logger = createLogger({ write: () => {} });
