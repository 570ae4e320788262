import { recordStartOptions } from '../../src/control/starter';
import { SA } from '../../src/contracts/names';

const defaults = { activityTimeoutMs: 1000, retryMaxIntervalMs: 500 };
const region = { name: 'east', epoch: 3 };
const identity = { recordId: 'order-17', payloadHash: 'ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12' };

describe('record workflow start options', () => {
  it('carry a readable summary (source, seq, payload digest) and details for the UI', () => {
    const o = recordStartOptions({ source_id: 'shop', seq: 17, epoch: null }, region, { inbound: 16 }, defaults, identity);
    expect(o.workflowId).toBe('record:shop:17');
    expect(o.staticSummary).toBe('shop #17 · payload ab12cd34ef56');
    expect(o.staticDetails).toBe(
      `**record** \`shop\` #17, client id \`order-17\`\n\n**payload sha256** \`${identity.payloadHash}\`\n\n**started** in east at epoch 3, from stage inbound`,
    );
    expect(o.typedSearchAttributes).toEqual([
      { key: SA.sourceId, value: 'shop' },
      { key: SA.recordSeq, value: 17 },
      { key: SA.region, value: 'east' },
      { key: SA.stage, value: 'inbound' },
    ]);
  });

  it('still name the record when its identity is unknown', () => {
    const o = recordStartOptions({ source_id: 'shop', seq: 2, epoch: 1 }, region, { inbound: 2, preprocess: 2 }, defaults);
    expect(o.staticSummary).toBe('shop #2');
    expect(o.staticDetails).toBe('**record** `shop` #2\n\n**started** in east at epoch 3, from stage core');
    expect(o.workflowIdConflictPolicy).toBe('TERMINATE_EXISTING');
  });
});
