import { describe, expect, it } from '@jest/globals';
import { transformOffset, transformSelectionRange } from './caret.js';

describe('caret transform', () => {
  it('moves the caret right when text is inserted before it', () => {
    expect(transformOffset(5, [2, 'abc'])).toBe(8);
  });
  it('keeps the caret when text is inserted after or exactly at it', () => {
    expect(transformOffset(2, [4, 'x'])).toBe(2);
    expect(transformOffset(2, [2, 'x'])).toBe(2);
  });
  it('pulls the caret back over deleted text, clamped into the deletion', () => {
    expect(transformOffset(6, [1, { d: 3 }])).toBe(3);
    expect(transformOffset(2, [1, { d: 3 }])).toBe(1);
  });
  it('transforms a textarea selection through a remote edit in UTF-16 indices', () => {
    expect(transformSelectionRange('hello world', 'hi, hello world', 6, 11)).toEqual({ start: 10, end: 15 });
    // Astral characters count once in code points, twice in UTF-16.
    expect(transformSelectionRange('ab', '😀ab', 1, 1)).toEqual({ start: 3, end: 3 });
    expect(transformSelectionRange('same', 'same', 2, 3)).toEqual({ start: 2, end: 3 });
  });
});
