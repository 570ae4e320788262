// Continuous submissions from several sources while chaos runs, spread over the API replicas as a
// load balancer would (a batch that one replica does not answer goes to the next: submits are
// idempotent by id). Remembers every record the API accepted (202), so that the end of the run can
// tell whether any of them was lost.
import { randomBytes } from 'node:crypto';
import { submit, type ApiAnswer } from '../../harness/system';

export interface Load {
  /** `${sourceId}\n${clientId}` of every record answered 202. */
  accepted: Set<string>;
  /** Submissions answered neither 202 nor 4xx (API down, 5xx): their records may or may not exist. */
  unanswered: number;
  stop(): Promise<void>;
}

export function startLoad(doors: () => string[], sources: string[], opts: { everyMs: number; perBatch: number }): Load {
  const accepted = new Set<string>();
  let unanswered = 0;
  let stopped = false;
  const loops = sources.map(async (source, s) => {
    for (let b = 0; !stopped; b++) {
      const records = Array.from({ length: opts.perBatch }, (_, i) => ({
        id: `b${b}-${i}-${randomBytes(2).toString('hex')}`,
        payload: { amount: b + i / 100, customer: `c${i}`, items: [{ amount: i }] },
      }));
      try {
        const urls = doors();
        let res: ApiAnswer<unknown> | undefined;
        for (let i = 0; i < urls.length && (!res || res.status >= 500); i++) {
          const url = urls[(b + s + i) % urls.length];
          res = await submit(url, source, records, { signal: AbortSignal.timeout(i === urls.length - 1 ? 15_000 : 5_000) }).catch(
            (err: Error) => {
              if (i === urls.length - 1) throw err;
              return undefined;
            },
          );
        }
        if (!res) throw new Error('no answer');
        if (res.status === 202) for (const r of records) accepted.add(`${source}\n${r.id}`);
        else if (res.status >= 500) unanswered += 1;
        else throw new Error(`a valid batch was refused: ${res.status}`);
      } catch (err) {
        if ((err as Error).message.startsWith('a valid batch')) throw err;
        unanswered += 1;
      }
      await new Promise((r) => setTimeout(r, opts.everyMs));
    }
  });
  return {
    accepted,
    get unanswered() {
      return unanswered;
    },
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}
