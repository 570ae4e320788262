// The chaos schedule: which fault, where and when, drawn from a seed so that a run can be repeated.
import { unsafeUniformIntDistribution, xoroshiro128plus } from 'pure-rand';
import { STAGES, type Stage } from '../../src/contracts/names';

export const FAULT_KINDS = [
  'kill-stage-worker',
  'kill-workflow-worker',
  'stop-start-worker',
  'fail-dependency',
  'kill-temporal-server',
  'hang-temporal-server',
  'terminate-pg-connections',
  'restart-api',
  'kill-control-holder',
  'pause-control-holder',
  'failover',
  'failover-while-hung',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const SERVER_KINDS: ReadonlySet<FaultKind> = new Set(['kill-temporal-server', 'hang-temporal-server', 'failover-while-hung']);

export interface PlannedFault {
  /** Milliseconds from the start of the run. */
  atMs: number;
  kind: FaultKind;
  /** Relative to whichever region is active when the fault fires (failover-while-hung: always the active one). */
  region: 'active' | 'standby';
  stage: Stage;
  /** How long a fault that is undone (stopped worker, failed dependency, stopped server) lasts. */
  holdMs: number;
}

export interface ScheduleOptions {
  seed: number;
  durationMs: number;
  /** Mean time between two faults. */
  meanGapMs: number;
  /** Only these kinds (a focused run, e.g. to reproduce one failure); every kind by default. */
  kinds?: readonly FaultKind[];
}

/**
 * Faults at random gaps (0.5 to 1.5 times the mean) until the end of the run. Kinds come in
 * shuffled rounds, so a run with at least as many faults as kinds injects every kind.
 */
export function planChaos({ seed, durationMs, meanGapMs, kinds = FAULT_KINDS }: ScheduleOptions): PlannedFault[] {
  if (kinds.length === 0) throw new Error('no fault kinds to plan');
  const rng = xoroshiro128plus(seed);
  const int = (min: number, max: number) => unsafeUniformIntDistribution(min, max, rng);
  const out: PlannedFault[] = [];
  let round: FaultKind[] = [];
  for (let at = int(meanGapMs / 2, (meanGapMs * 3) / 2); at < durationMs; at += int(meanGapMs / 2, (meanGapMs * 3) / 2)) {
    if (round.length === 0) {
      round = [...kinds];
      for (let i = round.length - 1; i > 0; i--) {
        const j = int(0, i);
        [round[i], round[j]] = [round[j], round[i]];
      }
    }
    const kind = round.pop()!;
    // Most faults hit the active region: that is where they hurt. An operator's failover while a
    // server hangs is only that when the hung server is the active one.
    const standby = int(0, 3) === 0 && kind !== 'failover-while-hung';
    out.push({
      atMs: at,
      kind,
      region: standby ? 'standby' : 'active',
      stage: STAGES[int(0, STAGES.length - 1)],
      // A server outage needs a few health rounds (and probe timeouts) to be felt.
      holdMs: SERVER_KINDS.has(kind) ? int(3_000, 8_000) : int(1_000, 6_000),
    });
  }
  return out;
}
