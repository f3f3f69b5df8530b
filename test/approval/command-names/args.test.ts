import { describe, expect, it } from 'vitest';
import { has, parseArgs, valuesOf } from '../../../src/approval/command-names/args.js';

describe('parseArgs', () => {
  it('separates operands from options and their values', () => {
    const p = parseArgs(['-fsSL', '-o', 'out.json', '--header', 'A: b', 'https://x', '--retry=3', 'y'], {
      short: 'o', long: ['header'],
    });
    expect(p.operands).toEqual(['https://x', 'y']);
    expect(p.values).toEqual([['o', 'out.json'], ['header', 'A: b'], ['retry', '3']]);
    expect([...p.switches]).toEqual(['f', 's', 'S', 'L']);
  });

  it('takes an attached short value from the rest of the cluster', () => {
    const p = parseArgs(['-qO-', '-p2222', 'h'], { short: 'Op' });
    expect(p.values).toEqual([['O', '-'], ['p', '2222']]);
    expect(p.operands).toEqual(['h']);
  });

  it('takes attached-only values only when attached', () => {
    const p = parseArgs(['-psecret', '-p', 'db'], { attachedOnly: 'p' });
    expect(valuesOf(p, 'p')).toEqual(['secret']);
    expect(p.operands).toEqual(['db']);
  });

  it('stops at the first operand when asked, keeping the rest as operands', () => {
    const p = parseArgs(['-p', '22', 'host', '-x', 'ls', '-la'], { short: 'p', stopAtOperand: true });
    expect(p.operands).toEqual(['host', '-x', 'ls', '-la']);
  });

  it('treats -- as the end of options and - as an operand', () => {
    expect(parseArgs(['-a', '--', '-b', 'c'], {}).operands).toEqual(['-b', 'c']);
    expect(parseArgs(['-'], {}).operands).toEqual(['-']);
  });

  it('reads single-dash long options', () => {
    const p = parseArgs(['-connect', 'h:443', '-showcerts', '-type=mx'], { singleDashLong: true, long: ['connect'] });
    expect(valuesOf(p, 'connect')).toEqual(['h:443']);
    expect(valuesOf(p, 'type')).toEqual(['mx']);
    expect(has(p, 'showcerts')).toBe(true);
  });

  it('leaves a value-taking option at the end without a value', () => {
    const p = parseArgs(['-o'], { short: 'o' });
    expect(p.values).toEqual([]);
    expect(p.operands).toEqual([]);
  });
});
