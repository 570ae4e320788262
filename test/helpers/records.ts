// Random records for tests, waiting for a set of sources to be delivered, and checking they were.
import { randomBytes } from 'node:crypto';
import type { Pool } from '../../src/db/pool';
import { verifyInvariants, violations } from '../../src/db/verify';

export function uniqueSource(label: string): string {
  return `${label}-${randomBytes(3).toString('hex')}`;
}

/** A batch of `n` records with random, processable payloads (amounts are numbers). */
export function randomBatch(prefix: string, n: number): { id: string; payload: Record<string, unknown> }[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}-${randomBytes(2).toString('hex')}`,
    payload: {
      amount: Math.round(Math.random() * 10_000) / 100,
      customer: `c${Math.floor(Math.random() * 1000)}`,
      items: Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => ({ amount: Math.floor(Math.random() * 50) })),
    },
  }));
}

export async function deliveredCount(pool: Pool, sources: string[]): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM deliveries WHERE source_id = ANY($1)', [sources]);
  return rows[0].n;
}

/**
 * Every record of each source delivered (`perSource` of them, when given), judged per source by the
 * shared checker (src/db/verify.ts) with nothing allowed open. Its checks (seqs 1..last_seq, one row
 * per delivered record in every stage table and in deliveries, no stray rows, id order is seq
 * order) make this: each table holds exactly the seqs 1..n of the source, in that order by id.
 */
export async function expectAllDelivered(pool: Pool, sources: string[], perSource?: number): Promise<void> {
  for (const source of sources) {
    const report = await verifyInvariants(pool, { sources: [source], expectDrained: true });
    const { delivered = 0, ...notDelivered } = report.records;
    expect({ source, violations: violations(report), notDelivered, delivered }).toEqual({
      source,
      violations: [],
      notDelivered: {},
      delivered: perSource ?? delivered,
    });
  }
}
