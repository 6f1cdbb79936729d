import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { DomainError, type ErrorKind, dependencyUnavailable, invalid } from "../src/errors.js";
import { fieldViolationsOf, fromDownstream, RETRY_PUSHBACK_KEY, toStatus } from "../src/grpc/status.js";

// Where domain errors meet gRPC: a kind becomes its status once, at the server's
// edge, and a downstream's status becomes a kind again at the client's.

describe("toStatus", () => {
  it.each<[ErrorKind, keyof typeof status]>([
    ["invalid", "INVALID_ARGUMENT"],
    ["not-found", "NOT_FOUND"],
    ["conflict", "ABORTED"],
    ["precondition-failed", "FAILED_PRECONDITION"],
    ["unavailable", "UNAVAILABLE"],
    ["timed-out", "DEADLINE_EXCEEDED"],
    ["cancelled", "CANCELLED"],
  ])("answers %s as %s, with the message", (kind, code) => {
    const answered = toStatus(new DomainError(kind, "what happened"));
    expect(answered).toMatchObject({ code: status[code], details: "what happened" });
    expect(answered.metadata?.get(RETRY_PUSHBACK_KEY)).toEqual([]);
  });

  it("carries field violations, and tells callers not to retry a dependency already retried", () => {
    const bad = toStatus(invalid([{ field: "items[0].quantity", description: "must be at least 1" }]));
    expect(fieldViolationsOf({ metadata: bad.metadata! })).toEqual([{ field: "items[0].quantity", description: "must be at least 1" }]);
    expect(toStatus(dependencyUnavailable("payments is unavailable")).metadata?.get(RETRY_PUSHBACK_KEY)).toEqual(["-1"]);
  });
});

describe("fromDownstream", () => {
  const serviceError = (code: status, details: string): ServiceError =>
    Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata: new Metadata() });

  it.each<[keyof typeof status, ErrorKind]>([
    ["NOT_FOUND", "not-found"],
    ["FAILED_PRECONDITION", "precondition-failed"],
    ["INVALID_ARGUMENT", "invalid"],
    ["DEADLINE_EXCEEDED", "timed-out"],
    ["UNAVAILABLE", "unavailable"],
    ["INTERNAL", "unavailable"],
    ["UNKNOWN", "unavailable"],
    ["RESOURCE_EXHAUSTED", "unavailable"],
    ["UNIMPLEMENTED", "unavailable"],
    ["CANCELLED", "unavailable"],
  ])("maps a dependency's %s to %s", (code, kind) => {
    const mapped = fromDownstream(serviceError(status[code], "something happened"), "payments");
    expect(mapped).toBeInstanceOf(DomainError);
    expect(mapped.kind).toBe(kind);
  });

  it("keeps the dependency's reason for the client's own mistakes", () => {
    expect(fromDownstream(serviceError(status.FAILED_PRECONDITION, "card declined: insufficient funds"), "payments").message).toBe(
      "card declined: insufficient funds",
    );
    expect(fromDownstream(serviceError(status.NOT_FOUND, "product nope-nope not found"), "catalog").message).toBe("product nope-nope not found");
  });

  it("names the dependency that was down or slow, never its own details, and says not to retry it", () => {
    expect(fromDownstream(serviceError(status.DEADLINE_EXCEEDED, "Deadline exceeded"), "payments").message).toBe("payments did not answer in time");
    const down = fromDownstream(serviceError(status.UNAVAILABLE, "No connection established. Last error: connect ECONNREFUSED 10.0.0.7:50052"), "inventory");
    expect(down.message).toBe("inventory is unavailable");
    expect(down.retry).toBe("never");
  });

  it("passes a DomainError through unchanged", () => {
    const error = new DomainError("precondition-failed", "mixed currencies");
    expect(fromDownstream(error, "catalog")).toBe(error);
  });
});
