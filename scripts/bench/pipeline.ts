// The pipeline's runs: N sources x M records submitted as fast as the API takes them, lone records
// on the idle system, and the queries every scenario shares (deliveries, accept -> delivered).
import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import type { Client } from '@temporalio/client';
import type { Pool } from '../../src/db/pool';
import { recordWorkflowId, STAGES, type Stage } from '../../src/contracts/names';
import { stageTable } from '../../src/db/stages';
import { countActions, type ActionCount } from './actions';
import { submit, waitFor, type RecordIn, type System } from '../../harness/system';

/** What every scenario works with. */
export interface Bench {
  sys: System;
  pool: Pool;
  client: Client;
  dbName: string;
  timeoutMs: number;
  /** Records per submit request in the bulk runs. */
  batch: number;
}

export const sourceIds = (label: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${label}-${i}-${randomBytes(2).toString('hex')}`);

export async function deliveredCount(pool: Pool, ids: string[]): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM deliveries WHERE source_id = ANY($1)', [ids]);
  return rows[0].n;
}

/** Waits until the sources have `total` deliveries, with a progress line. */
export async function waitDelivered(b: Bench, ids: string[], total: number, label: string, started: number): Promise<void> {
  let last = -1;
  await waitFor(
    `${total} deliveries`,
    async () => {
      const n = await deliveredCount(b.pool, ids);
      if (n !== last) {
        last = n;
        process.stdout.write(`\r  ${label}: ${n}/${total} delivered, ${((Date.now() - started) / 1000).toFixed(1)} s   `);
      }
      return n === total;
    },
    b.timeoutMs,
    250,
  );
  process.stdout.write('\n');
}

export interface Latency {
  /** From the first accept to the last delivery, seconds. */
  span: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Accept -> delivered of the sources' delivered records (seq > afterSeq), seconds. */
export async function latencies(pool: Pool, ids: string[], afterSeq = 0): Promise<Latency> {
  const { rows } = await pool.query<Latency>(
    `SELECT extract(epoch FROM max(d.delivered_at) - min(r.accepted_at))::float8 AS span,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.delivered_at - r.accepted_at)) AS p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM d.delivered_at - r.accepted_at)) AS p95,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM d.delivered_at - r.accepted_at)) AS p99,
            max(extract(epoch FROM d.delivered_at - r.accepted_at))::float8 AS max
       FROM deliveries d JOIN records r USING (source_id, seq) WHERE d.source_id = ANY($1) AND d.seq > $2`,
    [ids, afterSeq],
  );
  const r = rows[0];
  return { span: Number(r.span), p50: Number(r.p50), p95: Number(r.p95), p99: Number(r.p99), max: Number(r.max) };
}

/** Submits in flight at once: under the API's in-flight bound (a 503 past it), so that 200 sources do not trip it. */
const SUBMIT_CONCURRENCY = 32;

/** Every source's records in batches, sources in parallel, each source's batches in order (seqs follow submission order). */
export async function submitBulk(b: Bench, ids: string[], perSource: number): Promise<void> {
  const limit = pLimit(SUBMIT_CONCURRENCY);
  await Promise.all(
    ids.map((s) =>
      limit(async () => {
        for (let from = 0; from < perSource; from += b.batch) {
          const records: RecordIn[] = Array.from({ length: Math.min(b.batch, perSource - from) }, (_, i) => ({
            id: `r${from + i}`,
            payload: { amount: i, batch: from / b.batch, note: 'bench' },
          }));
          const res = await submit(b.sys.url, s, records);
          if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${JSON.stringify(res.body)}`);
        }
      }),
    ),
  );
}

/** Actions per record, averaged over a sample of the sources' histories. */
export async function actionsPerRecord(client: Client, ids: string[], perSource: number): Promise<ActionCount> {
  const sample = Array.from({ length: Math.min(30, ids.length * perSource) }, (_, i) => ({
    source: ids[i % ids.length],
    seq: 1 + ((i * 7) % perSource),
  }));
  const sum: ActionCount = { total: 0, starts: 0, activityAttempts: 0, signals: 0, timers: 0, upserts: 0 };
  for (const s of sample) {
    const c = countActions(await client.workflow.getHandle(recordWorkflowId(s.source, s.seq)).fetchHistory());
    for (const k of Object.keys(sum) as (keyof ActionCount)[]) sum[k] += c[k] / sample.length;
  }
  return sum;
}

/**
 * Per stage, the share of its writes at which the source's next record was already waiting there:
 * it had passed the previous stage (for inbound: its workflow had started) before this write's
 * transaction began. Only those writes' NOTIFY wakes anyone in a worker; the rest are sent for no one.
 */
export async function successorWaiting(pool: Pool, ids: string[]): Promise<Record<Stage, number>> {
  const out = {} as Record<Stage, number>;
  for (const [i, stage] of STAGES.entries()) {
    const ready =
      i === 0
        ? 'SELECT source_id, seq, started_at AS at FROM records'
        : `SELECT source_id, seq, written_at AS at FROM ${stageTable(STAGES[i - 1])}`;
    const { rows } = await pool.query<{ share: number | null }>(
      `SELECT avg((n.at < t.written_at)::int)::float8 AS share
         FROM ${stageTable(stage)} t JOIN (${ready}) n ON n.source_id = t.source_id AND n.seq = t.seq + 1
        WHERE t.source_id = ANY($1)`,
      [ids],
    );
    out[stage] = rows[0].share ?? 0;
  }
  return out;
}

export interface RunResult extends Latency {
  records: number;
  acceptedPerS: number;
  deliveredPerS: number;
  actions: ActionCount;
  /** successorWaiting of the run's sources. */
  successorWaiting: Record<Stage, number>;
}

/** `prepare`: what is done to the sources before their records are submitted (their destination, say). */
export async function runPipeline(
  b: Bench,
  label: string,
  sources: number,
  perSource: number,
  prepare?: (ids: string[]) => Promise<void>,
): Promise<RunResult> {
  const ids = sourceIds(label, sources);
  const total = sources * perSource;
  await prepare?.(ids);
  const started = Date.now();
  await submitBulk(b, ids, perSource);
  const acceptedMs = Date.now() - started;
  await waitDelivered(b, ids, total, label, started);
  const lat = await latencies(b.pool, ids);
  return {
    ...lat,
    records: total,
    acceptedPerS: total / (acceptedMs / 1000),
    deliveredPerS: total / lat.span,
    actions: await actionsPerRecord(b.client, ids, perSource),
    successorWaiting: await successorWaiting(b.pool, ids),
  };
}

/** Lone records, one at a time on the idle system (after one warm-up record): p50 of delivered_at - accepted_at, seconds. */
export async function pipelineIdleLatency(b: Bench, count: number): Promise<number> {
  const [source] = sourceIds('idle', 1);
  for (let i = 0; i <= count; i++) {
    const res = await submit(b.sys.url, source, [{ id: `r${i}`, payload: { note: 'idle' } }]);
    if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${JSON.stringify(res.body)}`);
    await waitFor(`idle record ${i + 1}`, async () => (await deliveredCount(b.pool, [source])) === i + 1, 60_000, 10);
  }
  return (await latencies(b.pool, [source], 1)).p50;
}
