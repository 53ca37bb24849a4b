// Prometheus metrics (prom-client) for the standalone server: requests by
// route and status, latencies, second-step outcomes, lockouts, backup codes
// used, the password-hash queue, the database pool and the event loop.
// Every label value comes from a fixed set (route templates, methods,
// statuses, outcomes): never a URL, a username, an address or anything secret.

import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { watchHashGates } from '../service/passwords.js';
import type { AuditEvent } from '../store/store.js';
import { installErrorHandler } from './errors.js';

/** The route label of a request no route matched (a 404, a URL that does not decode): never the URL itself. */
const UNMATCHED = 'unmatched';

/** Seconds; from a second step (a few ms) to a sign-in whose password hash waited its turn (a second or more). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds; a hash at OWASP's scrypt parameters takes about 0.3 s, a wait up to a few of those. */
const HASH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The routes that check a second factor, by route template: the sign-in's second step and the step-up check. */
const SECOND_STEPS: ReadonlyMap<string, 'login' | 'step_up'> = new Map([
  ['/api/auth/login/verify', 'login'],
  ['/api/totp/validate', 'step_up'],
]);

/** A second step's error code, as its outcome; other codes (no challenge, bad body, an outage) are not outcomes. */
const OUTCOMES: Readonly<Record<string, string>> = {
  CODE_WRONG: 'wrong',
  CODE_REUSED: 'reused',
  CODE_MALFORMED: 'malformed',
  SECOND_FACTOR_LOCKED: 'locked',
};

/** A database pool's connections, and the requests waiting for one. */
interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

interface MetricsOptions {
  /** Seconds on a monotonic clock (main/ gives performance.now): times the password-hash queue. */
  nowSeconds: () => number;
  /** The database pool, read at each scrape; none (SQLite): no pool gauges. */
  pool?: () => PoolStats;
}

interface Metrics {
  readonly registry: Registry;
  /** Counts what audit events tell (lockouts started, backup codes used): give it every event. */
  observeEvent(event: AuditEvent): void;
  /** Adds the hooks that count requests, latencies and second-step outcomes (buildApp does). */
  instrument(app: FastifyInstance): void;
  /** Stops watching the password-hash gates. */
  close(): void;
}

/** The error code of a JSON error answer ({"error": {"code"}}), or undefined. */
function errorCode(payload: unknown): string | undefined {
  if (typeof payload !== 'string') return undefined;
  try {
    const code = (JSON.parse(payload) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  // process_* and nodejs_*: CPU, memory, handles, GC, and the event-loop delay (nodejs_eventloop_lag_*).
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const requests = new Counter({
    name: 'otpkit_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers,
  });
  const latency = new Histogram({
    name: 'otpkit_http_request_duration_seconds',
    help: 'Time from a request to its answer, by method and route template',
    labelNames: ['method', 'route'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const secondSteps = new Counter({
    name: 'otpkit_second_factor_checks_total',
    help: 'Second-factor checks by step (login: sign-in step two; step_up: /api/totp/validate) and outcome (passed, wrong, reused, malformed, locked)',
    labelNames: ['step', 'outcome'] as const,
    registers,
  });
  const lockouts = new Counter({
    name: 'otpkit_second_factor_lockouts_total',
    help: 'Second-factor locks started (second_factor_locked events)',
    registers,
  });
  const backupCodes = new Counter({
    name: 'otpkit_backup_codes_used_total',
    help: 'Backup codes spent (backup_code_used events)',
    registers,
  });

  let hashesRunning = 0;
  let hashesWaiting = 0;
  new Gauge({
    name: 'otpkit_password_hashes_running',
    help: 'Password hashes computing now',
    registers,
    collect() {
      this.set(hashesRunning);
    },
  });
  new Gauge({
    name: 'otpkit_password_hashes_waiting',
    help: 'Password hashes waiting for a slot (OTPKIT_PASSWORD_HASH_CONCURRENCY)',
    registers,
    collect() {
      this.set(hashesWaiting);
    },
  });
  const hashWait = new Histogram({
    name: 'otpkit_password_hash_wait_seconds',
    help: 'Time a password hash waited for a slot',
    buckets: HASH_BUCKETS,
    registers,
  });
  const hashTime = new Histogram({
    name: 'otpkit_password_hash_duration_seconds',
    help: 'Time a password hash held its slot (the KDF run)',
    buckets: HASH_BUCKETS,
    registers,
  });
  const hashRefused = new Counter({
    name: 'otpkit_password_hashes_refused_total',
    help: 'Password hashes refused at once, every slot busy and the queue full (503 SERVER_BUSY)',
    registers,
  });
  const { nowSeconds } = options;
  const unwatch = watchHashGates({
    asked() {
      const askedAt = nowSeconds();
      let startedAt = askedAt;
      hashesWaiting++;
      return {
        started() {
          startedAt = nowSeconds();
          hashesWaiting--;
          hashesRunning++;
          hashWait.observe(startedAt - askedAt);
        },
        done() {
          hashesRunning--;
          hashTime.observe(nowSeconds() - startedAt);
        },
      };
    },
    refused: () => hashRefused.inc(),
  });

  const { pool } = options;
  if (pool) {
    const poolGauge = (name: string, help: string, read: (p: PoolStats) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(pool()));
        },
      });
    poolGauge(
      'otpkit_db_pool_connections_in_use',
      'PostgreSQL connections checked out of the pool',
      (p) => p.total - p.idle,
    );
    poolGauge('otpkit_db_pool_connections_idle', 'PostgreSQL connections idle in the pool', (p) => p.idle);
    poolGauge('otpkit_db_pool_waiting', 'Requests waiting for a PostgreSQL connection', (p) => p.waiting);
  }

  return {
    registry,
    observeEvent(event) {
      if (event.type === 'second_factor_locked') lockouts.inc();
      else if (event.type === 'backup_code_used') backupCodes.inc();
    },
    instrument(app) {
      app.addHook('onSend', async (request, reply, payload) => {
        const step = SECOND_STEPS.get(request.routeOptions.url ?? '');
        if (step !== undefined) {
          const outcome = reply.statusCode === 200 ? 'passed' : OUTCOMES[errorCode(payload) ?? ''];
          if (outcome !== undefined) secondSteps.inc({ step, outcome });
        }
        return payload;
      });
      app.addHook('onResponse', async (request, reply) => {
        const route = request.routeOptions.url ?? UNMATCHED;
        // Node's parser admits only the methods it knows, so the method label is a small fixed set too.
        requests.inc({ method: request.method, route, status: String(reply.statusCode) });
        latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
      });
    },
    close: unwatch,
  };
}

/** GET /metrics: the registry in Prometheus's text format; never cached, not in the API docs. */
const metricsRoute: FastifyPluginAsync<{ metrics: Metrics }> = async (app, { metrics }) => {
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply
      .headers({ 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' })
      .send(await metrics.registry.metrics()),
  );
};

/** The listener of OTPKIT_METRICS_PORT: GET /metrics and nothing else (a coded 404). It never listens; main/ does. */
async function buildMetricsApp(metrics: Metrics) {
  const app = Fastify({ logger: false });
  installErrorHandler(app);
  await app.register(metricsRoute, { metrics });
  return app;
}

export type { Metrics, MetricsOptions, PoolStats };
export { buildMetricsApp, createMetrics, metricsRoute };
