import { existsSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { SERVICE_NODE_FLAGS } from "@bazaar/runtime/process";
import { POLICY_FILE } from "@bazaar/shop/identities";
import { readRepoFile, ROOT } from "./support/deploy.js";

/**
 * No Docker engine here, so the Dockerfile is checked by reading it: it builds with
 * the same npm scripts CI runs, installs every workspace, ships only production
 * dependencies and compiled code, and runs node as PID 1 as a non-root user.
 */
interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, " ").split("\n").map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [keyword, ...rest] = line.split(/\s+/);
    const args = rest.join(" ");
    if (keyword!.toUpperCase() === "FROM") {
      const [from, as, name] = args.split(/\s+/);
      stages.push({ from: from!, ...(as?.toUpperCase() === "AS" ? { name: name! } : {}), instructions: [] });
    } else stages.at(-1)!.instructions.push({ keyword: keyword!.toUpperCase(), args });
  }
  return stages;
}

const stages = parseDockerfile(readRepoFile("Dockerfile"));
const stage = (name: string) => stages.find((candidate) => candidate.name === name)!;
const runs = (of: Stage) => of.instructions.filter((instruction) => instruction.keyword === "RUN").map((instruction) => instruction.args);
const final = stages.at(-1)!;
const workspaces = ["gen", "lib", ...readdirSync(join(ROOT, "services")).filter((name) => existsSync(join(ROOT, "services", name, "package.json"))).map((name) => `services/${name}`)];

describe("Dockerfile", () => {
  it("starts every stage from the slim image of the Node .nvmrc names (the LTS CI tests on)", () => {
    const major = readRepoFile(".nvmrc").trim();
    for (const { from } of stages) expect(from === "build" || new RegExp(`^node:${major}(\\.[\\d.]+)?-[a-z]+-slim$`).test(from), from).toBe(true);
  });

  it("builds with the scripts CI runs: npm ci, npm run gen, npm run build", () => {
    const scripts = (JSON.parse(readRepoFile("package.json")) as { scripts: Record<string, string> }).scripts;
    expect(scripts.gen).toContain("buf generate");
    // Every package, each service found by its folder (compiled, then bundled): a new service needs no line here.
    expect(scripts.build).toBe("tsc -b gen lib shop services/* && tsx scripts/bundle.ts");
    // CI: .ci/run does `npm ci` then `make test`, whose build target runs the same two scripts.
    expect(readRepoFile(".ci/run")).toMatch(/^npm ci\b/m);
    expect(readRepoFile("Makefile")).toMatch(/^\tnpm run -s gen$/m);
    expect(readRepoFile("Makefile")).toMatch(/^\tnpm run -s build$/m);
    const build = runs(stage("build")).join(" && ").split(/\s*&&\s*/);
    expect(build.map((command) => command.replace(/ --no-audit --no-fund$/, ""))).toEqual(["npm ci", "npm run gen", "npm run build"]);
  });

  it("installs every workspace, in the build and in the production dependencies", () => {
    for (const name of ["build", "prod-deps"]) {
      const copies = stage(name).instructions.filter((instruction) => instruction.keyword === "COPY").map((instruction) => instruction.args);
      for (const workspace of workspaces) expect(copies, `${name}: ${workspace}`).toContain(`${workspace}/package.json ${workspace}/`);
    }
    expect(runs(stage("prod-deps"))).toEqual(["npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund"]);
  });

  it("ships compiled code and the files it reads at run time, not sources", () => {
    const assemble = runs(stage("assemble")).join(" ");
    for (const path of ["gen/dist", "gen/descriptors.binpb", "lib/dist", "lib/migrations", "services/$SERVICE/dist", "services/$SERVICE/migrations", "scripts/healthcheck.mjs"]) expect(assemble).toContain(path);
    // The authorization policy where the runtime looks by default: /out is /app, laid out as the repository.
    expect(relative(ROOT, POLICY_FILE)).toBe("deploy/authz-policy.yaml");
    expect(assemble).toContain("cp deploy/authz-policy.yaml /out/deploy/");
    expect(assemble).not.toMatch(/\bsrc\b/);
    const copies = final.instructions.filter((instruction) => instruction.keyword === "COPY").map((instruction) => instruction.args);
    expect(copies).toEqual(["--from=prod-deps /src/node_modules /app/node_modules", "--from=assemble /out /app"]);
  });

  it("runs node as PID 1 with the services' node flags, as a non-root user, stopped by SIGTERM, health-checked by scripts/healthcheck.mjs", () => {
    const last = (keyword: string) => final.instructions.filter((instruction) => instruction.keyword === keyword).at(-1)?.args;
    expect(last("USER")).toMatch(/^[1-9]\d*(:\d+)?$/);
    expect(last("STOPSIGNAL")).toBe("SIGTERM");
    expect(JSON.parse(last("CMD")!)).toEqual(["node", ...SERVICE_NODE_FLAGS, "dist/main.bundle.js"]);
    expect(last("ENTRYPOINT")).toBeUndefined();
    expect(last("HEALTHCHECK")).toMatch(/CMD \["node", "\/app\/scripts\/healthcheck\.mjs"\]$/);
    expect(last("WORKDIR")).toBe("/app/services/${SERVICE}");
  });

  it("keeps host build output and state out of the build context", () => {
    const ignored = readRepoFile(".dockerignore").split("\n").map((line) => line.trim());
    for (const pattern of ["**/node_modules", "**/dist", "gen/src", "gen/descriptors.binpb", ".data", ".run"]) expect(ignored).toContain(pattern);
    // Private keys (`make certs`) never reach a build context, let alone an image layer.
    expect(ignored).toContain("certs");
    // deploy/ is left out but for the policy the image ships (the last matching line wins).
    expect(ignored).not.toContain("deploy");
    expect(ignored.indexOf("!deploy/authz-policy.yaml")).toBeGreaterThan(ignored.indexOf("deploy/*"));
    expect(ignored.indexOf("deploy/*")).toBeGreaterThanOrEqual(0);
  });
});
