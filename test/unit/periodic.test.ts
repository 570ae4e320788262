import { Periodic } from '../../src/control/periodic';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the control loops’ Periodic', () => {
  it('runs one tick at a time, the next an interval after the last ended', async () => {
    let inside = 0;
    let overlapped = false;
    const ends: number[] = [];
    const starts: number[] = [];
    const loop = new Periodic(20, async () => {
      starts.push(Date.now());
      inside += 1;
      if (inside > 1) overlapped = true;
      await sleep(30);
      inside -= 1;
      ends.push(Date.now());
    });
    loop.start({ now: true });
    await sleep(200);
    await loop.stop();
    expect(overlapped).toBe(false);
    expect(starts.length).toBeGreaterThanOrEqual(2);
    // setTimeout may fire up to a millisecond early.
    for (let i = 1; i < starts.length; i++) expect(starts[i]).toBeGreaterThanOrEqual(ends[i - 1] + 19);
  });

  it('waits an interval before the first tick unless told now', async () => {
    let ticks = 0;
    const loop = new Periodic(100, async () => void (ticks += 1));
    loop.start();
    await sleep(30);
    expect(ticks).toBe(0);
    await loop.stop();
    await sleep(120);
    expect(ticks).toBe(0);
  });

  it('stop() waits for the tick in progress and no tick starts after it', async () => {
    let ticks = 0;
    let finished = false;
    const loop = new Periodic(5, async () => {
      ticks += 1;
      await sleep(50);
      finished = true;
    });
    loop.start({ now: true });
    await sleep(10);
    await loop.stop();
    expect(finished).toBe(true);
    const after = ticks;
    await sleep(40);
    expect(ticks).toBe(after);
  });
});
