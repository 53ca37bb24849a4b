// The per-client throttle on otpkit's routes: one count per client address
// across every throttled route, in fixed windows. In memory here (one
// process); the Throttle interface lets a shared store take its place.

interface Verdict {
  allowed: boolean;
  /** When the window ends, for Retry-After. */
  retryAfterSeconds: number;
}

interface Throttle {
  /** Counts one request of this client; refuses it past the limit. */
  hit(client: string): Promise<Verdict>;
}

/** Above this many clients tracked, expired windows are swept on the next hit (bounds memory under a spray of addresses). */
const SWEEP_ABOVE_CLIENTS = 10_000;

/**
 * `limit` requests per client per `windowMs`, counted in this process.
 *
 * @example const throttle = memoryThrottle({ limit: 120, windowMs: 60_000, now: clock }); // clock: () => Unix ms
 */
function memoryThrottle(options: { limit: number; windowMs: number; now: () => number }): Throttle {
  const { limit, windowMs, now } = options;
  const windows = new Map<string, { count: number; endsAt: number }>();
  return {
    async hit(client) {
      const at = now();
      if (windows.size > SWEEP_ABOVE_CLIENTS) {
        for (const [key, window] of windows) if (window.endsAt <= at) windows.delete(key);
      }
      let window = windows.get(client);
      if (!window || window.endsAt <= at) {
        window = { count: 0, endsAt: at + windowMs };
        windows.set(client, window);
      }
      window.count++;
      return { allowed: window.count <= limit, retryAfterSeconds: Math.max(1, Math.ceil((window.endsAt - at) / 1000)) };
    },
  };
}

export type { Throttle, Verdict };
export { memoryThrottle };
