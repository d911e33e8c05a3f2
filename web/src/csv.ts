/**
 * The comma-separated text a table is edited as (settings panel): one row per line, cells
 * separated by commas, RFC 4180 quoting. A cell holding a comma, a quote, a line break or
 * edge spaces is written in double quotes, a quote inside doubled (`"say ""hi"""`).
 * Reading is lenient, as for typed text: spaces around cells and around quotes are
 * dropped, a quote in the middle of an unquoted cell is kept as it is, and an unclosed
 * quote runs to the end of the text.
 *
 * Table cells are numbers or strings: an unquoted cell that reads as a number becomes one,
 * a quoted cell always stays a string, so `"42"` round-trips as the string "42".
 */

/** One cell as typed: its text, and whether it was quoted. */
export interface CsvField {
  text: string;
  quoted: boolean;
}

const isSpace = (ch: string | undefined) => ch === ' ' || ch === '\t';

/**
 * Splits CSV text into rows of fields. Line breaks (\n, \r\n or \r) end a row unless they
 * are inside quotes. Unquoted fields are trimmed. An empty text gives no rows; every other
 * line gives a row (a blank line gives one empty field).
 */
export function parseCsv(text: string): CsvField[][] {
  const rows: CsvField[][] = [];
  if (text === '') return rows;
  let row: CsvField[] = [];
  let i = 0;
  for (;;) {
    // One field, starting at i.
    while (isSpace(text[i])) i++;
    let field: CsvField;
    if (text[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote < 0) {
          value += text.slice(i); // unclosed: the rest of the text
          i = text.length;
          break;
        }
        value += text.slice(i, quote);
        if (text[quote + 1] === '"') {
          value += '"';
          i = quote + 2;
        } else {
          i = quote + 1;
          break;
        }
      }
      // Anything between the closing quote and the next separator is kept, spaces aside.
      let rest = '';
      while (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') rest += text[i++];
      field = { text: value + rest.trim(), quoted: true };
    } else {
      const start = i;
      while (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') i++;
      field = { text: text.slice(start, i).trim(), quoted: false };
    }
    row.push(field);
    if (i >= text.length) {
      rows.push(row);
      return rows;
    }
    if (text[i] === ',') {
      i++;
      continue;
    }
    // A line break: \r\n counts once.
    i += text[i] === '\r' && text[i + 1] === '\n' ? 2 : 1;
    rows.push(row);
    row = [];
    if (i >= text.length) return rows;
  }
}

/** A field as CSV: quoted when it holds a comma, quote or line break, or starts or ends with a space. */
export function formatCsvField(text: string): string {
  const needsQuotes = /[",\r\n]/.test(text) || text !== text.trim();
  return needsQuotes ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A row of plain text fields as one CSV line. */
export function formatCsvRow(fields: readonly string[]): string {
  return fields.map(formatCsvField).join(', ');
}

/** A table cell from a field: unquoted numbers become numbers, everything else stays text. */
export function tableCell(field: CsvField): string | number {
  if (field.quoted || field.text === '') return field.text;
  const n = Number(field.text);
  return Number.isFinite(n) ? n : field.text;
}

/** Reads table rows from CSV text, skipping blank lines. */
export function parseTableRows(text: string): (string | number)[][] {
  return parseCsv(text)
    .filter((row) => row.length > 1 || row[0]!.quoted || row[0]!.text !== '')
    .map((row) => row.map(tableCell));
}

/** Reads table column names from one CSV line, dropping empty ones. */
export function parseTableColumns(text: string): string[] {
  return parseCsv(text)
    .flat()
    .map((field) => field.text)
    .filter((name) => name !== '');
}

/**
 * A cell as CSV text, so that parseTableRows reads it back the same: a string that would
 * read as a number is quoted too. Missing cells are empty; other JSON values are written
 * as JSON.
 */
export function formatTableCell(cell: unknown): string {
  if (cell === null || cell === undefined) return '';
  if (typeof cell === 'number') return String(cell);
  if (typeof cell !== 'string') return formatCsvField(JSON.stringify(cell));
  const readsAsNumber = cell.trim() !== '' && Number.isFinite(Number(cell.trim()));
  return readsAsNumber ? `"${cell}"` : formatCsvField(cell);
}

/** Table rows as CSV text, one line per row. */
export function formatTableRows(rows: readonly (readonly unknown[])[]): string {
  return rows.map((row) => row.map(formatTableCell).join(', ')).join('\n');
}
