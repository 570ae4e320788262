// What each stage does to a record. Replace a stage's function here to change the pipeline's work;
// the plumbing (ordering, idempotent writes, fencing, retries) stays the same.
//
// A function gets the previous stage's output (the payload for `inbound`) and returns this stage's
// output, a JSON object stored in stage_<name>. It must be deterministic: a retry may run it again.
// Throw RecordRejectedError to reject the record itself (it becomes `blocked`); any other error is
// treated as a dependency failure and retried.
import { createHash } from 'node:crypto';
import { RecordRejectedError } from '../contracts/failures';
import type { Stage } from '../contracts/names';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface StageContext {
  sourceId: string;
  seq: number;
  recordId: string;
  acceptedAt: string;
}

export type StageWork = (input: JsonObject, ctx: StageContext) => JsonObject | Promise<JsonObject>;

/** Stable JSON: keys sorted at every level, so equal objects hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Hex sha256 of text: the identity of a payload (its canonical JSON) or a stage's output. */
export function contentHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function normalise(value: Json): Json {
  if (typeof value === 'string') return value.trim();
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') {
    const out: JsonObject = {};
    for (const key of Object.keys(value).sort()) out[key.trim().toLowerCase()] = normalise(value[key]);
    return out;
  }
  return value;
}

/** inbound: validate and normalise (trim strings, lower-case keys). */
export const inbound: StageWork = (payload) => {
  return { record: normalise(payload) as JsonObject };
};

/** preprocess: enrich with provenance and a digest of the normalised record. */
export const preprocess: StageWork = (input, ctx) => {
  const record = input.record as JsonObject;
  return {
    record,
    meta: {
      sourceId: ctx.sourceId,
      seq: ctx.seq,
      recordId: ctx.recordId,
      acceptedAt: ctx.acceptedAt,
      fields: Object.keys(record).length,
      digest: contentHash(canonicalJson(record)).slice(0, 16),
    },
  };
};

function amountOf(value: Json, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RecordRejectedError(`${path} must be a finite number, got ${JSON.stringify(value)?.slice(0, 50)}`);
  }
  return value;
}

/**
 * core: compute the record's total from `amount` or `items[].amount`. A record whose amounts are
 * not numbers cannot be processed: it is rejected (blocked until an operator retries or skips it).
 */
export const core: StageWork = (input) => {
  const record = input.record as JsonObject;
  const amounts: number[] = [];
  if ('amount' in record) amounts.push(amountOf(record.amount, 'amount'));
  if (Array.isArray(record.items)) {
    record.items.forEach((item, i) => {
      if (item !== null && typeof item === 'object' && !Array.isArray(item) && 'amount' in item) {
        amounts.push(amountOf(item.amount, `items[${i}].amount`));
      }
    });
  }
  const total = Math.round(amounts.reduce((a, b) => a + b, 0) * 100) / 100;
  return { ...input, result: { total, lines: amounts.length } };
};

/** postprocess: format the message the destination receives. */
export const postprocess: StageWork = (input) => {
  const meta = input.meta as JsonObject;
  const body = canonicalJson({ record: input.record, result: input.result });
  return {
    message: {
      key: `${meta.sourceId}:${meta.seq}`,
      recordId: meta.recordId,
      body,
      checksum: contentHash(body).slice(0, 16),
    },
  };
};

/** outbound: deliver to the source's destination (here: the deliveries table, written with it). */
export const outbound: StageWork = (input) => {
  return { ...(input.message as JsonObject), destination: 'deliveries' };
};

export const defaultWork: Record<Stage, StageWork> = { inbound, preprocess, core, postprocess, outbound };
