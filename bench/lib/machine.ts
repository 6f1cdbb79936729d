import { cpus, loadavg } from "node:os";

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
