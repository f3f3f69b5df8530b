import { describe, expect, it } from 'vitest';
import { clip } from '../../src/telemetry/log.js';

describe('clip', () => {
  it('keeps a string of at most `max` characters as it is', () => {
    expect(clip('short', 64)).toBe('short');
    expect(clip('x'.repeat(64), 64)).toBe('x'.repeat(64));
  });

  it('cuts a longer one to `max` characters and an ellipsis', () => {
    expect(clip('x'.repeat(65), 64)).toBe(`${'x'.repeat(64)}…`);
    expect(clip('/v1/grants?x=1', 4)).toBe('/v1/…');
  });

  it('leaves undefined undefined', () => {
    expect(clip(undefined, 64)).toBeUndefined();
  });
});
