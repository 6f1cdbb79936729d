import { type Duration } from "@bazaar/gen/google/protobuf/duration";

/** Milliseconds as a google.protobuf.Duration (whole milliseconds; negative becomes zero). */
export function durationOfMs(ms: number): Duration {
  const whole = Math.max(0, Math.floor(ms));
  return { seconds: Math.floor(whole / 1000), nanos: (whole % 1000) * 1_000_000 };
}

/** A google.protobuf.Duration in milliseconds; unset is zero. */
export function msOfDuration(duration: Duration | undefined): number {
  return duration === undefined ? 0 : duration.seconds * 1000 + duration.nanos / 1_000_000;
}
