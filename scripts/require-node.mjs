// Stops at once, with one line, when this Node.js is older than package.json's
// "engines" allow: better than a stack trace from a dependency halfway through
// `npm ci` or a test run. Plain JavaScript with no imports beyond node:fs, so it
// runs on any Node old enough to be the problem.
import { readFileSync } from "node:fs";

const wanted = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).engines.node;
const found = process.versions.node;

/** "22.15.0" → [22, 15, 0] */
function parse(version) {
  return version.split(".").map(Number);
}

function compare(a, b) {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

/** The two comparators engines uses here: "^22.15.0" (that major, at least) and ">=24.0.0". */
function satisfies(version, comparator) {
  const match = /^(\^|>=)(\d+\.\d+\.\d+)$/.exec(comparator.trim());
  if (!match) throw new Error(`scripts/require-node.mjs does not understand engines.node "${comparator}"`);
  const floor = parse(match[2]);
  if (match[1] === ">=") return compare(version, floor) >= 0;
  return version[0] === floor[0] && compare(version, floor) >= 0;
}

if (!wanted.split("||").some((comparator) => satisfies(parse(found), comparator))) {
  const recommended = readFileSync(new URL("../.nvmrc", import.meta.url), "utf8").trim();
  console.error(
    `Bazaar needs Node.js ${wanted} (${recommended} LTS recommended), but ${process.execPath} is v${found}: ` +
      `install Node ${recommended} (\`nvm install\` reads .nvmrc, or https://nodejs.org) and put it first on PATH.`,
  );
  process.exit(1);
}
