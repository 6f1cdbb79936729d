import { status } from "@grpc/grpc-js";
import { DomainError, PASSING_KINDS } from "../errors.js";

/**
 * Whether a handler's failure is the infrastructure's, worth waiting out, rather
 * than the message's: a refused or dropped connection, a database shutting down,
 * out of connections or resolving a deadlock, a dependency unavailable or slow.
 * Such a failure says nothing about the message, so it must never send it to
 * the dead letters: a six-second database blip would otherwise dead-letter the
 * refunds consumed meanwhile.
 */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof DomainError) return PASSING_KINDS.has(error.kind);
  const code: unknown = (error as { code?: unknown }).code;
  if (typeof code === "string" && (NETWORK_ERRORS.has(code) || TRANSIENT_SQLSTATE.test(code))) return true;
  if (typeof code === "number" && TRANSIENT_GRPC.has(code)) return true;
  // pg reports a connection it lost or could not get without a SQLSTATE.
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(error.message);
}

const NETWORK_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * SQLSTATEs of the server, not of the statement: connection exceptions (08),
 * insufficient resources (53), operator intervention such as a shutdown (57P01–57P04),
 * system errors (58), serialization failures and deadlocks (40001, 40P01), a lock not available (55P03).
 */
const TRANSIENT_SQLSTATE = /^(08...|53...|57P0[1-4]|58...|40001|40P01|55P03)$/;

const TRANSIENT_GRPC = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.RESOURCE_EXHAUSTED, status.ABORTED]);
