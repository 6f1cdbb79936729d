// `make contract`, first half: buf breaking (buf.yaml's WIRE_JSON rules) and the
// event-subject check against the baseline (main, or CONTRACT_BASELINE), with
// every failure naming the file, the field and the consumers that depend on it.
// The same checks run in test/contract/compatibility.test.ts; this prints them plainly.
import { bufBreaking, explainBufFailure, findBaseline, subjectChanges } from "../test/contract/support/compatibility.js";
import { buildDescriptorSet, currentRegistry, registryOf } from "../test/contract/support/descriptors.js";
import { loadConsumers } from "../test/contract/support/expectations.js";

const baseline = findBaseline();
if (!("input" in baseline)) {
  console.log(`contract: wire compatibility skipped: ${baseline.skip}`);
  process.exit(0);
}
const consumers = loadConsumers();
const problems = [
  ...bufBreaking(baseline.input).map((failure) => explainBufFailure(failure, consumers, currentRegistry())),
  ...subjectChanges(registryOf(buildDescriptorSet(baseline.input)), currentRegistry(), consumers),
];
if (problems.length === 0) {
  console.log(`contract: proto/ is wire compatible with ${baseline.label} (buf breaking WIRE_JSON, event subjects)`);
} else {
  console.error(`contract: proto/ breaks the contracts of ${baseline.label}:`);
  for (const problem of problems) console.error(`  ${problem}`);
  process.exit(1);
}
