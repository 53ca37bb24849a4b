// AES-256-GCM from node:crypto, for parseKeyRing(text, { aead: nodeAead }).
// It runs on the calling thread, so sealing and opening a TOTP secret never
// queue on libuv's thread pool behind password hashing (scrypt), the way
// WebCrypto's encrypt/decrypt would. Same layout and output as core's default.

import { createCipheriv, createDecipheriv, createSecretKey } from 'node:crypto';
import type { AeadFactory } from '@otpkit/core';

const TAG_BYTES = 16;

const nodeAead: AeadFactory = (key) => {
  const secretKey = createSecretKey(key);
  return {
    encrypt(nonce, plaintext, associatedData) {
      const cipher = createCipheriv('aes-256-gcm', secretKey, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(associatedData);
      return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    },
    decrypt(nonce, sealed, associatedData) {
      const decipher = createDecipheriv('aes-256-gcm', secretKey, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(associatedData);
      decipher.setAuthTag(sealed.subarray(-TAG_BYTES));
      return Buffer.concat([decipher.update(sealed.subarray(0, -TAG_BYTES)), decipher.final()]);
    },
  };
};

export { nodeAead };
