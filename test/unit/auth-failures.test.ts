import { FailureLimiter } from '../../src/api/auth-failures';

describe('failed authentications per address', () => {
  it('answers a wait past the limit, per address, until the window ends', () => {
    let now = 1_000_000;
    const limiter = new FailureLimiter(2, 60_000, () => now);
    expect([limiter.fail('a'), limiter.fail('a')]).toEqual([0, 0]);
    expect(limiter.fail('a')).toBe(60);
    expect(limiter.fail('b')).toBe(0);
    now += 45_500;
    expect(limiter.fail('a')).toBe(15);
    now += 14_500;
    expect(limiter.fail('a')).toBe(0);
  });
});
