/**
 * The audit trail of what callers changed: one record per mutation, written to its own sink
 * (by default a dedicated JSON-lines logger, `"log":"audit"`), never with a secret in it.
 */
import type { Caller } from '../auth/caller.ts';
import type { Logger } from '../log.ts';

export interface AuditOutcome {
  vcenter: string;
  /** Host MoID, or the scan's task MoID for a cancel. */
  target: string;
  /** The started task (scans), when one was started. */
  task?: string;
  /** `OK`, or the code the caller got for this target. */
  result: string;
}

export interface AuditRecord {
  time: string;
  caller: { kind: Caller['kind']; name: string; address?: string };
  operation: string;
  /** What the caller asked for (IDs as given). */
  targets: string[];
  outcomes: AuditOutcome[];
  /** Depot URLs without their query strings (which may carry signed tokens). */
  depots?: string[];
}

export type AuditSink = (record: AuditRecord) => void;

export function loggerAuditSink(logger: Logger): AuditSink {
  const audit = logger.child({ log: 'audit' });
  return (record) => audit.info('audit', { ...record });
}

export function auditRecord(caller: Caller, operation: string, targets: string[], outcomes: AuditOutcome[], depots?: readonly string[]): AuditRecord {
  const record: AuditRecord = {
    time: new Date().toISOString(),
    caller: { kind: caller.kind, name: caller.name, ...(caller.address ? { address: caller.address } : {}) },
    operation,
    targets,
    outcomes,
  };
  if (depots) record.depots = depots.map((url) => url.split('?')[0]!.split('#')[0]!);
  return record;
}
