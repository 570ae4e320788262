// submit's batching and summary against a scripted local HTTP server (the real API is driven by
// test/e2e/cli.test.ts): order, counts, and what a refused or failed batch leaves unsent.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { submitRecords } from '../../src/cli/commands/submit';
import { compactLine, isDone, renderWatch } from '../../src/cli/commands/watch';
import { ApiClient } from '../../src/cli/http';
import { CliError } from '../../src/cli/errors';
import type { FileRecord } from '../../src/cli/files';

type Answer = (ids: string[]) => [number, unknown];

let server: http.Server;
let url: string;
let script: Answer[] = [];
let bodies: string[][] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const ids = (JSON.parse(body) as { records: { id: string }[] }).records.map((r) => r.id);
      bodies.push(ids);
      const [status, reply] = (script.shift() ?? (() => [500, {}]))(ids);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));
beforeEach(() => {
  script = [];
  bodies = [];
});

const records: FileRecord[] = Array.from({ length: 7 }, (_, i) => ({ line: i + 2, id: `r${i + 1}`, payload: { amount: i } }));
let nextSeq = 1;
const accept =
  (duplicates: string[] = []): Answer =>
  (ids) => [202, { records: ids.map((id) => ({ id, seq: nextSeq++, duplicate: duplicates.includes(id) })) }];

describe('submit', () => {
  it('sends batches in file order and counts accepted and duplicates', async () => {
    nextSeq = 1;
    script = [accept(['r2']), accept(), accept()];
    const progress: number[] = [];
    const s = await submitRecords(new ApiClient({ url }), 'src', 'f.jsonl', records, 3, (done) => progress.push(done));
    expect(bodies).toEqual([['r1', 'r2', 'r3'], ['r4', 'r5', 'r6'], ['r7']]);
    expect(progress).toEqual([3, 6, 7]);
    expect(s).toMatchObject({ records: 7, accepted: 6, duplicates: 1, rejected: 0, notSent: 0, firstSeq: 1, lastSeq: 7, failure: null });
  });

  it('stops at a refused batch: its records rejected, the rest not sent, conflicting lines named', async () => {
    script = [
      accept(),
      () => [409, { error: 'id_conflict', message: 'ids already accepted with another payload: r5', details: { ids: ['r5'] } }],
    ];
    const s = await submitRecords(new ApiClient({ url }), 'src', 'f.jsonl', records, 3);
    expect(bodies).toHaveLength(2);
    expect(s).toMatchObject({ accepted: 3, rejected: 3, notSent: 1 });
    expect(s.failure).toEqual({
      lines: '5-7',
      status: 409,
      error: 'id_conflict',
      message: 'ids already accepted with another payload: r5',
      conflictingLines: [6],
    });
  });

  it('counts a failed batch (5xx: outcome unknown) as not sent, not as rejected', async () => {
    script = [accept(), () => [503, { error: 'unavailable', message: 'postgres is down' }]];
    const s = await submitRecords(new ApiClient({ url }), 'src', 'f.jsonl', records, 3);
    expect(s).toMatchObject({ accepted: 3, rejected: 0, notSent: 4, failure: { lines: '5-7', status: 503, error: 'unavailable' } });
  });

  it('fails with the one-line error when the API cannot be reached at all', async () => {
    const closed = new ApiClient({ url: 'http://127.0.0.1:1' });
    await expect(submitRecords(closed, 'src', 'f.jsonl', records, 3)).rejects.toThrow(CliError);
  });
});

describe('watch rendering', () => {
  const source = (delivered: number, blocked = false) => ({
    sourceId: 'demo',
    lastSeq: 4,
    watermarks: { inbound: 4, preprocess: 4, core: 2, postprocess: 2, outbound: delivered, delivered },
    counts: {},
    blocked: blocked ? { seq: 3, id: 'r3', stage: 'core', reason: 'amount must be a finite number' } : null,
  });

  it('is done when everything up to the last seq is delivered', () => {
    expect(isDone(source(2))).toBe(false);
    expect(isDone(source(4))).toBe(true);
  });

  it('draws a bar per stage and names a blocked record', () => {
    const lines = renderWatch(source(2, true), 1500);
    expect(lines[0]).toBe('source demo   last seq 4   1.5 s');
    expect(lines[1]).toMatch(/^inbound {5}█{30} 4\/4$/);
    expect(lines[3]).toMatch(/^core {8}█{15}░{15} 2\/4$/);
    expect(lines[7]).toBe('blocked: seq 3 (r3) at core: amount must be a finite number');
    expect(compactLine(source(2, true))).toMatch(/ inbound 4\/4 {2}preprocess 4\/4 {2}core 2\/4 .* delivered 2\/4 {2}blocked: seq 3/);
  });
});
