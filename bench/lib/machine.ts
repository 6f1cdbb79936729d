import { cpus, loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";

/** What the figures were measured on: they mean little without it. */
export interface Machine {
  cores: number;
  cpuModel: string;
  node: string;
  date: string;
  /** 1, 5 and 15 minute load averages; other engineers' tests share the machine. */
  loadAverage: number[];
}

export function describeMachine(): Machine {
  const all = cpus();
  return {
    cores: all.length,
    cpuModel: all[0]?.model.trim() ?? "unknown",
    node: process.version,
    date: new Date().toISOString(),
    loadAverage: loadavg().map((value) => Math.round(value * 100) / 100),
  };
}

export const loadNow = (): number[] => loadavg().map((value) => Math.round(value * 100) / 100);

export interface QuietOptions {
  /** The 1-minute load average to wait under. */
  below: number;
  /** The longest wait; past it the measurement runs anyway, its load recorded beside it. */
  maxMs: number;
  pollMs?: number;
  /** The 1-minute load average now (os.loadavg by default). */
  load?: () => number;
}

/**
 * Wait until the machine is quiet: its 1-minute load average under `below`, or
 * `maxMs` has passed. The average decays over about a minute, so the processes
 * of the measurement before, although stopped, still count in it for a while,
 * as does other work on a shared machine; a measurement that starts at once
 * would share the cores with what the figure says nothing about. Returns the
 * milliseconds waited.
 */
export async function waitForQuiet({ below, maxMs, pollMs = 5000, load = () => loadavg()[0]! }: QuietOptions): Promise<number> {
  const began = Date.now();
  while (load() >= below && Date.now() - began < maxMs) await sleep(Math.min(pollMs, Math.max(0, maxMs - (Date.now() - began))));
  return Date.now() - began;
}
