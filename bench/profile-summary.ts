/**
 * Where the time goes in a V8 CPU profile (node --cpu-prof): self time by
 * function and by package, top N of each. Used to write bench/analysis.md.
 *
 * Usage: node --import tsx bench/profile-summary.ts <file.cpuprofile> [top=15]
 */
import { existsSync, readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
const top = Number(topArg) || 15;
const profile = JSON.parse(readFileSync(file!, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, index) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
// Idle time is waiting, not work: percentages are of the time the thread was busy.
for (const [id, us] of selfUs) if (byId.get(id)?.callFrame.functionName === "(idle)") { void us; selfUs.delete(id); }
const total = [...selfUs.values()].reduce((sum, us) => sum + us, 0);

/** "pino", "@grpc/grpc-js", "node:internal/http2", "lib" (our runtime), ... */
function packageOf(url: string): string {
  if (url === "") return "(native / V8)";
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  if (url.startsWith("node:")) return url.split("/").slice(0, 2).join("/");
  const ours = /\/(lib|services\/[^/]+|gen)\/(dist|src)\//.exec(url);
  return ours ? ours[1]! : url;
}

/**
 * A service runs as one bundle (scripts/bundle.ts): a frame in it is put back at
 * its source through the bundle's source map, so packages and our own code count apart.
 */
const sourceMaps = new Map<string, SourceMap | undefined>();
function sourceOf(frame: ProfileNode["callFrame"]): { url: string; lineNumber: number } {
  if (!frame.url.startsWith("file:")) return frame;
  if (!sourceMaps.has(frame.url)) {
    const mapFile = `${fileURLToPath(frame.url)}.map`;
    sourceMaps.set(frame.url, existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, "utf8"))) : undefined);
  }
  const entry = sourceMaps.get(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber);
  return entry && "originalSource" in entry ? { url: entry.originalSource, lineNumber: entry.originalLine } : frame;
}

const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
for (const [id, us] of selfUs) {
  const frame = { ...byId.get(id)!.callFrame, ...sourceOf(byId.get(id)!.callFrame) };
  const name = `${frame.functionName || "(anonymous)"} ${packageOf(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ""}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  byPackage.set(packageOf(frame.url), (byPackage.get(packageOf(frame.url)) ?? 0) + us);
}
const print = (title: string, map: Map<string, number>) => {
  console.log(`${title} (self time, ${(total / 1e6).toFixed(1)} s busy)`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`);
};
print("by package", byPackage);
print("by function", byFunction);
