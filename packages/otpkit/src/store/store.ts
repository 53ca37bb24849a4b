// What the service needs from storage, as atomic operations. Every check that
// security rests on (a counter claimed once, a backup code used once, an
// attempt budget, a single-use challenge, refresh-token reuse) is one
// conditional statement, so racing requests and processes cannot both win.
// The interface is in types.ts; the SQL, by table, in the modules composed here.

import { audit } from './audit.js';
import { backupCodes } from './backup-codes.js';
import { budgets } from './budgets.js';
import type { Db } from './db.js';
import { devices } from './devices.js';
import { factors } from './factors.js';
import { login } from './login.js';
import { sessions } from './sessions.js';
import type { Store } from './types.js';
import { upkeep } from './upkeep.js';
import { users } from './users.js';
import type { BudgetPolicy, PasswordPolicy } from './values.js';

/** The Store over a migrated database, with the attempt budgets' policies. */
function createStore(db: Db, policy: BudgetPolicy, passwords: PasswordPolicy): Store {
  return {
    ...users(db),
    ...budgets(db, passwords),
    ...factors(db),
    ...backupCodes(db),
    ...login(db, policy),
    ...sessions(db),
    ...devices(db),
    ...upkeep(db),
    ...audit(db),
  };
}

export type { Reseal, Store } from './types.js';
export type * from './values.js';
export { createStore };
