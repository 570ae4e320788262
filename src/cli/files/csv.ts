// CSV: a header row naming the columns, one of them `id`; every other column becomes a payload
// field. A cell that is a plain decimal number ("12.50", "-3"; not "007", "1e3" or "+1") becomes a
// JSON number, so that amounts arrive as numbers; every other cell stays a string, empty included.
import { parse, CsvError } from 'csv-parse';
import { recordProblem, type FileRecord, type LineError, type ReadResult } from './record';

export async function parseCsv(text: string): Promise<ReadResult> {
  const records: FileRecord[] = [];
  const errors: LineError[] = [];
  // Column counts are checked here, row by row, so that every short or long row is named.
  const parser = parse(text, { bom: true, skip_empty_lines: true, info: true, relax_column_count: true });
  let header: string[] | undefined;
  try {
    for await (const row of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = row.info.lines;
      if (!header) {
        header = row.record.map((h) => h.trim());
        const problem = headerProblem(header);
        if (problem) return { records, errors: [{ line, message: problem }] };
        continue;
      }
      if (row.record.length !== header.length) {
        errors.push({ line, message: `${row.record.length} fields where the header has ${header.length}` });
        continue;
      }
      const payload: Record<string, unknown> = {};
      let id: string | undefined;
      header.forEach((name, i) => {
        if (name === 'id') id = row.record[i];
        else payload[name] = cellValue(row.record[i]);
      });
      const problem = recordProblem(id, payload);
      if (problem) errors.push({ line, message: problem });
      else records.push({ line, id: id!, payload });
    }
  } catch (err) {
    // A broken row (an unclosed quote) stops the parser: report it and stop.
    if (!(err instanceof CsvError)) throw err;
    const e = err as CsvError & { lines?: number };
    errors.push({ line: e.lines ?? 0, message: e.message });
  }
  if (!header && !errors.length) errors.push({ line: 1, message: 'empty file: expected a header row with an "id" column' });
  return { records, errors };
}

function headerProblem(header: string[]): string | undefined {
  if (!header.includes('id')) return `the header row has no "id" column (columns: ${header.join(', ')})`;
  const seen = new Set<string>();
  for (const name of header) {
    if (name === '') return 'the header row has an empty column name';
    if (seen.has(name)) return `the header row names column "${name}" twice`;
    seen.add(name);
  }
  return undefined;
}

const canonicalNumber = /^-?(0|[1-9]\d*)(\.\d+)?$/;

export function cellValue(cell: string): string | number {
  if (!canonicalNumber.test(cell)) return cell;
  const n = Number(cell);
  // An integer too long for a double (an account number) keeps its digits as a string.
  return Number.isInteger(n) && !Number.isSafeInteger(n) ? cell : n;
}
