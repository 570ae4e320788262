// npm run overload: a bounded loopback overload of the submit route. Many publishers, each with its
// own source key, send batches as fast as they can; the in-flight bound answers 503 and the per-key
// rate limit 429, quickly, while every accepted (202) record must be in Postgres exactly once.
//   npm run overload -- --seconds 20 --clients 100 --sources 16 --batch 20 --inflight 8 --rate 600
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Pool } from '../src/db/pool';
import { verifyInvariants, violations } from '../src/db/verify';
import { createScratchDb } from '../harness/scratch-db';
import { api, startSystem, stopAndRemove, submit, type Accepted } from '../harness/system';

export interface OverloadOptions {
  url: string;
  adminToken: string;
  sources: number;
  clients: number;
  batch: number;
  /** Stop sending after this long or this many requests, whichever comes first. */
  durationMs: number;
  maxRequests?: number;
}

export interface Latencies {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface OverloadResult {
  sent: number;
  byStatus: Record<string, Latencies>;
  /** Every record a 202 answer accepted: source -> client id -> seq. */
  accepted: Map<string, Map<string, number>>;
  /** Answers that were not JSON {error, message} or a 202 with records. */
  malformed: string[];
  sourceIds: string[];
  seconds: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

function summarise(ms: number[]): Latencies {
  const sorted = [...ms].sort((a, b) => a - b);
  return { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? 0 };
}

export async function runOverload(o: OverloadOptions): Promise<OverloadResult> {
  const run = randomBytes(3).toString('hex');
  const sourceIds = Array.from({ length: o.sources }, (_, i) => `ovl-${run}-${i}`);
  const keys: string[] = [];
  for (const s of sourceIds) {
    const res = await api<{ key: string }>(`${o.url}/v1/admin/sources/${s}/keys`, 'POST', undefined, { token: o.adminToken });
    if (res.status !== 201) throw new Error(`could not create a key for ${s}: ${res.status}`);
    keys.push(res.body.key);
  }
  const latencies = new Map<number, number[]>();
  const accepted = new Map<string, Map<string, number>>(sourceIds.map((s) => [s, new Map()]));
  const malformed: string[] = [];
  let sent = 0;
  const started = performance.now();
  const deadline = started + o.durationMs;
  const more = () => performance.now() < deadline && (o.maxRequests === undefined || sent < o.maxRequests);

  await Promise.all(
    Array.from({ length: o.clients }, async (_, c) => {
      const s = c % o.sources;
      for (let n = 0; more(); n++) {
        sent++;
        const records = Array.from({ length: o.batch }, (_, i) => ({ id: `c${c}-${n}-${i}`, payload: { client: c, n, i } }));
        const t0 = performance.now();
        let status = 0;
        try {
          const res = await submit<Partial<Accepted> & { error?: string; message?: string }>(o.url, sourceIds[s], records, {
            token: keys[s],
          });
          status = res.status;
          if (status === 202 && res.body.records?.length === o.batch) {
            for (const r of res.body.records) accepted.get(sourceIds[s])!.set(r.id, r.seq);
          } else if (status === 202 || typeof res.body?.error !== 'string' || typeof res.body?.message !== 'string') {
            malformed.push(`${status} ${JSON.stringify(res.body).slice(0, 200)}`);
          }
          if (status === 429 || status === 503) {
            // A polite client waits as told; a short pause keeps this a bounded overload, not a spin.
            await new Promise((r) => setTimeout(r, 20));
          }
        } catch (err) {
          malformed.push(`transport: ${(err as Error).message}`);
        }
        const list = latencies.get(status) ?? [];
        list.push(performance.now() - t0);
        latencies.set(status, list);
      }
    }),
  );
  const byStatus = Object.fromEntries([...latencies].map(([status, ms]) => [String(status), summarise(ms)]));
  return { sent, byStatus, accepted, malformed, sourceIds, seconds: (performance.now() - started) / 1000 };
}

/**
 * Compares the tables with what 202 answers said (each accepted record once, at the seq it was
 * given, nothing else), and adds what the shared checker finds wrong with these sources (no gaps in
 * their seqs among it).
 */
export async function verifyAccepted(pool: Pool, result: OverloadResult): Promise<string[]> {
  const problems: string[] = [];
  const { rows } = await pool.query<{ source_id: string; record_id: string; seq: string | number }>(
    'SELECT source_id, record_id, seq FROM records WHERE source_id = ANY($1::text[]) ORDER BY source_id, seq',
    [result.sourceIds],
  );
  const inDb = new Map<string, Map<string, number>>(result.sourceIds.map((s) => [s, new Map()]));
  for (const r of rows) {
    const m = inDb.get(r.source_id)!;
    if (m.has(r.record_id)) problems.push(`${r.source_id}/${r.record_id} twice`);
    m.set(r.record_id, Number(r.seq));
  }
  for (const s of result.sourceIds) {
    const want = result.accepted.get(s)!;
    const got = inDb.get(s)!;
    for (const [id, seq] of want)
      if (got.get(id) !== seq) problems.push(`${s}/${id}: accepted as seq ${seq}, in Postgres ${got.get(id) ?? 'missing'}`);
    for (const id of got.keys()) if (!want.has(id)) problems.push(`${s}/${id} in Postgres but never accepted`);
  }
  return [...problems, ...violations(await verifyInvariants(pool, { sources: result.sourceIds }))];
}

export function report(result: OverloadResult): string {
  const f = (n: number) => n.toFixed(1);
  const lines = [
    `${result.sent} requests in ${f(result.seconds)} s; accepted records: ${[...result.accepted.values()].reduce((n, m) => n + m.size, 0)}`,
    '| status | answers | p50 ms | p99 ms | max ms |',
    '|---|---|---|---|---|',
    ...Object.entries(result.byStatus).map(([s, l]) => `| ${s} | ${l.count} | ${f(l.p50)} | ${f(l.p99)} | ${f(l.max)} |`),
  ];
  return lines.join('\n');
}

async function main() {
  const { values: args } = parseArgs({
    options: {
      seconds: { type: 'string', default: '20' },
      clients: { type: 'string', default: '100' },
      sources: { type: 'string', default: '16' },
      batch: { type: 'string', default: '20' },
      inflight: { type: 'string', default: '8' },
      rate: { type: 'string', default: '600' },
    },
  });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const db = await createScratchDb('overload', process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  say(`starting the system (database ${db.name}; SUBMIT_MAX_INFLIGHT=${args.inflight}, RATE_LIMIT_PER_MINUTE=${args.rate})`);
  const sys = await startSystem({
    databaseUrl: db.url,
    env: { LOG_LEVEL: 'warn', SUBMIT_MAX_INFLIGHT: args.inflight, RATE_LIMIT_PER_MINUTE: args.rate },
  });
  try {
    say(`overload: ${args.clients} clients on ${args.sources} source keys, batches of ${args.batch}, ${args.seconds} s`);
    const result = await runOverload({
      url: sys.url,
      adminToken: sys.env.ADMIN_TOKEN!,
      sources: Number(args.sources),
      clients: Number(args.clients),
      batch: Number(args.batch),
      durationMs: Number(args.seconds) * 1000,
    });
    say(report(result));
    say(
      `load average during the run: ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} on ${os.cpus().length} cores`,
    );
    const problems = [...(await verifyAccepted(db.pool, result)), ...result.malformed];
    say(
      problems.length
        ? `PROBLEMS:\n${problems.slice(0, 20).join('\n')}`
        : 'every accepted record is in Postgres exactly once; nothing else was written',
    );
    process.exitCode = problems.length ? 1 : 0;
  } finally {
    await stopAndRemove(sys);
    await db.drop();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
