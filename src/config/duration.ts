const UNIT_SECONDS = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 } as const;

/** Durations such as `900`, `15m`, `12h`, `30d` (seconds when unit-less): what env validation accepts. */
export const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)?$/;

/** Parses `900`, `15m`, `12h`, `60d` into whole seconds (unit-less means seconds). */
export function parseDurationSeconds(value: string): number {
  const match = DURATION_PATTERN.exec(value.trim());
  if (!match) throw new Error(`Not a duration: ${value}`);
  const unit = (match[2] ?? 's') as keyof typeof UNIT_SECONDS;
  return Math.max(1, Math.floor(Number(match[1]) * UNIT_SECONDS[unit]));
}
