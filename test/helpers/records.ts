// Random records for tests, and waiting for a set of sources to be delivered.
import { randomBytes } from 'node:crypto';
import type { Pool } from '../../src/db/pool';

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

/** Per table: the seqs of each source in id order. */
export async function seqsInIdOrder(pool: Pool, table: string, sourceId: string): Promise<number[]> {
  const { rows } = await pool.query<{ seq: number }>(`SELECT seq FROM ${table} WHERE source_id = $1 ORDER BY id`, [sourceId]);
  return rows.map((r) => r.seq);
}
