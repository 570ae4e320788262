// Reads a file of records, choosing the format by its extension (or --format).
import fs from 'node:fs/promises';
import path from 'node:path';
import { CliError } from '../errors';
import { parseCsv } from './csv';
import { parseJsonl } from './jsonl';
import type { ReadResult } from './record';

export type FileFormat = 'jsonl' | 'csv';
export type { FileRecord, LineError, ReadResult } from './record';

export function formatOf(file: string, format?: string): FileFormat {
  const f = (format ?? path.extname(file).slice(1)).toLowerCase();
  if (f === 'jsonl' || f === 'ndjson') return 'jsonl';
  if (f === 'csv') return 'csv';
  throw new CliError(
    `${file}: cannot tell the format from "${path.extname(file) || 'no extension'}"; use .jsonl or .csv, or --format jsonl|csv`,
  );
}

export async function readRecordsFile(file: string, format?: string): Promise<ReadResult> {
  const kind = formatOf(file, format);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CliError(`${file}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.message}`);
  }
  return kind === 'csv' ? parseCsv(text) : parseJsonl(text);
}
