import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { dependencyUnavailable, preconditionFailed, timedOut } from "../src/errors.js";
import { isTransient } from "../src/events/transient.js";

// Which failures a consumer waits out (redelivered for as long as they last) and
// which count toward dead-lettering the message.
const withCode = (message: string, code: string | number) => Object.assign(new Error(message), { code });

describe("a transient failure", () => {
  it.each([
    ["a refused connection", withCode("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED")],
    ["a reset connection", withCode("read ECONNRESET", "ECONNRESET")],
    ["the database shutting down (57P01)", withCode("terminating connection due to administrator command", "57P01")],
    ["too many connections (53300)", withCode("sorry, too many clients already", "53300")],
    ["a connection failure (08006)", withCode("connection failure", "08006")],
    ["a deadlock (40P01)", withCode("deadlock detected", "40P01")],
    ["a serialization failure (40001)", withCode("could not serialize access", "40001")],
    ["pg losing its connection", new Error("Connection terminated unexpectedly")],
    ["pg's pool timing out", new Error("timeout exceeded when trying to connect")],
    ["a dependency unavailable", dependencyUnavailable("payments is unavailable")],
    ["a dependency too slow", timedOut("payments did not answer in time")],
    ["a dependency's call unavailable (gRPC)", withCode("No connection established", status.UNAVAILABLE)],
    ["a dependency's call too slow (gRPC)", withCode("Deadline exceeded", status.DEADLINE_EXCEEDED)],
  ])("is %s", (_what, error) => {
    expect(isTransient(error)).toBe(true);
  });

  it.each([
    ["a bug", new TypeError("Cannot read properties of undefined")],
    ["a constraint violated (23505)", withCode("duplicate key value violates unique constraint", "23505")],
    ["a syntax error (42601)", withCode("syntax error at or near", "42601")],
    ["a rule that will not pass", preconditionFailed("payment was declined; there is nothing to refund")],
    ["a refusal of a dependency (gRPC)", withCode("card declined", status.FAILED_PRECONDITION)],
    ["not an error at all", "a string"],
  ])("is not %s", (_what, error) => {
    expect(isTransient(error)).toBe(false);
  });
});
