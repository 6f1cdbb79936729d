import { describe, expect, it } from "vitest";
import { parsePrometheusText } from "../src/prometheus-text.js";

// The console reads every process's /metrics itself (no Prometheus in a
// development mesh): just the samples, as prom-client writes them.

describe("parsePrometheusText", () => {
  it("reads each sample's name, labels and value, skipping # HELP and # TYPE", () => {
    const text = [
      "# HELP grpc_server_handled_total RPCs completed on the server, by status code.",
      "# TYPE grpc_server_handled_total counter",
      'grpc_server_handled_total{grpc_type="unary",grpc_service="bazaar.catalog.v1.CatalogService",grpc_method="GetProduct",grpc_code="OK"} 42',
      "process_resident_memory_bytes 73400320",
      "",
    ].join("\n");
    expect(parsePrometheusText(text)).toEqual([
      {
        name: "grpc_server_handled_total",
        labels: { grpc_type: "unary", grpc_service: "bazaar.catalog.v1.CatalogService", grpc_method: "GetProduct", grpc_code: "OK" },
        value: 42,
      },
      { name: "process_resident_memory_bytes", labels: {}, value: 73400320 },
    ]);
  });

  it("reads +Inf as a bucket bound and as a value, and fractions and exponents as numbers", () => {
    const text = [
      'grpc_server_handling_seconds_bucket{le="0.005",grpc_method="GetProduct"} 3',
      'grpc_server_handling_seconds_bucket{le="+Inf",grpc_method="GetProduct"} 7',
      "grpc_server_handling_seconds_sum 0.0123",
      "nodejs_heap_space_size_total_bytes 1.5e+6",
      "some_gauge +Inf",
    ].join("\n");
    expect(parsePrometheusText(text)).toEqual([
      { name: "grpc_server_handling_seconds_bucket", labels: { le: "0.005", grpc_method: "GetProduct" }, value: 3 },
      { name: "grpc_server_handling_seconds_bucket", labels: { le: "+Inf", grpc_method: "GetProduct" }, value: 7 },
      { name: "grpc_server_handling_seconds_sum", labels: {}, value: 0.0123 },
      { name: "nodejs_heap_space_size_total_bytes", labels: {}, value: 1_500_000 },
      { name: "some_gauge", labels: {}, value: Infinity },
    ]);
  });

  it("unescapes quotes, backslashes and newlines in label values, with commas and braces kept as they are", () => {
    const text = String.raw`http_server_requests_total{route="say \"hi\"",path="C:\\temp\\",note="two\nlines",odd="a,b} c",code="200"} 5`;
    expect(parsePrometheusText(text)).toEqual([
      {
        name: "http_server_requests_total",
        labels: { route: 'say "hi"', path: "C:\\temp\\", note: "two\nlines", odd: "a,b} c", code: "200" },
        value: 5,
      },
    ]);
  });

  it("ignores a timestamp after the value, and Windows line ends", () => {
    expect(parsePrometheusText('up{job="orders"} 1 1700000000000\r\nother 2\r\n')).toEqual([
      { name: "up", labels: { job: "orders" }, value: 1 },
      { name: "other", labels: {}, value: 2 },
    ]);
  });

  it("takes an empty label set as no labels", () => {
    expect(parsePrometheusText("nats_up{} 1")).toEqual([{ name: "nats_up", labels: {}, value: 1 }]);
  });

  it("skips malformed lines and keeps reading the ones after them", () => {
    const text = [
      "just_a_name",
      "9starts_with_a_digit 1",
      'unterminated{le="1" 2',
      "not_a_number abc",
      "{no_name} 3",
      "   ",
      "good 4",
    ].join("\n");
    expect(parsePrometheusText(text)).toEqual([{ name: "good", labels: {}, value: 4 }]);
  });

  it("reads nothing from an empty text", () => {
    expect(parsePrometheusText("")).toEqual([]);
  });
});
