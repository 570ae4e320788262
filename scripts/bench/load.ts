// Record-by-record publishers on one kept-alive connection: the submit latency while the pipeline
// works, and a sustained load at a fixed rate (a share of the capacity measured in the same run).
import { deliveredCount, latencies, sourceIds, submitBulk, waitDelivered, type Bench, type Latency } from './pipeline';
import { waitFor } from '../../harness/system';
import { KeptAliveClient } from './kept-alive';
import { percentile } from './stats';

export interface SubmitTimes {
  count: number;
  p50: number;
  p99: number;
  max: number;
  /** Connections the requests used (1: every request on the kept-alive one). */
  connections: number;
  /** Records delivered while the submits ran. */
  deliveredMeanwhile: number;
  seconds: number;
}

export interface BusySubmitTimes extends SubmitTimes {
  /** Records submitted in bulk just before, being delivered while these submits run (0: none). */
  busy: number;
}

function summary(ms: number[], connections: number, deliveredMeanwhile: number, seconds: number): SubmitTimes {
  return {
    count: ms.length,
    p50: percentile(ms, 0.5),
    p99: percentile(ms, 0.99),
    max: Math.max(...ms),
    connections,
    deliveredMeanwhile,
    seconds,
  };
}

/**
 * `count` records, one per request, back to back over `sources` sources, while the pipeline is busy
 * delivering: first `busy` records in bulk over other sources, and the submits begin once the
 * first of those is delivered (0: on an idle pipeline). Then waits for every delivery.
 */
export async function runSubmitLatency(b: Bench, count: number, sources: number, busy = 0): Promise<BusySubmitTimes> {
  const ids = sourceIds('submit', sources);
  const busyIds = busy > 0 ? sourceIds('submit-busy', sources) : [];
  const perBusySource = Math.ceil(busy / sources);
  const busyTotal = perBusySource * busyIds.length;
  const delivered = () => deliveredCount(b.pool, [...ids, ...busyIds]);
  if (busyTotal > 0) {
    await submitBulk(b, busyIds, perBusySource);
    await waitFor('the busy load to deliver', async () => (await deliveredCount(b.pool, busyIds)) > 0, b.timeoutMs, 50);
  }
  const http = new KeptAliveClient(b.sys.url);
  const ms: number[] = [];
  const before = await delivered();
  const started = Date.now();
  try {
    for (let i = 0; i < count; i++) {
      const r = await http.submitOne(ids[i % sources], `r${i}`, { amount: i, note: 'submit' });
      if (r.status !== 202) throw new Error(`submit answered ${r.status}`);
      ms.push(r.ms);
    }
  } finally {
    http.close();
  }
  const seconds = (Date.now() - started) / 1000;
  const meanwhile = (await delivered()) - before;
  await waitDelivered(b, ids, count, 'submits', started);
  if (busyTotal > 0) await waitDelivered(b, busyIds, busyTotal, 'busy load', started);
  return { ...summary(ms, http.connections, meanwhile, seconds), busy: busyTotal };
}

export interface Sustained extends Latency {
  targetPerS: number;
  submittedPerS: number;
  records: number;
  /** Submitted but not delivered when the load stopped. */
  behindAtEnd: number;
  submits: SubmitTimes;
}

/**
 * Submits records at `perS` for `seconds`, one per request on one kept-alive connection, round-robin
 * over the sources (record i is `r<i>`); `onEach` runs after each accepted one, with its count and
 * the submit's milliseconds. Returns how many were submitted, and over how many connections.
 */
export async function publishAtRate(
  b: Bench,
  ids: string[],
  perS: number,
  seconds: number,
  note: string,
  onEach: (submitted: number, ms: number) => Promise<void> | void,
): Promise<{ submitted: number; connections: number }> {
  const http = new KeptAliveClient(b.sys.url);
  const started = Date.now();
  let i = 0;
  try {
    while (Date.now() - started < seconds * 1000) {
      const due = started + (i * 1000) / perS;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const r = await http.submitOne(ids[i % ids.length], `r${i}`, { amount: i, note });
      if (r.status !== 202) throw new Error(`submit answered ${r.status}`);
      i += 1;
      await onEach(i, r.ms);
    }
  } finally {
    http.close();
  }
  return { submitted: i, connections: http.connections };
}

/** Records at `perS` for `seconds`, one per request, round-robin over `sources`; accept -> delivered once all are in. */
export async function runSustained(b: Bench, perS: number, seconds: number, sources: number): Promise<Sustained> {
  const ids = sourceIds('sustained', sources);
  const ms: number[] = [];
  const started = Date.now();
  const { submitted: i, connections } = await publishAtRate(b, ids, perS, seconds, 'sustained', (n, took) => {
    ms.push(took);
    if (n % 50 === 0) process.stdout.write(`\r  sustained: ${n} submitted, ${((Date.now() - started) / 1000).toFixed(0)} s   `);
  });
  const loadS = (Date.now() - started) / 1000;
  process.stdout.write('\n');
  const delivered = await deliveredCount(b.pool, ids);
  await waitDelivered(b, ids, i, 'sustained drain', started);
  return {
    ...(await latencies(b.pool, ids)),
    targetPerS: perS,
    submittedPerS: i / loadS,
    records: i,
    behindAtEnd: i - delivered,
    submits: summary(ms, connections, delivered, loadS),
  };
}
