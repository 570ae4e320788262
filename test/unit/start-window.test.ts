import { sharedWindow, SourceWindows } from '../../src/control/start-window';

describe('the start window shared by the sources with a backlog', () => {
  it('gives each source the full window while few have a backlog, and shares the budget down to 1', () => {
    expect(sharedWindow(4, 12, 1)).toBe(4);
    expect(sharedWindow(4, 12, 3)).toBe(4);
    expect(sharedWindow(4, 12, 4)).toBe(3);
    expect(sharedWindow(4, 12, 6)).toBe(2);
    expect(sharedWindow(4, 12, 10)).toBe(1);
    expect(sharedWindow(4, 12, 500)).toBe(1); // never 0: the next record of a source can always start
    expect(sharedWindow(4, 12, 0)).toBe(4);
  });

  it('keeps the fixed window without a budget, and no window at all without one', () => {
    expect(sharedWindow(4, 0, 10)).toBe(4);
    expect(sharedWindow(0, 12, 10)).toBe(0);
  });

  it('counts the sources whose last pass left records waiting, the asking source among them', () => {
    const w = new SourceWindows(4, 12);
    expect(w.of('a')).toBe(4);
    for (const s of ['a', 'b', 'c', 'd', 'e', 'f']) w.note(s, true);
    expect(w.now()).toBe(2);
    expect(w.of('a')).toBe(2);
    expect(w.of('new')).toBe(1); // a seventh source: 12 / 7
    for (const s of ['b', 'c', 'd', 'e', 'f']) w.note(s, false);
    expect(w.of('a')).toBe(4);
    expect(w.now()).toBe(4);
  });
});
