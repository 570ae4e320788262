// What a line of an input file becomes, and the checks the API would make, done locally so that
// a bad line is named by its line number before anything is sent.
import { CLIENT_ID_PATTERN } from '../../contracts/names';
import { MAX_PAYLOAD_BYTES } from '../../contracts/limits';

export interface FileRecord {
  /** 1-based line of the file (for a CSV row with a quoted field spanning lines, its last line). */
  line: number;
  id: string;
  payload: Record<string, unknown>;
}

export interface LineError {
  line: number;
  message: string;
}

/** All records of a file, or every bad line: a file is submitted whole or not at all. */
export interface ReadResult {
  records: FileRecord[];
  errors: LineError[];
}

const idPattern = new RegExp(CLIENT_ID_PATTERN);

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Returns the problem with a record, or undefined when the API will take it. */
export function recordProblem(id: unknown, payload: Record<string, unknown>): string | undefined {
  if (typeof id !== 'string' || id === '') return 'missing "id" (a non-empty string)';
  if (!idPattern.test(id)) return `bad id ${JSON.stringify(id.slice(0, 60))}: letters, digits, ".", "_" and "-", at most 200`;
  const size = Buffer.byteLength(JSON.stringify(payload));
  if (size > MAX_PAYLOAD_BYTES) return `payload of ${size} bytes is over the ${MAX_PAYLOAD_BYTES}-byte limit`;
  return undefined;
}
