import { describe, expect, it } from 'vitest';
import { timeOrderedId } from '../src/service/tokens.js';

describe('timeOrderedId', () => {
  it('is a UUIDv7 carrying the time, so later ids sort after earlier ones', () => {
    const at = Date.UTC(2026, 10, 22);
    const id = timeOrderedId(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.replace('-', '').slice(0, 12), 16)).toBe(at);
    const ids = [at, at + 1, at + 1000, at + 86_400_000].map(timeOrderedId);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(Array.from({ length: 100 }, () => timeOrderedId(at))).size).toBe(100);
  });
});
