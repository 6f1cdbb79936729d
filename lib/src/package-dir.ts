import { createRequire } from "node:module";
import { dirname } from "node:path";

/**
 * The folder of package `name` (where its package.json is), found by the
 * package's name, not by a path relative to the calling module: the same
 * folder whether that module runs from its package's dist/, from its source
 * (the tests), or inside a service's bundle (scripts/bundle.ts), where every
 * module's import.meta.url is the bundle's. The package exports its
 * package.json for this.
 */
export function packageDir(name: string): string {
  return dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
}
