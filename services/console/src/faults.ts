import { type FaultKind, isFaultKind, SLOW_FAULT_DELAY_MS } from "@bazaar/runtime/faults";
import { type Answer, ConsoleInputError } from "./answer.js";

/** The faults the page offers: which service, which fault, in words. */
export const OFFERED_FAULTS: ReadonlyArray<{ service: string; kind: FaultKind; label: string }> = [
  { service: "payments", kind: "slow", label: `payments answers slowly (${SLOW_FAULT_DELAY_MS / 1000} s a call)` },
  { service: "payments", kind: "fail", label: "payments fails every call (UNAVAILABLE)" },
  { service: "inventory", kind: "slow", label: `inventory answers slowly (${SLOW_FAULT_DELAY_MS / 1000} s a call)` },
  { service: "notifications", kind: "pause-consumers", label: "notifications stops consuming events" },
  { service: "inventory", kind: "pause-consumers", label: "inventory stops consuming events" },
];

export interface ActiveFault {
  service: string;
  kind: FaultKind;
  secondsLeft: number;
}

/**
 * Faults switched on and off through each service's admin port (/faults, which
 * a service has only with BAZAAR_FAULTS=1 in development mode; lib/src/faults.ts).
 * Each expires by itself; the console keeps no state of its own about them.
 */
export class FaultSwitch {
  constructor(
    private readonly enabled: boolean,
    private readonly admin: Record<string, string>,
  ) {}

  describe(active: ActiveFault[]): unknown {
    return {
      enabled: this.enabled,
      hint: this.enabled ? "" : "faults are off: start the mesh with `make up FAULTS=1` to switch them on from here",
      available: this.enabled ? OFFERED_FAULTS : [],
      active,
    };
  }

  /** What is switched on now, service by service (a service that does not answer has none listed). */
  async active(): Promise<ActiveFault[]> {
    if (!this.enabled) return [];
    const services = [...new Set(OFFERED_FAULTS.map((fault) => fault.service))];
    const lists = await Promise.all(
      services.map(async (service) => {
        const answer = await this.request(service, "GET", "/faults").catch(() => undefined);
        const active = (answer?.body as { active?: Array<{ kind: FaultKind; secondsLeft: number }> } | undefined)?.active ?? [];
        return active.map((fault) => ({ service, ...fault }));
      }),
    );
    return lists.flat();
  }

  async switchOn(service: string, kind: string, body: unknown): Promise<Answer> {
    this.check(service, kind);
    const seconds = (typeof body === "object" && body !== null ? (body as { seconds?: unknown }).seconds : undefined) ?? 60;
    return this.request(service, "PUT", `/faults/${kind}`, { seconds });
  }

  async switchOff(service: string, kind: string): Promise<Answer> {
    this.check(service, kind);
    return this.request(service, "DELETE", `/faults/${kind}`);
  }

  private check(service: string, kind: string): void {
    if (!this.enabled) throw new ConsoleInputError("faults are off: start the mesh with `make up FAULTS=1`");
    if (!isFaultKind(kind) || !OFFERED_FAULTS.some((fault) => fault.service === service && fault.kind === kind)) {
      throw new ConsoleInputError(`no such fault: ${service}/${kind}; offered: ${OFFERED_FAULTS.map((fault) => `${fault.service}/${fault.kind}`).join(", ")}`);
    }
  }

  private async request(service: string, method: string, path: string, body?: unknown): Promise<Answer> {
    const address = this.admin[service];
    if (address === undefined) throw new ConsoleInputError(`the console was not told where ${service}'s admin port is (MESH_ADMIN_ADDRS)`);
    const response = await fetch(`http://${address}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(2_000),
    });
    const answer = (await response.json().catch(() => ({}))) as { error?: unknown };
    // The admin port's errors are {"error": "..."}; the page reads {"error": {"message"}} as from the gateway.
    return { status: response.status, body: typeof answer.error === "string" ? { error: { message: answer.error } } : answer };
  }
}
