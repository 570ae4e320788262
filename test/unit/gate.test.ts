import fc from 'fast-check';
import { STAGES } from '../../src/contracts/names';
import { advanceWatermark, firstUnfinishedStage, gateOpen, mergeWatermarks, waitingFor, windowEnd } from '../../src/contracts/gate';

describe('gate decisions', () => {
  it('opens a stage for seq n once every seq below n finished it', () => {
    expect(gateOpen({}, 'inbound', 1)).toBe(true);
    expect(gateOpen({}, 'inbound', 2)).toBe(false);
    expect(gateOpen({ inbound: 1 }, 'inbound', 2)).toBe(true);
    expect(gateOpen({ inbound: 1 }, 'core', 2)).toBe(false);
    expect(gateOpen({ core: 9 }, 'core', 3)).toBe(true);
  });

  it('says which seq a waiting record waits for', () => {
    expect(waitingFor({ core: 4 }, 'core')).toBe(5);
    expect(waitingFor({}, 'inbound')).toBe(1);
  });

  it('merges knowledge by taking the higher watermark of each stage', () => {
    expect(mergeWatermarks({ inbound: 3, core: 1 }, { inbound: 2, core: 5, outbound: 1 })).toEqual({ inbound: 3, core: 5, outbound: 1 });
    expect(mergeWatermarks({ inbound: 3 }, undefined)).toEqual({ inbound: 3 });
  });

  it('finds the first stage a record has not finished', () => {
    expect(firstUnfinishedStage({}, 1)).toBe('inbound');
    expect(firstUnfinishedStage({ inbound: 5, preprocess: 5, core: 4 }, 5)).toBe('core');
    expect(firstUnfinishedStage({ inbound: 5, preprocess: 5, core: 5, postprocess: 5, outbound: 5 }, 5)).toBeUndefined();
  });

  it('advances a watermark over the run of skipped records right after it', () => {
    expect(advanceWatermark(4, [])).toBe(4);
    expect(advanceWatermark(4, [5, 6, 8])).toBe(6);
    expect(advanceWatermark(4, [6])).toBe(4);
    expect(advanceWatermark(4, [7, 5])).toBe(5);
    expect(
      advanceWatermark(
        0,
        Array.from({ length: 5000 }, (_, i) => i + 1),
      ),
    ).toBe(5000);
  });

  // Model: a source of n records, some skipped; records finish a stage in any order the gate
  // allows. The gate must never let a record run before all lower non-skipped records finished.
  it('never lets a record run a stage before its predecessors (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 200 }),
        (n, skipFlags, picks) => {
          const skipped = new Set(Array.from({ length: n }, (_, i) => i + 1).filter((s) => skipFlags[s - 1]));
          let wm = 0;
          // a record skipped before anything ran: the skip moves the watermark if it is next in line
          for (let s = 1; s <= n && skipped.has(s); s++) wm = s;
          const done = new Set<number>();
          const pending = () => Array.from({ length: n }, (_, i) => i + 1).filter((s) => !skipped.has(s) && !done.has(s));
          for (const pick of picks) {
            const open = pending();
            if (!open.length) break;
            const seq = open[pick % open.length];
            if (!gateOpen({ core: wm }, 'core', seq)) continue;
            // the model: every lower record is done or skipped
            for (let lower = 1; lower < seq; lower++) if (!skipped.has(lower) && !done.has(lower)) return false;
            done.add(seq);
            wm = advanceWatermark(
              seq,
              [...skipped].filter((s) => s > seq),
            );
          }
          // and progress: whatever is pending, the lowest pending record can always run
          const rest = pending();
          return rest.length === 0 || gateOpen({ core: wm }, 'core', rest[0]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('lets a start window in from inbound, and from the blocked record that holds the source back', () => {
    expect(windowEnd({}, 4)).toBe(4);
    expect(windowEnd({ inbound: 10, preprocess: 9, core: 8, postprocess: 8, outbound: 7 }, 4)).toBe(14);
    // A later stage's dependency down: inbound goes on (the records wait at that stage).
    expect(windowEnd({ inbound: 30, preprocess: 30, core: 5, postprocess: 5, outbound: 5 }, 4)).toBe(34);
    // Record 6 blocked at core, inbound far ahead: 4 past the record before it.
    expect(windowEnd({ inbound: 30, preprocess: 30, core: 5, postprocess: 5, outbound: 5 }, 4, 6)).toBe(9);
    // A blocked record ahead of inbound's watermark does not widen the window.
    expect(windowEnd({ inbound: 3 }, 4, 40)).toBe(7);
  });

  it('knows the stages in order', () => {
    expect(STAGES).toEqual(['inbound', 'preprocess', 'core', 'postprocess', 'outbound']);
  });
});
