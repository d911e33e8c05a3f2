import { codePointLength, toCodePointOffset, toUtf16Index } from './text.js';

describe('code point offsets', () => {
  const text = 'a😀b🇫🇷c'; // 🇫🇷 is two code points (regional indicators)

  it('counts code points, not UTF-16 units', () => {
    expect(text.length).toBe(9);
    expect(codePointLength(text)).toBe(6);
    expect(codePointLength('')).toBe(0);
    expect(codePointLength('\ud83d')).toBe(1); // a lone surrogate is one code point
  });

  it('converts code point offsets to UTF-16 indices and back', () => {
    for (let offset = 0; offset <= 6; offset++) {
      const index = toUtf16Index(text, offset);
      expect(toCodePointOffset(text, index)).toBe(offset);
      expect(Array.from(text.slice(0, index))).toHaveLength(offset);
    }
    expect(toUtf16Index(text, 99)).toBe(text.length);
  });

  it('counts an index inside a surrogate pair as past the pair', () => {
    expect(toCodePointOffset(text, 2)).toBe(2);
  });
});
