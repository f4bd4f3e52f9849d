const UNIT_SECONDS = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 } as const;

/** Durations such as `900`, `15m`, `12h`, `30d` (seconds when unit-less): what env validation accepts. */
export const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)?$/;

/** Allowed range of a duration variable, in whole seconds, both ends included. */
export interface DurationBounds {
  min: number;
  max: number;
  /** Why the minimum: said in the message refusing a shorter value. */
  minReason: string;
}

const DAY = 86_400;

/**
 * JWT_ACCESS_TTL: 10 s to 1 day. Shorter, a token expires before a phone on a slow network has used
 * it (and `0` or `500ms` used to round to a useless 1 s); longer belongs to the refresh token.
 */
export const ACCESS_TTL_BOUNDS: DurationBounds = {
  min: 10,
  max: DAY,
  minReason: 'a shorter access token expires before a client on a slow network can use it',
};

/**
 * JWT_REFRESH_TTL: 1 hour to 10 years. Shorter signs every user out within the hour; far beyond,
 * the expiry date stops making sense, and past year 275760 it is no date at all (a `999999999d`
 * made every login and registration fail).
 */
export const REFRESH_TTL_BOUNDS: DurationBounds = {
  min: 3600,
  max: 3650 * DAY,
  minReason: 'a shorter sign-in ends before a user who is offline for a while comes back',
};

/**
 * PASSWORD_RESET_TTL: 5 minutes to 1 day. Shorter, the link can expire before a slow mail server
 * delivers it; longer, a link left in a mailbox stays a way into the account for days.
 */
export const PASSWORD_RESET_TTL_BOUNDS: DurationBounds = {
  min: 300,
  max: DAY,
  minReason: 'a shorter link can expire before the email arrives',
};

/** Parses `900`, `15m`, `12h`, `60d` into whole seconds (unit-less means seconds; `1500ms` is 1). */
export function parseDurationSeconds(value: string): number {
  const match = DURATION_PATTERN.exec(value.trim());
  if (!match) throw new Error(`Not a duration: ${value}`);
  const unit = (match[2] ?? 's') as keyof typeof UNIT_SECONDS;
  return Math.floor(Number(match[1]) * UNIT_SECONDS[unit]);
}

/** `15m`, `1d`, `3650d`, `10s`: the largest unit that divides the seconds, for messages. */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [['d', DAY], ['h', 3600], ['m', 60]] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/**
 * Why `value` is not an acceptable duration within `bounds`, or undefined when it is. A value is
 * taken exactly as written (no surrounding spaces), like every other variable.
 */
export function durationProblem(value: unknown, bounds: DurationBounds): 'format' | 'short' | 'long' | undefined {
  if (typeof value !== 'string' || !DURATION_PATTERN.test(value)) return 'format';
  const seconds = parseDurationSeconds(value);
  if (seconds < bounds.min) return 'short';
  if (seconds > bounds.max) return 'long';
  return undefined;
}
