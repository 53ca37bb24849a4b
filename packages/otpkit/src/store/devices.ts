// Trusted devices ("remember this browser"): made after a passed second
// factor, their token rotated on each use (in the sign-in's own transaction,
// see Store.createSession), revoked one by one, all at once, or with every
// change to 2FA (endSessions).

import type { Db, Statement } from './db.js';
import { first } from './rows.js';
import type { Store } from './types.js';
import type { DeviceUse, TrustedDevice } from './values.js';

type DeviceRow = {
  id: string;
  user_id: string;
  token_hash: string;
  name: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  revoked_at: number | null;
};
const DEVICE_COLUMNS = 'id, user_id, token_hash, name, created_at, last_used_at, expires_at, revoked_at';
const toDevice = (r: DeviceRow): TrustedDevice => ({
  id: r.id,
  userId: r.user_id,
  tokenHash: r.token_hash,
  name: r.name,
  createdAt: Number(r.created_at),
  lastUsedAt: Number(r.last_used_at),
  expiresAt: Number(r.expires_at),
  revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
});

/** A live device's token moves on from the one presented: only one racing use can. */
const rotateDevice = (d: DeviceUse): Statement => ({
  sql: `UPDATE trusted_devices SET token_hash = ?, last_used_at = ?
        WHERE id = ? AND user_id = ? AND token_hash = ? AND revoked_at IS NULL AND expires_at > ?`,
  params: [d.nextHash, d.now, d.id, d.userId, d.tokenHash, d.now],
  expectChanges: 1,
});

/** Revokes the user's live devices (all, or the one of `id`). */
const revokeDevices = (userId: string, now: number, id?: string): Statement => ({
  sql: `UPDATE trusted_devices SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL${id === undefined ? '' : ' AND id = ?'}`,
  params: [now, userId, ...(id === undefined ? [] : [id])],
});

type DeviceMethods = Pick<Store, 'trustDevice' | 'trustedDevice' | 'trustedDevices' | 'revokeTrustedDevices'>;

function devices(db: Db): DeviceMethods {
  return {
    async trustDevice(d) {
      await db.run(
        `INSERT INTO trusted_devices (id, user_id, token_hash, name, created_at, last_used_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        [d.id, d.userId, d.tokenHash, d.name, d.now, d.now, d.expiresAt],
      );
    },
    async trustedDevice(id) {
      const row = await first<DeviceRow>(db, `SELECT ${DEVICE_COLUMNS} FROM trusted_devices WHERE id = ?`, [id]);
      return row && toDevice(row);
    },
    async trustedDevices(userId, now) {
      const rows = await db.all<DeviceRow>(
        `SELECT ${DEVICE_COLUMNS} FROM trusted_devices WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
         ORDER BY created_at, id`,
        [userId, now],
      );
      return rows.map(toDevice);
    },
    async revokeTrustedDevices(userId, now, id) {
      const { sql, params } = revokeDevices(userId, now, id);
      return db.run(sql, params);
    },
  };
}

export { devices, revokeDevices, rotateDevice };
