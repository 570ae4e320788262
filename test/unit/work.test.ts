import { RecordRejectedError } from '../../src/contracts/failures';
import { canonicalJson, defaultWork, contentHash, type JsonObject, type StageContext } from '../../src/stages/work';

const ctx: StageContext = { sourceId: 'src', seq: 7, recordId: 'r7', acceptedAt: '2026-01-01T00:00:00.000Z' };

async function runAll(payload: JsonObject) {
  let value: JsonObject = payload;
  const outputs: Record<string, JsonObject> = {};
  for (const [stage, fn] of Object.entries(defaultWork)) {
    value = await fn(value, ctx);
    outputs[stage] = value;
  }
  return outputs;
}

describe('default stage work', () => {
  it('normalises, enriches, computes, formats and delivers', async () => {
    const out = await runAll({ ' Name ': '  Ada ', amount: 10.25, items: [{ amount: 1.5 }, { note: 'x' }] });
    expect(out.inbound).toEqual({ record: { amount: 10.25, items: [{ amount: 1.5 }, { note: 'x' }], name: 'Ada' } });
    expect(out.preprocess.meta).toMatchObject({ sourceId: 'src', seq: 7, recordId: 'r7', fields: 3 });
    expect(out.core.result).toEqual({ total: 11.75, lines: 2 });
    expect((out.postprocess.message as JsonObject).key).toBe('src:7');
    expect(out.outbound).toMatchObject({ key: 'src:7', recordId: 'r7', destination: 'deliveries' });
  });

  it('is deterministic, so a retried stage produces the same output', async () => {
    const payload = { b: 1, a: [1, 2, { z: 'q' }], amount: 3 };
    expect(await runAll(payload)).toEqual(await runAll(JSON.parse(JSON.stringify(payload))));
  });

  it('rejects a record whose amount is not a number at the core stage', async () => {
    const { record } = (await defaultWork.inbound({ amount: 'twelve' }, ctx)) as { record: JsonObject };
    const pre = await defaultWork.preprocess({ record }, ctx);
    expect(() => defaultWork.core(pre, ctx)).toThrow(RecordRejectedError);
    expect(() => defaultWork.core(pre, ctx)).toThrow(/amount must be a finite number/);
    const bad = await defaultWork.preprocess({ record: { items: [{ amount: null }] } }, ctx);
    expect(() => defaultWork.core(bad, ctx)).toThrow(/items\[0\]\.amount/);
  });

  it('canonical JSON ignores key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
    expect(contentHash(canonicalJson({ a: 1, b: 2 }))).toBe(contentHash(canonicalJson({ b: 2, a: 1 })));
  });
});
