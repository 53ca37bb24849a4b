// What an application embedding otpkit imports (`otpkit/server`): the app
// factory, the TOTP routes as a Fastify plugin, and the composition that
// builds a service from the same environment variables as `otpkit serve`.

export type { AppOptions } from '../http/app.js';
export { buildApp } from '../http/app.js';
export type { TotpPluginOptions } from '../http/totp-plugin.js';
export { totpRoutes } from '../http/totp-plugin.js';
export type { Service } from '../service/index.js';
export { compose } from './compose.js';
export { readConfig } from './config.js';
