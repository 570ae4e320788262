// Tracing on (OTEL_EXPORTER_OTLP_ENDPOINT set): the whole system sends its spans to a small OTLP
// receiver on loopback, and one record's spans form one trace, rooted at its submit request,
// through the API, the workflow worker and the five stage workers.
import fs from 'node:fs';
import path from 'node:path';
import { STAGES } from '../../src/contracts/names';
import { createTestDb, type TestDb } from '../helpers/db';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver';
import { randomBatch, uniqueSource } from '../helpers/records';
import { api, startSystem, submit, waitFor, stopAndRemove, type System } from '../helpers/system';

jest.setTimeout(300_000);

/** Where the captured span tree is written (docs/tracing.md shows it). */
const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts');

let db: TestDb;
let sys: System;
let otlp: OtlpReceiver;

beforeAll(async () => {
  otlp = await startOtlpReceiver();
  db = await createTestDb('e2e_tracing');
  sys = await startSystem({
    databaseUrl: db.url,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      STAGE_DELAY_MS: '10',
      // The stage activities' per-record lines ("stage written") are debug lines.
      LOG_LEVEL: 'debug',
    },
  });
});
afterAll(async () => {
  if (sys) await stopAndRemove(sys);
  await db?.drop();
  await otlp?.close();
});

interface RecordBody {
  status: string;
  traceId: string | null;
}

/** The record's trace id, once it is delivered. */
async function deliveredTrace(sourceId: string, seq: number): Promise<string> {
  const rec = await waitFor(
    `${sourceId}#${seq} delivered`,
    async () => {
      const r = await api<RecordBody>(`${sys.url}/v1/sources/${sourceId}/records/${seq}`, 'GET');
      return r.body.status === 'delivered' && r.body;
    },
    120_000,
  );
  expect(rec.traceId).toMatch(/^[0-9a-f]{32}$/);
  return rec.traceId!;
}

const spansOf = (traceId: string) => otlp.spans.filter((s) => s.traceId === traceId);

/** The trace once its last spans (the delivery, the workflow run's end) have been exported. */
async function completeTrace(traceId: string): Promise<ReceivedSpan[]> {
  await waitFor(
    `the spans of trace ${traceId}`,
    async () => {
      const names = new Set(spansOf(traceId).map((s) => s.name));
      return names.has('delivery') && names.has('RunActivity:outbound') && names.has('RunWorkflow:recordWorkflow');
    },
    60_000,
    200,
  );
  // Stragglers of other processes (each exports every 200 ms).
  await new Promise((r) => setTimeout(r, 1500));
  return spansOf(traceId);
}

/** Names of a span and its ancestors, from the root down (`service/name`). */
function lineage(spans: ReceivedSpan[], span: ReceivedSpan): string[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const out: string[] = [];
  for (let s: ReceivedSpan | undefined = span; s; s = s.parentSpanId ? byId.get(s.parentSpanId) : undefined)
    out.unshift(`${s.service}/${s.name}`);
  return out;
}

/** The trace as an indented tree (service, span, record attributes), for docs/tracing.md. */
function renderTree(spans: ReceivedSpan[]): string {
  const children = (id: string | undefined) => spans.filter((s) => s.parentSpanId === id);
  const lines: string[] = [];
  const walk = (s: ReceivedSpan, depth: number) => {
    const keys = Object.entries(s.attributes)
      .filter(([k]) => k.startsWith('pipeline.'))
      .map(([k, v]) => `${k.slice('pipeline.'.length)}=${v}`);
    lines.push(`${'  '.repeat(depth)}${s.name}  [${s.service}]${keys.length ? `  ${keys.join(' ')}` : ''}`);
    for (const c of children(s.spanId)) walk(c, depth + 1);
  };
  for (const root of children(undefined)) walk(root, 0);
  return lines.join('\n') + '\n';
}

const only = (spans: ReceivedSpan[], name: string, service?: string): ReceivedSpan => {
  const found = spans.filter((s) => s.name === name && (!service || s.service === service));
  expect({ name, count: found.length }).toEqual({ name, count: 1 });
  return found[0];
};

describe('one trace per record', () => {
  it('follows a record from its submit through the workflow and all five stages, across processes', async () => {
    const sourceId = uniqueSource('traced');
    const answer = await submit(sys.url, sourceId, randomBatch('one', 1));
    expect(answer.status).toBe(202);
    const traceId = await deliveredTrace(sourceId, 1);
    const spans = await completeTrace(traceId);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    fs.writeFileSync(path.join(ARTIFACTS, 'trace-tree.txt'), renderTree(spans));

    // One root, the submit request in the API; every other span's parent is in the trace.
    const roots = spans.filter((s) => !s.parentSpanId);
    expect(roots.map((s) => `${s.service}/${s.name}`)).toEqual(['record-pipeline-api/request']);
    expect(roots[0].attributes).toMatchObject({ 'http.request.method': 'POST', 'url.path': `/v1/sources/${sourceId}/records` });
    const ids = new Set(spans.map((s) => s.spanId));
    expect(spans.filter((s) => s.parentSpanId && !ids.has(s.parentSpanId)).map((s) => `${s.service}/${s.name}`)).toEqual([]);

    // The workflow start (in the API) and the run (in the workflow worker) under the request.
    const run = only(spans, 'RunWorkflow:recordWorkflow', 'record-pipeline-worker-east-workflows');
    expect(lineage(spans, run)).toEqual([
      'record-pipeline-api/request',
      expect.stringMatching(/^record-pipeline-api\/handler - /),
      'record-pipeline-api/start workflow',
      'record-pipeline-api/StartWorkflow:recordWorkflow',
      'record-pipeline-worker-east-workflows/RunWorkflow:recordWorkflow',
    ]);
    // The record's key on the submit's handler span, the one stored with the record.
    expect(spans.find((s) => s.name.startsWith('handler - '))?.attributes).toMatchObject({
      'pipeline.source_id': sourceId,
      'pipeline.seq': 1,
    });
    const start = only(spans, 'start workflow');
    expect(start.attributes).toMatchObject({ 'pipeline.source_id': sourceId, 'pipeline.seq': 1, 'pipeline.region': 'east' });

    // Each stage: scheduled once by the workflow, run by that stage's own worker process (once
    // per attempt: a dependency failure, e.g. Postgres refusing connections, retries it) with the
    // record's attributes, and its transaction (the outbound one writes the delivery) inside.
    for (const stage of STAGES) {
      const worker = `record-pipeline-worker-east-${stage}`;
      const scheduled = only(spans, `StartActivity:${stage}`, 'record-pipeline-worker-east-workflows');
      expect(scheduled.parentSpanId).toBe(run.spanId);
      const attempts = spans.filter((s) => s.name === `RunActivity:${stage}`);
      expect(attempts.length).toBeGreaterThanOrEqual(1);
      for (const act of attempts) {
        expect({ service: act.service, parent: act.parentSpanId }).toEqual({ service: worker, parent: scheduled.spanId });
        expect(act.attributes).toMatchObject({
          'pipeline.source_id': sourceId,
          'pipeline.seq': 1,
          'pipeline.stage': stage,
          'pipeline.region': 'east',
          'pipeline.epoch': expect.any(Number),
        });
      }
      const ids = new Set(attempts.map((a) => a.spanId));
      const txName = stage === 'outbound' ? 'delivery' : 'stage write';
      const done = spans.filter((s) => ids.has(s.parentSpanId!) && s.name === txName && s.attributes['pipeline.outcome'] === 'done');
      expect({ stage, committed: done.length }).toEqual({ stage, committed: 1 });
      expect(done[0].attributes).toMatchObject({ 'pipeline.stage': stage, 'pipeline.seq': 1, 'pipeline.source_id': sourceId });
      // pg's own instrumentation: the transaction's queries are its children.
      expect(spans.filter((s) => s.parentSpanId === done[0].spanId && s.scope.includes('instrumentation-pg')).length).toBeGreaterThan(2);
    }
    expect(new Set(spans.map((s) => s.service)).size).toBeGreaterThanOrEqual(7);

    // The trace id is in the record's log lines (the API's "records accepted").
    const apiLog = fs.readFileSync(path.join(sys.dataDir, 'logs', 'api.log'), 'utf8');
    const accepted = apiLog
      .split('\n')
      .filter((l) => l.includes('"records accepted"') && l.includes(sourceId))
      .map((l) => JSON.parse(l) as { trace_id?: string });
    expect(accepted.map((l) => l.trace_id)).toEqual([traceId]);
    // And in the stage workers' lines about it (logged inside its RunActivity span).
    for (const stage of STAGES) {
      const log = fs.readFileSync(path.join(sys.dataDir, 'logs', `worker-east-${stage}.log`), 'utf8');
      const written = log
        .split('\n')
        .filter((l) => l.includes('"stage written"') && l.includes(sourceId))
        .map((l) => JSON.parse(l) as { trace_id?: string });
      expect({ stage, traces: [...new Set(written.map((l) => l.trace_id))] }).toEqual({ stage, traces: [traceId] });
    }
  });

  it('gives each record of a batch its own trace, linked to the batch request, whichever path starts its workflow', async () => {
    // START_WINDOW is 4: records 5 and 6 are started later, by the start window (or the relay),
    // outside the request, in the context stored with them.
    const sourceId = uniqueSource('batch');
    const answer = await submit(sys.url, sourceId, randomBatch('b', 6));
    expect(answer.status).toBe(202);
    const traces = [];
    for (let seq = 1; seq <= 6; seq++) traces.push(await deliveredTrace(sourceId, seq));
    expect(new Set(traces).size).toBe(6);

    const request = otlp.spans.find(
      (s) => s.name === 'request' && s.attributes['url.path'] === `/v1/sources/${sourceId}/records` && s.service === 'record-pipeline-api',
    );
    expect(request).toBeDefined();
    expect(traces).not.toContain(request!.traceId);
    const requestTrace = new Set(spansOf(request!.traceId).map((s) => s.spanId));
    for (const [i, traceId] of traces.entries()) {
      const seq = i + 1;
      const spans = await completeTrace(traceId);
      if (seq === 6) fs.writeFileSync(path.join(ARTIFACTS, 'trace-tree-batch-6.txt'), renderTree(spans));
      const roots = spans.filter((s) => !s.parentSpanId);
      expect(roots.map((s) => s.name)).toEqual(['record accepted']);
      expect(roots[0].attributes).toMatchObject({ 'pipeline.source_id': sourceId, 'pipeline.seq': seq });
      expect(roots[0].links).toHaveLength(1);
      expect(roots[0].links[0].traceId).toBe(request!.traceId);
      expect(requestTrace.has(roots[0].links[0].spanId)).toBe(true);
      const start = only(spans, 'start workflow');
      expect(start.parentSpanId).toBe(roots[0].spanId);
      expect({ seq, by: start.attributes['pipeline.started_by'] }).toEqual({
        seq,
        by: seq <= 4 ? 'submit' : expect.stringMatching(/^(window|relay)$/),
      });
      // The workflow and all five stages are in the record's trace, under its start.
      const run = only(spans, 'RunWorkflow:recordWorkflow');
      expect(lineage(spans, run).slice(0, 3)).toEqual([
        'record-pipeline-api/record accepted',
        'record-pipeline-api/start workflow',
        'record-pipeline-api/StartWorkflow:recordWorkflow',
      ]);
      for (const stage of STAGES)
        expect(
          lineage(
            spans,
            spans.find((s) => s.name === `RunActivity:${stage}`)!,
          ),
        ).toHaveLength(6);
      // A wait behind the predecessor (likely in a batch, not certain) is inside its stage's activity.
      for (const wait of spans.filter((s) => s.name === 'gate wait')) {
        const parent = spans.find((s) => s.spanId === wait.parentSpanId);
        expect(parent?.name).toBe(`RunActivity:${String(wait.attributes['pipeline.stage'])}`);
      }
    }
  });
});
