import { describe, expect, it } from "vitest";
import { bufBreaking, duplicateSubjects, explainBufFailure, findBaseline, subjectChanges } from "./support/compatibility.js";
import { buildDescriptorSet, currentRegistry, registryOf } from "./support/descriptors.js";
import { loadConsumers } from "./support/expectations.js";

// Wire compatibility of proto/ against the baseline (main, or CONTRACT_BASELINE):
// buf breaking with buf.yaml's WIRE_JSON rules, plus changed event subjects,
// which buf cannot see. Every failure names the file, the field and who depends on it.

const baseline = findBaseline();
const consumers = loadConsumers();
const skipped = "skip" in baseline ? baseline.skip : undefined;
const against = "input" in baseline ? baseline.label : "";

/** Fail with one readable line per problem (vitest would otherwise print an array diff). */
function expectNone(problems: string[], headline: string): void {
  if (problems.length > 0) throw new Error(`${headline}:\n  ${problems.join("\n  ")}`);
  expect(problems).toEqual([]);
}

describe("wire compatibility", () => {
  it.skipIf(skipped)(`buf breaking against ${against || `a baseline (skipped: ${skipped})`}`, () => {
    if (!("input" in baseline)) return;
    const failures = bufBreaking(baseline.input).map((failure) => explainBufFailure(failure, consumers, currentRegistry()));
    expectNone(failures, `proto/ breaks the wire contract of ${baseline.label} (buf breaking, WIRE_JSON)`);
  });

  it.skipIf(skipped)(`every event keeps the subject it had on ${against || `the baseline (skipped: ${skipped})`}`, () => {
    if (!("input" in baseline)) return;
    const before = registryOf(buildDescriptorSet(baseline.input));
    expectNone(subjectChanges(before, currentRegistry(), consumers), `event subjects changed since ${baseline.label}`);
  });

  it("each event subject is carried by exactly one message type", () => {
    expectNone(duplicateSubjects(currentRegistry()), "ambiguous event subjects");
  });
});
