import { currentDetails } from '../../src/workflows/details';

describe('currentDetails', () => {
  it('names the running stage and its place', () => {
    expect(currentDetails({ sourceId: 's', seq: 3, phase: 'running', stage: 'core' })).toBe('**Running core** (stage 3 of 5) for s #3.');
  });

  it('names the record a waiting record waits for', () => {
    expect(currentDetails({ sourceId: 's', seq: 3, phase: 'waiting', stage: 'outbound', waitingFor: 2 })).toBe(
      '**Waiting at outbound** (stage 5 of 5): the ordering gate holds s #3 until record #2 of s has finished outbound.',
    );
  });

  it("gives a blocked record's reason and the two commands, with the source id encoded for a URL", () => {
    const text = currentDetails({ sourceId: 'a/b c', seq: 7, phase: 'blocked', stage: 'core', reason: 'amount is not a number' });
    expect(text.split('\n')[0]).toBe('**Blocked at core** (stage 3 of 5): amount is not a number');
    expect(text).toContain('`POST /v1/sources/a%2Fb%20c/records/7/retry`');
    expect(text).toContain('`POST /v1/sources/a%2Fb%20c/records/7/skip` with `{"reason": "..."}`');
  });

  it('says why a superseded record ended, and the ends', () => {
    expect(
      currentDetails({
        sourceId: 's',
        seq: 1,
        phase: 'superseded',
        stage: 'inbound',
        reason: 'region east at epoch 1 is no longer the active writer',
      }),
    ).toContain('region east at epoch 1 is no longer the active writer');
    expect(currentDetails({ sourceId: 's', seq: 1, phase: 'delivered', stage: null })).toBe('**Delivered**: s #1 finished all 5 stages.');
    expect(currentDetails({ sourceId: 's', seq: 1, phase: 'skipped', stage: 'core' })).toMatch(/^\*\*Skipped\*\* at core/);
  });

  it("names the webhook destination's last answer while the record waits to call it again", () => {
    const text = currentDetails({
      sourceId: 's',
      seq: 4,
      phase: 'running',
      stage: 'outbound',
      destination: { error: 'hooks.example.com answered 503: maintenance', attempts: 3, delayMs: 4000 },
    });
    expect(text).toMatch(
      /^\*\*Waiting for the destination\*\* \(stage 5 of 5\): hooks\.example\.com answered 503: maintenance \(attempt 3\)\./,
    );
    expect(text).toContain('next in 4 s');
    expect(text).toContain('`GET /v1/sources/s/records/4`');
  });
});
