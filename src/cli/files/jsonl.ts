// JSONL: one JSON object per line; blank lines are ignored. The rule for each line:
//   {"id": "r1", "payload": {...}}  - the API's own record shape: exactly these two fields;
//   {"id": "r1", "amount": 3, ...}  - any other object: "id" is the id, the other fields the payload.
// A line with "payload" and any field besides "id" is an error, so the two shapes never blur.
import { isPlainObject, recordProblem, type FileRecord, type LineError, type ReadResult } from './record';

export function parseJsonl(text: string): ReadResult {
  const records: FileRecord[] = [];
  const errors: LineError[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].replace(/\r$/, '');
    if (raw.trim() === '') continue;
    const line = i + 1;
    const result = parseLine(raw);
    if (typeof result === 'string') errors.push({ line, message: result });
    else records.push({ line, ...result });
  }
  return { records, errors };
}

function parseLine(raw: string): Omit<FileRecord, 'line'> | string {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    return `not valid JSON (${(err as Error).message})`;
  }
  if (!isPlainObject(value)) return 'not a JSON object';
  const { id, ...rest } = value;
  let payload: Record<string, unknown>;
  if ('payload' in rest) {
    const extra = Object.keys(rest).filter((k) => k !== 'payload');
    if (extra.length) return `a line with "payload" may only have "id" besides it, found ${extra.map((k) => JSON.stringify(k)).join(', ')}`;
    if (!isPlainObject(rest.payload)) return '"payload" must be a JSON object';
    payload = rest.payload;
  } else {
    payload = rest;
  }
  const problem = recordProblem(id, payload);
  return problem ?? { id: id as string, payload };
}
