// The built CLI (node dist/src/cli/main.js) as a child process against the whole running system:
// submit JSONL and CSV files, watch until delivered, status, verify, workers, fail/recover, and
// bad input that must end in one clear line and a non-zero exit.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { uniqueSource } from '../helpers/records';
import { freePort, sharedSystem, waitFor, type SharedSystem } from '../helpers/system';

jest.setTimeout(300_000);

const CLI = path.join(__dirname, '..', '..', 'dist', 'src', 'cli', 'main.js');

let sys: SharedSystem;
let db: SharedSystem['db'];
let dir: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        // Not a terminal: no progress bar, line output; the token is sent as a Bearer token.
        env: { ...process.env, PIPELINE_URL: sys.url, PIPELINE_TOKEN: sys.env.ADMIN_TOKEN ?? 'test-token', DATABASE_URL: db.url, ...env },
        timeout: 120_000,
      },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-e2e-'));
  // ACTIVITY_TIMEOUT_MS 3000 (SHARED_ENV).
  sys = await sharedSystem();
  db = sys.db;
});
afterAll(async () => {
  await sys?.release();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('the pipeline CLI against the running system', () => {
  // This file's sources on the shared system, which verify is told to judge (--source-prefix).
  const prefix = uniqueSource('cli');
  const jsonlSource = `${prefix}-jsonl`;
  const csvSource = `${prefix}-csv`;

  it('submits a JSONL file in batches with a summary, then finds the same ids as duplicates', async () => {
    const lines = Array.from({ length: 25 }, (_, i) =>
      i % 2 ? JSON.stringify({ id: `j${i}`, payload: { amount: i } }) : JSON.stringify({ id: `j${i}`, amount: i, note: 'bare' }),
    );
    const file = write('records.jsonl', `${lines.join('\n')}\n`);
    const run = await cli(['submit', jsonlSource, file, '--batch', '10']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/accepted\s+25\n/);
    expect(run.stdout).toMatch(/duplicates\s+0\n/);
    expect(run.stdout).toMatch(/seqs\s+1\.\.25/);

    const again = await cli(['--json', 'submit', jsonlSource, file, '--batch', '7']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      records: 25,
      accepted: 0,
      duplicates: 25,
      rejected: 0,
      firstSeq: 1,
      lastSeq: 25,
      failure: null,
    });
  });

  it('submits a CSV file, numbers as numbers', async () => {
    const rows = Array.from({ length: 12 }, (_, i) => `c${i},${i}.50,"customer ${i}, Ltd"`);
    const file = write('records.csv', `id,amount,customer\n${rows.join('\n')}\n`);
    const run = await cli(['--json', 'submit', csvSource, file]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ records: 12, accepted: 12, duplicates: 0, lastSeq: 12 });
  });

  it('watches until everything is delivered, and exits 0', async () => {
    const run = await cli(['watch', jsonlSource, '--interval', '300', '--timeout', '120']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const updates = run.stdout.trim().split('\n');
    expect(updates.at(-2)).toMatch(/inbound 25\/25 .* delivered 25\/25$/);
    expect(updates.at(-1)).toBe(`all 25 records of ${jsonlSource} delivered`);
    const csv = await cli(['--json', 'watch', csvSource, '--interval', '300', '--timeout', '120']);
    expect(csv.code).toBe(0);
    const last = JSON.parse(csv.stdout.trim().split('\n').at(-1)!);
    expect(last).toMatchObject({ sourceId: csvSource, lastSeq: 12, watermarks: { delivered: 12 } });
  });

  it('shows a source and a record', async () => {
    const source = await cli(['status', jsonlSource]);
    expect(source.code).toBe(0);
    expect(source.stdout).toMatch(/last seq\s+25/);
    expect(source.stdout).toMatch(/delivered\s+25\s+0/);
    const record = await cli(['--json', 'status', csvSource, '3']);
    expect(record.code).toBe(0);
    const body = JSON.parse(record.stdout);
    expect(body).toMatchObject({ sourceId: csvSource, seq: 3, id: 'c2', status: 'delivered' });
    expect(Object.keys(body.stages)).toEqual(['inbound', 'preprocess', 'core', 'postprocess', 'outbound']);
    const human = await cli(['status', csvSource, '3']);
    expect(human.stdout).toMatch(/status\s+delivered/);
    expect(human.stdout).toMatch(/workflow\s+record:.*:3/);
  });

  it('verifies the invariants from Postgres (exit 0), and fails on a broken order or, with --drained, an open record (exit 1)', async () => {
    const ok = await cli(['verify', '--drained', '--source-prefix', prefix]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/result\s+OK/);
    expect(ok.stdout).toMatch(/records\s+delivered 37/);
    // Break guarantee 3 in a copy of a source: a row of seq 1 written after seq 2. Its two records
    // are copied as blocked at core (open, and left alone by the relay).
    const broken = uniqueSource('cli-broken');
    await db.pool.query('INSERT INTO sources (source_id, last_seq) VALUES ($1, 2)', [broken]);
    await db.pool.query(
      `INSERT INTO records (source_id, seq, record_id, payload, payload_hash, status, blocked_stage)
       SELECT $1, seq, record_id, payload, payload_hash, 'blocked', 'core' FROM records WHERE source_id = $2 AND seq IN (1, 2)`,
      [broken, jsonlSource],
    );
    await db.pool.query(
      `INSERT INTO stage_core (source_id, seq, region, epoch, output)
       SELECT $1, seq, region, epoch, output FROM stage_core WHERE source_id = $2 AND seq IN (1, 2) ORDER BY seq DESC`,
      [broken, jsonlSource],
    );
    const bad = await cli(['verify', '--source-prefix', broken]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`pipeline: error: invariants violated: stage_core: 1 rows of ${broken} out of seq order (first at seq 1)\n`);
    const open = await cli(['verify', '--source-prefix', broken, '--drained']);
    expect(open.code).toBe(1);
    expect(open.stderr).toMatch(new RegExp(`; 2 records still open \\(first: ${broken} #1 blocked at core\\)\n$`));
    expect(open.stdout).toMatch(
      new RegExp(`open records:\nsourceId\\s+seq\\s+status\\s+stage\\s+region\n${broken}\\s+1\\s+blocked\\s+core\\s+-\n`),
    );
    await db.pool.query('DELETE FROM stage_core WHERE source_id = $1', [broken]);
    await db.pool.query('DELETE FROM records WHERE source_id = $1', [broken]);
    await db.pool.query('DELETE FROM sources WHERE source_id = $1', [broken]);
  });

  it('lists the worker processes', async () => {
    const run = await cli(['workers']);
    expect(run.code).toBe(0);
    const rows = run.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^region\s+stage\s+pid\s+state\s+restarts/);
    expect(rows.filter((r) => /^(east|west)\s+\S+\s+\d+\s+running/.test(r))).toHaveLength(12);
  });

  it('fails and recovers a stage: records wait at it, then go on', async () => {
    const fail = await cli(['fail', 'east', 'core']);
    expect(fail).toMatchObject({ code: 0, stdout: 'east/core: dependency failing (records wait at this stage, in order)\n' });
    const source = uniqueSource('cli-fault');
    const file = write('fault.jsonl', '{"id":"f1","amount":1}\n{"id":"f2","amount":2}\n');
    expect((await cli(['submit', source, file])).code).toBe(0);
    await waitFor(
      'preprocess done while core fails',
      async () => {
        const s = JSON.parse((await cli(['--json', 'status', source])).stdout);
        return s.watermarks.preprocess >= 1 && s.watermarks.core === 0;
      },
      60_000,
    );
    const held = JSON.parse((await cli(['--json', 'status', source])).stdout);
    expect(held.watermarks.core).toBe(0);
    const recover = await cli(['recover', 'east', 'core']);
    expect(recover).toMatchObject({ code: 0, stdout: 'east/core: dependency recovered\n' });
    expect((await cli(['watch', source, '--interval', '300', '--timeout', '120'])).code).toBe(0);
  });

  it('reports bad input as one clear line and a non-zero exit, sending nothing', async () => {
    const missing = await cli(['submit', 'cli-bad', path.join(dir, 'nope.jsonl')]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toBe(`pipeline: error: ${path.join(dir, 'nope.jsonl')}: no such file\n`);

    const file = write('bad.jsonl', '{"id":"ok1","amount":1}\n{"id":"ok2", amount: 2}\n{"id":"ok3","amount":3}\n');
    const badLine = await cli(['submit', 'cli-bad', file]);
    expect(badLine.code).not.toBe(0);
    expect(badLine.stderr.trim().split('\n')).toHaveLength(1);
    expect(badLine.stderr).toMatch(/^pipeline: error: .*bad\.jsonl line 2: not valid JSON .*; nothing was sent\n$/);
    const csv = write('bad.csv', 'id,amount\nr1,1\nr2,2,3\n');
    const badCsv = await cli(['submit', 'cli-bad', csv]);
    expect(badCsv.code).not.toBe(0);
    expect(badCsv.stderr).toMatch(/^pipeline: error: .*bad\.csv line 3: 3 fields where the header has 2; nothing was sent\n$/);
    const absent = await cli(['status', 'cli-bad']);
    expect(absent.code).not.toBe(0);
    expect(absent.stderr).toBe('pipeline: error: 404 source_not_found: no source cli-bad\n');

    // The API refuses a batch (the same id with another payload): the summary says so, exit 1.
    const conflict = write(
      'conflict.jsonl',
      `${JSON.stringify({ id: 'j0', amount: 999 })}\n${JSON.stringify({ id: 'new1', amount: 1 })}\n`,
    );
    const refused = await cli(['submit', jsonlSource, conflict]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/rejected\s+2 \(lines 1-2: id_conflict\)/);
    expect(refused.stderr).toMatch(
      /^pipeline: error: batch of lines 1-2 rejected: 409 id_conflict: .*j0.* \(conflicting ids on lines 1\); 0 records not sent\n$/,
    );

    const closedPort = await freePort();
    const down = await cli(['workers'], { PIPELINE_URL: `http://127.0.0.1:${closedPort}` });
    expect(down.code).not.toBe(0);
    expect(down.stderr).toBe(
      `pipeline: error: cannot reach the API at http://127.0.0.1:${closedPort} (ECONNREFUSED); is it running? set PIPELINE_URL or --url\n`,
    );
  });
});
