// The use cases of the otpkit server, by module: accounts, the two-step
// login, sessions and tokens, enrollment and the authenticators' life, operator
// actions. Time and randomness come from the deps; storage is the Store.

import { accounts } from './accounts.js';
import { admin } from './admin.js';
import { authenticators } from './authenticators.js';
import { createContext } from './context.js';
import { devices } from './devices.js';
import { factors } from './factors.js';
import { login } from './login.js';
import { operator } from './operator.js';
import { sessions } from './sessions.js';
import type { Service, ServiceDeps } from './types.js';

function createService(deps: ServiceDeps): Service {
  const context = createContext(deps);
  return {
    ...accounts(context),
    ...login(context),
    ...sessions(context),
    ...factors(context),
    ...authenticators(context),
    ...devices(context),
    ...operator(context),
    ...admin(context),
  };
}

export type * from './types.js';
export { createService };
