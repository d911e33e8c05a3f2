import { describe, expect, it } from '@jest/globals';
import {
  formatCsvField,
  formatCsvRow,
  formatTableCell,
  formatTableRows,
  parseCsv,
  parseTableColumns,
  parseTableRows,
} from './csv.js';

const texts = (csv: string) => parseCsv(csv).map((row) => row.map((field) => field.text));

describe('parseCsv', () => {
  it('splits on commas, trimming unquoted cells', () => {
    expect(texts('a, b ,c')).toEqual([['a', 'b', 'c']]);
    expect(texts('a,,c,')).toEqual([['a', '', 'c', '']]);
  });

  it('keeps commas inside quotes: a, "b, c", d is three cells', () => {
    expect(texts('a, "b, c", d')).toEqual([['a', 'b, c', 'd']]);
    expect(parseCsv('a, "b, c", d')[0]!.map((field) => field.quoted)).toEqual([false, true, false]);
  });

  it('reads a doubled quote inside quotes as one quote', () => {
    expect(texts('"say ""hi""", ""')).toEqual([['say "hi"', '']]);
    expect(texts('""""')).toEqual([['"']]);
  });

  it('keeps spaces inside quotes and a stray quote inside an unquoted cell', () => {
    expect(texts('" padded ", 5" screen')).toEqual([[' padded ', '5" screen']]);
  });

  it('is lenient with what follows a closing quote and with an unclosed quote', () => {
    expect(texts('"ab"c, d')).toEqual([['abc', 'd']]);
    expect(texts('a, "open, to the end')).toEqual([['a', 'open, to the end']]);
  });

  it('ends rows at \\n, \\r\\n and \\r, except inside quotes', () => {
    expect(texts('a,b\nc,d\r\ne\rf')).toEqual([['a', 'b'], ['c', 'd'], ['e'], ['f']]);
    expect(texts('"two\nlines", x\ny')).toEqual([['two\nlines', 'x'], ['y']]);
    expect(texts('a\n')).toEqual([['a']]);
    expect(texts('')).toEqual([]);
  });
});

describe('formatCsvField / formatCsvRow', () => {
  it('quotes only what needs it, doubling quotes', () => {
    expect(formatCsvField('plain')).toBe('plain');
    expect(formatCsvField('b, c')).toBe('"b, c"');
    expect(formatCsvField('say "hi"')).toBe('"say ""hi"""');
    expect(formatCsvField(' edge')).toBe('" edge"');
    expect(formatCsvField('two\nlines')).toBe('"two\nlines"');
    expect(formatCsvRow(['Name', 'City, Country'])).toBe('Name, "City, Country"');
  });
});

describe('table rows and columns', () => {
  it('reads unquoted numbers as numbers and quoted ones as text, skipping blank lines', () => {
    expect(parseTableRows('a, 1, "2", -3.5\n\n  \n"x, y", , 1e3')).toEqual([
      ['a', 1, '2', -3.5],
      ['x, y', '', 1000],
    ]);
    expect(parseTableRows('""')).toEqual([['']]);
  });

  it('prints cells so they read back the same', () => {
    expect(formatTableCell(42)).toBe('42');
    expect(formatTableCell('42')).toBe('"42"');
    expect(formatTableCell('a, b')).toBe('"a, b"');
    expect(formatTableCell(null)).toBe('');
    expect(formatTableCell(true)).toBe('true');
    const rows = [
      ['Widget, large', 12.5, '007', 'say "hi"'],
      ['', -1, ' spaced ', 'x'],
    ];
    const text = formatTableRows(rows);
    expect(text).toBe('"Widget, large", 12.5, "007", "say ""hi"""\n, -1, " spaced ", x');
    expect(parseTableRows(text)).toEqual(rows);
  });

  it('reads column names, quoted or not, dropping empty ones', () => {
    expect(parseTableColumns('Name, "City, Country", , 2024')).toEqual(['Name', 'City, Country', '2024']);
    expect(parseTableColumns(formatCsvRow(['a,b', 'c"d']))).toEqual(['a,b', 'c"d']);
  });
});
