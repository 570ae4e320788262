// sources.destination, as the admin API sets and shows it (the stage that delivers reads it through
// src/destinations/destination.ts). One query per function, parameterised.
import { STAGES } from '../contracts/names';
import type { Pool } from './pool';

/**
 * Replaces the source's destination (`{}`: the table), creating the source if it has no row yet.
 * A webhook is stamped with the time it was set (`setAt`): a 410 answered to a call made before
 * then disables nothing. A new source gets its watermarks in the same statement, as its first
 * submit would have made them (the checkpoint makes them only for a source it creates itself).
 * Returns the stored JSON.
 */
export async function storeDestination(pool: Pool, sourceId: string, destination: object): Promise<unknown> {
  const { rows } = await pool.query<{ destination: unknown }>(
    `WITH source AS (
       INSERT INTO sources (source_id, destination)
       VALUES ($1, CASE WHEN $2::jsonb = '{}' THEN '{}'::jsonb ELSE $2::jsonb || jsonb_build_object('setAt', clock_timestamp()) END)
       ON CONFLICT (source_id) DO UPDATE SET destination = EXCLUDED.destination
       RETURNING destination
     ), marks AS (
       INSERT INTO watermarks (source_id, stage) SELECT $1, s FROM unnest($3::text[]) AS s
       ON CONFLICT DO NOTHING
     )
     SELECT destination FROM source`,
    [sourceId, JSON.stringify(destination), STAGES],
  );
  return rows[0].destination;
}

/** The stored JSON of the source's destination; undefined when there is no such source. */
export async function findDestination(pool: Pool, sourceId: string): Promise<{ destination: unknown } | undefined> {
  const { rows } = await pool.query<{ destination: unknown }>('SELECT destination FROM sources WHERE source_id = $1', [sourceId]);
  return rows[0];
}
