/**
 * Unicode code point offsets. Every text position in the protocol (ot-text-unicode ops,
 * cursors, selections) counts code points, while JavaScript strings and DOM selection
 * APIs count UTF-16 units: these helpers convert at that boundary.
 */

/** Number of Unicode code points in `text` (an emoji counts 1, not 2). */
export function codePointLength(text: string): number {
  let surrogatePairs = 0;
  for (let i = 0; i < text.length - 1; i++) {
    if (isHighSurrogate(text.charCodeAt(i)) && isLowSurrogate(text.charCodeAt(i + 1))) {
      surrogatePairs++;
      i++;
    }
  }
  return text.length - surrogatePairs;
}

/**
 * UTF-16 index of the code point offset `offset` in `text` (e.g. to set a textarea's
 * selection from a protocol cursor). Offsets past the end clamp to `text.length`.
 */
export function toUtf16Index(text: string, offset: number): number {
  let index = 0;
  for (let seen = 0; seen < offset && index < text.length; seen++) {
    index += isHighSurrogate(text.charCodeAt(index)) && isLowSurrogate(text.charCodeAt(index + 1)) ? 2 : 1;
  }
  return index;
}

/**
 * Code point offset of the UTF-16 index `index` in `text` (e.g. a textarea's
 * `selectionStart`). An index inside a surrogate pair counts the whole pair.
 */
export function toCodePointOffset(text: string, index: number): number {
  return codePointLength(text.slice(0, Math.min(index, text.length)));
}

/** True for the first UTF-16 unit of a surrogate pair. */
export function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

/** True for the second UTF-16 unit of a surrogate pair. */
export function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}
