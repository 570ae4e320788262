import { recordStartOptions } from '../../src/control/start-options';
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

  it('never start a finished record again, and never ask Temporal for a combination it refuses', () => {
    const fresh = recordStartOptions({ source_id: 'shop', seq: 3, epoch: null }, region, {}, defaults);
    expect([fresh.workflowIdConflictPolicy, fresh.workflowIdReusePolicy]).toEqual(['USE_EXISTING', 'REJECT_DUPLICATE']);
    const over = recordStartOptions({ source_id: 'shop', seq: 3, epoch: null }, region, {}, defaults, undefined, 'ALLOW_DUPLICATE');
    expect(over.workflowIdReusePolicy).toBe('ALLOW_DUPLICATE');
    // Temporal refuses REJECT_DUPLICATE beside TERMINATE_EXISTING (INVALID_ARGUMENT).
    const redriven = recordStartOptions({ source_id: 'shop', seq: 3, epoch: 1 }, region, {}, defaults, undefined, 'REJECT_DUPLICATE');
    expect([redriven.workflowIdConflictPolicy, redriven.workflowIdReusePolicy]).toEqual(['TERMINATE_EXISTING', 'ALLOW_DUPLICATE']);
  });
});
