import { expect } from 'vitest';
import { OtpkitError } from '../src/index.js';

/** The OtpkitError a promise rejects with (fails the test if it resolves or rejects with anything else). */
async function rejection(promise: Promise<unknown>): Promise<OtpkitError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(OtpkitError);
    return error as OtpkitError;
  }
  throw new Error('expected an OtpkitError');
}

export { rejection };
