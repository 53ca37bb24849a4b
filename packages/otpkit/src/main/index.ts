// What an application embedding otpkit imports (`otpkit/server`): the
// standalone app, the hosts (Fastify plugin, Express middleware, Fetch
// handler), and the composition that builds a service from the same
// environment variables as `otpkit serve`.

export type { AppOptions } from '../http/app.js';
export { buildApp } from '../http/app.js';
export type { ExpressRequest, OtpkitExpressOptions } from '../http/express.js';
export { otpkitExpress } from '../http/express.js';
export type { OtpkitFastifyOptions, OtpkitFastifyOptions as TotpPluginOptions } from '../http/fastify.js';
export { otpkitFastify, totpRoutes } from '../http/fastify.js';
export type { OtpkitFetchOptions } from '../http/fetch.js';
export { otpkitFetch } from '../http/fetch.js';
export type { CurrentUser } from '../http/handler.js';
export type { Throttle } from '../http/throttle.js';
export { memoryThrottle } from '../http/throttle.js';
export type { ServiceErrorCode } from '../service/errors.js';
export { ServiceError } from '../service/errors.js';
export type { Actor, Service } from '../service/index.js';
export type { Policy } from '../service/policy.js';
export { checkPolicy, DEFAULT_POLICY } from '../service/policy.js';
export type { AuditEvent, AuditEventType } from '../store/store.js';
export type { Composed, ComposeOptions } from './compose.js';
export { compose } from './compose.js';
export type { Config } from './config.js';
export { ConfigError, readConfig, StartError } from './config.js';
