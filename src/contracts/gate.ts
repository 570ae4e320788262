// The ordering gate's decision logic, pure so it can be property-tested.
// Workflow-safe: no Node builtins, no I/O.
import { STAGES, type Stage } from './names';

/** Per stage: every seq <= watermark has finished that stage (or was skipped). */
export type Watermarks = Partial<Record<Stage, number>>;

/**
 * The stage whose commits move a source's start window in the usual case (the start window listens
 * to its channel; the relay's pass covers the other stages). See windowEnd.
 */
export const WINDOW_STAGE: Stage = 'inbound';

/**
 * The last seq a source's start window lets start: `window` past inbound's watermark, so inbound
 * keeps taking a source's records in while later stages work on earlier ones, and goes on while a
 * later stage's dependency is down (the queue pipeline's behaviour: the records wait at that stage).
 * A record *blocked* at a stage holds its source until an operator acts, so then the window counts
 * from it: at most `window` records past the blocked one are started, and the backlog behind them
 * waits in Postgres, not as workflows waiting at that stage.
 */
export function windowEnd(known: Watermarks, window: number, firstBlocked?: number | null): number {
  const inbound = known[WINDOW_STAGE] ?? 0;
  return Math.min(inbound, firstBlocked ? firstBlocked - 1 : inbound) + window;
}

/** Knowledge only grows: the higher of the two watermarks per stage. */
export function mergeWatermarks(a: Watermarks, b: Watermarks | undefined): Watermarks {
  if (!b) return a;
  const out: Watermarks = { ...a };
  for (const stage of STAGES) {
    const v = b[stage];
    if (typeof v === 'number' && v > (out[stage] ?? 0)) out[stage] = v;
  }
  return out;
}

/** Record `seq` may run `stage` once every earlier record has finished it. */
export function gateOpen(known: Watermarks, stage: Stage, seq: number): boolean {
  return (known[stage] ?? 0) >= seq - 1;
}

/** The record `seq` waits for at `stage` (the first one not known to be done). */
export function waitingFor(known: Watermarks, stage: Stage): number {
  return (known[stage] ?? 0) + 1;
}

/** The first stage a record has not finished, or undefined when it has finished them all. */
export function firstUnfinishedStage(known: Watermarks, seq: number): Stage | undefined {
  return STAGES.find((stage) => (known[stage] ?? 0) < seq);
}

/**
 * The watermark after `seq` finishes a stage whose watermark was seq-1: it moves to seq and on
 * over any run of skipped records right after it (they never run the stage), however long.
 * db/skipped-run.ts computes the same in SQL; an integration test holds the two equal.
 */
export function advanceWatermark(seq: number, skippedAfter: readonly number[]): number {
  let wm = seq;
  for (const s of [...skippedAfter].sort((x, y) => x - y)) {
    if (s === wm + 1) wm = s;
    else if (s > wm + 1) break;
  }
  return wm;
}
