import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cellValue, parseCsv } from '../../src/cli/files/csv';
import { parseJsonl } from '../../src/cli/files/jsonl';
import { formatOf, readRecordsFile } from '../../src/cli/files';
import { CliError } from '../../src/cli/errors';

describe('JSONL reader', () => {
  it('takes the API shape and bare objects, skips blank lines, keeps line numbers', () => {
    const text = '{"id":"a","payload":{"amount":1}}\n\n{"id":"b","amount":2,"note":"x"}\r\n{"id":"c","payload":{}}\n';
    expect(parseJsonl(text)).toEqual({
      records: [
        { line: 1, id: 'a', payload: { amount: 1 } },
        { line: 3, id: 'b', payload: { amount: 2, note: 'x' } },
        { line: 4, id: 'c', payload: {} },
      ],
      errors: [],
    });
  });

  it('names every bad line and why', () => {
    const lines = [
      '{"id":"ok","x":1}',
      'not json',
      '[1,2]',
      '{"x":1}',
      '{"id":"has space"}',
      '{"id":"p","payload":{"a":1},"extra":1}',
      '{"id":"q","payload":[1]}',
      '{"id":7}',
    ];
    const { records, errors } = parseJsonl(lines.join('\n'));
    expect(records.map((r) => r.id)).toEqual(['ok']);
    expect(errors.map((e) => e.line)).toEqual([2, 3, 4, 5, 6, 7, 8]);
    expect(errors[0].message).toMatch(/not valid JSON/);
    expect(errors[1].message).toBe('not a JSON object');
    expect(errors[2].message).toMatch(/missing "id"/);
    expect(errors[3].message).toMatch(/bad id "has space"/);
    expect(errors[4].message).toMatch(/may only have "id" besides it, found "extra"/);
    expect(errors[5].message).toBe('"payload" must be a JSON object');
    expect(errors[6].message).toMatch(/missing "id"/);
  });

  it('refuses a payload over the API limit, locally', () => {
    const big = JSON.stringify({ id: 'big', blob: 'x'.repeat(300 * 1024) });
    expect(parseJsonl(big).errors[0]).toMatchObject({ line: 1, message: expect.stringMatching(/over the 262144-byte limit/) });
  });
});

describe('CSV reader', () => {
  it('uses the header, the id column and casts plain decimal numbers', async () => {
    const text = '\uFEFFid,amount,name,code\nr1,12.50,"Ada, L.",007\nr2,-3,,1e3\n\nr3,12345678901234567890,"two\nlines",0\n';
    expect(await parseCsv(text)).toEqual({
      records: [
        { line: 2, id: 'r1', payload: { amount: 12.5, name: 'Ada, L.', code: '007' } },
        { line: 3, id: 'r2', payload: { amount: -3, name: '', code: '1e3' } },
        { line: 6, id: 'r3', payload: { amount: '12345678901234567890', name: 'two\nlines', code: 0 } },
      ],
      errors: [],
    });
  });

  it('names short, long and id-less rows by line', async () => {
    const { records, errors } = await parseCsv('id,a\nr1,1\nr2\nr3,1,2\n,4\nr5,5\n');
    expect(records.map((r) => [r.line, r.id])).toEqual([
      [2, 'r1'],
      [6, 'r5'],
    ]);
    expect(errors).toEqual([
      { line: 3, message: '1 fields where the header has 2' },
      { line: 4, message: '3 fields where the header has 2' },
      { line: 5, message: 'missing "id" (a non-empty string)' },
    ]);
  });

  it('refuses a header without id, duplicate columns, an unclosed quote and an empty file', async () => {
    expect((await parseCsv('x,a\n1,2\n')).errors).toEqual([{ line: 1, message: 'the header row has no "id" column (columns: x, a)' }]);
    expect((await parseCsv('id,a,a\n1,2,3\n')).errors[0].message).toMatch(/names column "a" twice/);
    expect((await parseCsv('id,a\nr1,"open\n')).errors).toEqual([{ line: 2, message: expect.stringMatching(/Quote Not Closed/) }]);
    expect((await parseCsv('')).errors).toEqual([{ line: 1, message: expect.stringMatching(/empty file/) }]);
  });

  it('casts only numbers that read back the same', () => {
    expect([
      cellValue('0'),
      cellValue('0.25'),
      cellValue('-7'),
      cellValue('+1'),
      cellValue('.5'),
      cellValue('1.'),
      cellValue('abc'),
    ]).toEqual([0, 0.25, -7, '+1', '.5', '1.', 'abc']);
  });
});

describe('reading a file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-files-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('chooses the format by extension or --format', async () => {
    expect(formatOf('a.jsonl')).toBe('jsonl');
    expect(formatOf('a.NDJSON')).toBe('jsonl');
    expect(formatOf('a.csv')).toBe('csv');
    expect(formatOf('a.txt', 'csv')).toBe('csv');
    expect(() => formatOf('a.txt')).toThrow(/use .jsonl or .csv/);
    const file = path.join(dir, 'records.txt');
    fs.writeFileSync(file, 'id,amount\nr1,1\n');
    expect((await readRecordsFile(file, 'csv')).records).toEqual([{ line: 2, id: 'r1', payload: { amount: 1 } }]);
  });

  it('turns a missing file or a directory into a one-line CliError', async () => {
    await expect(readRecordsFile(path.join(dir, 'missing.jsonl'))).rejects.toThrow(CliError);
    await expect(readRecordsFile(path.join(dir, 'missing.jsonl'))).rejects.toThrow(/missing.jsonl: no such file$/);
    fs.mkdirSync(path.join(dir, 'd.csv'));
    await expect(readRecordsFile(path.join(dir, 'd.csv'))).rejects.toThrow(/d.csv: is a directory/);
  });
});
