// Replays every saved history (test/histories, as the Temporal CLI exports them) against today's
// workflow code: an incompatible change to the workflow fails here, before it reaches a worker.
import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker, type ReplayWorkerOptions } from '@temporalio/worker';

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '..', '..');
const DIR = path.join(ROOT, 'test', 'histories');
const files = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();
const histories = () =>
  files.map((f) => ({
    workflowId: f.replace(/\.json$/, ''),
    history: historyFromJSON(JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8'))),
  }));

async function replayAll(options: ReplayWorkerOptions) {
  const results: { workflowId: string; error?: Error }[] = [];
  for await (const r of Worker.runReplayHistories(options, histories())) results.push({ workflowId: r.workflowId, error: r.error });
  return results;
}

const quiet = { info() {}, warn() {}, error() {}, debug() {}, trace() {}, log() {} } as never;
const variant = async (name: string) => ({
  workflowBundle: await bundleWorkflowCode({ workflowsPath: path.join(__dirname, 'variants', `${name}.ts`), logger: quiet }),
});

describe('saved workflow histories', () => {
  it("cover every path the record workflow takes, as today's starts take it (the fast gate) and as older runs did", () => {
    expect(files).toEqual(
      expect.arrayContaining([
        // Today's starts (input gate: 'fast'): npm run histories:capture.
        'fast-gate-clean-run.json',
        'fast-gate-waited-for-predecessor.json',
        'fast-gate-dependency-failure-retries.json',
        'fast-gate-blocked-then-skipped.json',
        'fast-gate-blocked-then-retried.json',
        'fast-gate-continued-as-new.json',
        'fast-gate-waited-for-fallback-recheck.json',
        'fast-gate-superseded-by-failover.json',
        'fast-gate-recovered-in-standby-region.json',
        // Runs of earlier code, which may still be in flight when a worker is upgraded.
        'clean-run.json',
        'dependency-failure-retries.json',
        'blocked-then-skipped.json',
        'blocked-then-retried.json',
        'superseded-by-failover.json',
        'waited-for-predecessor-signal.json',
        'waited-for-fallback-recheck.json',
        'recovered-in-standby-region.json',
        'blocked-then-retried-patched.json',
        'continued-as-new.json',
      ]),
    );
  });

  it('replay without nondeterminism against the built workflow bundle', async () => {
    const results = await replayAll({ workflowBundle: { codePath: path.join(ROOT, 'dist', 'workflow-bundle.js') } });
    expect(results.map((r) => ({ id: r.workflowId, error: r.error?.message }))).toEqual(
      files.map((f) => ({ id: f.replace(/\.json$/, ''), error: undefined })),
    );
  });

  it("replay as well against the traced bundle (tracing on: Temporal's OpenTelemetry workflow interceptors)", async () => {
    const results = await replayAll({ workflowBundle: { codePath: path.join(ROOT, 'dist', 'workflow-bundle-traced.js') } });
    expect(results.map((r) => ({ id: r.workflowId, error: r.error?.message }))).toEqual(
      files.map((f) => ({ id: f.replace(/\.json$/, ''), error: undefined })),
    );
  });

  it('fail on a deliberately incompatible change, and pass when the change is behind patched()', async () => {
    const broken = await replayAll(await variant('incompatible'));
    expect(broken.length).toBe(files.length);
    for (const r of broken)
      expect({ id: r.workflowId, error: r.error?.message }).toEqual({ id: r.workflowId, error: expect.stringMatching(/nondetermin/i) });
    const fixed = await replayAll(await variant('patched'));
    expect(fixed.filter((r) => r.error).map((r) => `${r.workflowId}: ${r.error?.message}`)).toEqual([]);
  });
});
