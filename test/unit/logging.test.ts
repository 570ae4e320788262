// Worker processes write the SDK's log lines through pino with the pipeline's field names.
import { Writable } from 'node:stream';
import pino from 'pino';
import { sdkFields, sdkLogger } from '../../src/temporal/sdk-logger';

describe('SDK logs through pino', () => {
  it('renames the activity type to stage and keeps workflowId', () => {
    expect(sdkFields({ activityType: 'core', workflowId: 'record:s:1', sourceId: 's', seq: 1, sdkComponent: 'activity' })).toEqual({
      stage: 'core',
      workflowId: 'record:s:1',
      sourceId: 's',
      seq: 1,
      component: 'activity',
    });
  });

  it('writes one JSON line per entry at the entry level, with the base fields', () => {
    const lines: string[] = [];
    const stream = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const logger = pino({ level: 'info', base: { region: 'east', role: 'core' } }, stream);
    const sdk = sdkLogger(logger);
    sdk.warn('record rejected', { activityType: 'core', workflowId: 'record:s:2', sourceId: 's', seq: 2 });
    sdk.debug('below the level');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({
      level: 40,
      msg: 'record rejected',
      region: 'east',
      stage: 'core',
      workflowId: 'record:s:2',
      sourceId: 's',
      seq: 2,
    });
  });
});
