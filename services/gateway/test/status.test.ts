import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { invalid } from "@bazaar/runtime/errors";
import { toStatus } from "@bazaar/runtime/grpc/status";
import { describe, expect, it } from "vitest";
import { errorResponseOf, httpStatusOf, isServiceError } from "../src/status.js";

/** A failed call as a grpc-js client reports it. */
function serviceError(code: status, details: string, metadata = new Metadata()): ServiceError {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata });
}

describe("gRPC status → HTTP status", () => {
  it.each([
    [status.INVALID_ARGUMENT, 400],
    [status.OUT_OF_RANGE, 400],
    [status.UNAUTHENTICATED, 401],
    [status.PERMISSION_DENIED, 403],
    [status.NOT_FOUND, 404],
    [status.ALREADY_EXISTS, 409],
    [status.ABORTED, 409],
    [status.FAILED_PRECONDITION, 409],
    [status.RESOURCE_EXHAUSTED, 429],
    [status.UNAVAILABLE, 503],
    [status.DEADLINE_EXCEEDED, 504],
  ])("%s → %s", (code, http) => {
    expect(httpStatusOf(code)).toBe(http);
  });

  it.each([status.INTERNAL, status.UNKNOWN, status.DATA_LOSS, status.UNIMPLEMENTED, status.CANCELLED])(
    "%s is a downstream fault: 502",
    (code) => {
      expect(httpStatusOf(code)).toBe(502);
    },
  );
});

describe("error bodies", () => {
  it("carry the code name, the service's message and its field violations", () => {
    const sent = toStatus(invalid([{ field: "items[0].quantity", description: "must be between 1 and 100" }]));
    const error = serviceError(status.INVALID_ARGUMENT, sent.details!, sent.metadata);
    expect(errorResponseOf(error)).toEqual({
      status: 400,
      body: {
        error: {
          code: "INVALID_ARGUMENT",
          message: "items[0].quantity: must be between 1 and 100",
          field_violations: [{ field: "items[0].quantity", description: "must be between 1 and 100" }],
        },
      },
    });
  });

  it("leave field_violations out when there are none", () => {
    expect(errorResponseOf(serviceError(status.NOT_FOUND, "order x not found")).body).toEqual({
      error: { code: "NOT_FOUND", message: "order x not found" },
    });
  });

  it("do not pass a 5xx message through: it may name the mesh's insides", () => {
    const { status: http, body } = errorResponseOf(serviceError(status.UNAVAILABLE, "connect ECONNREFUSED 10.0.3.7:50053"));
    expect(http).toBe(503);
    expect(body.error.code).toBe("UNAVAILABLE");
    expect(body.error.message).not.toContain("10.0.3.7");
  });

  it("survive status details that do not decode", () => {
    const metadata = new Metadata();
    metadata.set("grpc-status-details-bin", Buffer.from([0x0a, 0xff, 0x01]));
    expect(errorResponseOf(serviceError(status.INVALID_ARGUMENT, "bad", metadata)).body.error).toEqual({ code: "INVALID_ARGUMENT", message: "bad" });
  });
});

describe("isServiceError", () => {
  it("tells a failed gRPC call from a bug", () => {
    expect(isServiceError(serviceError(status.NOT_FOUND, "x"))).toBe(true);
    expect(isServiceError(new TypeError("x is undefined"))).toBe(false);
    expect(isServiceError({ code: 5, details: "not an Error" })).toBe(false);
  });
});
