// The control role's lease, held by one process at a time across every API replica (see
// docs/design.md, "One control role"). A lease row in Postgres with an expiry and a fencing token:
// the holder renews it every `renewMs`; when it dies, hangs or loses Postgres, the row expires and
// another replica takes it over with a greater token.
//
// A holder knows on its own when its lease ends: `sentAt + ttl`, measured on the monotonic clock
// from before the renewal was sent, is never later than the expiry Postgres set. It acts only
// before that instant (held()), and each of its writes checks the token in the same statement;
// the start thread reads the same instant from shared memory before each workflow start.
import { EventEmitter } from 'node:events';
import type { Pool } from '../db/pool';
import { acquireOrRenew, releaseLease } from '../db/control-lease';
import type { Logger } from '../logger';
import { Periodic } from './periodic';

export interface LeaseOptions {
  pool: Pool;
  /** Who holds it, as operators see it: host and pid. */
  holder: string;
  ttlMs: number;
  renewMs: number;
  logger: Logger;
}

/** What the loops need of the lease: whether to act, the token their writes check, and its deadline for other threads. */
export interface LeaseView {
  held(): boolean;
  /** The token while held, else null. */
  token(): number | null;
  /** The monotonic instant (process.hrtime.bigint()) the holding ends at, 0 when not held; shared with the start thread. */
  readonly deadline: BigInt64Array;
}

/** Holds nothing, ever: a process without the role (the submit path's own starts need no lease). */
export const NO_LEASE: LeaseView = { held: () => false, token: () => null, deadline: new BigInt64Array(new SharedArrayBuffer(8)) };

/** Events: 'acquired' (token), 'lost' (token), 'renewed' (the operators' reconcile requests so far). */
export class ControlLease extends EventEmitter implements LeaseView {
  readonly deadline = new BigInt64Array(new SharedArrayBuffer(8));
  private current: number | null = null;
  private readonly loop: Periodic;
  /** When this process last took the lease (for the views). */
  since: Date | null = null;

  constructor(private readonly opts: LeaseOptions) {
    super();
    this.loop = new Periodic(opts.renewMs, () => this.tick());
  }

  get holder(): string {
    return this.opts.holder;
  }

  held(): boolean {
    return this.current !== null && process.hrtime.bigint() < Atomics.load(this.deadline, 0);
  }

  token(): number | null {
    return this.held() ? this.current : null;
  }

  /** Tries at once, then every renewMs, until stop(). */
  start(): void {
    this.loop.start({ now: true });
  }

  /** One try: take or renew the lease, and say what changed. */
  async tick(): Promise<void> {
    const sentAt = process.hrtime.bigint();
    let got: Awaited<ReturnType<typeof acquireOrRenew>>;
    try {
      got = await acquireOrRenew(this.opts.pool, this.opts.holder, this.current ?? -1, this.opts.ttlMs);
    } catch (err) {
      // Postgres unreachable: the holding runs out on its own (held() turns false at the deadline).
      this.opts.logger.warn({ err: (err as Error).message }, 'control lease not renewed');
      if (this.current !== null && !this.held()) this.lose();
      return;
    }
    if (!got) {
      if (this.current !== null) this.lose();
      return;
    }
    if (this.current !== null && got.token !== this.current) this.lose();
    Atomics.store(this.deadline, 0, sentAt + BigInt(this.opts.ttlMs) * 1_000_000n);
    if (this.current === null) {
      this.current = got.token;
      this.since = new Date();
      this.opts.logger.info({ holder: this.opts.holder, token: got.token }, 'control role taken');
      this.emit('acquired', got.token);
    }
    this.emit('renewed', got.reconcileRequests);
  }

  private lose(): void {
    const token = this.current;
    this.current = null;
    this.since = null;
    Atomics.store(this.deadline, 0, 0n);
    this.opts.logger.warn({ holder: this.opts.holder, token }, 'control role lost');
    this.emit('lost', token);
  }

  /** Stops trying and gives the lease up if held, so another replica takes over at once. */
  async stop(): Promise<void> {
    await this.loop.stop();
    const token = this.current;
    if (token === null) return;
    this.current = null;
    Atomics.store(this.deadline, 0, 0n);
    await releaseLease(this.opts.pool, this.opts.holder, token).catch(() => undefined);
  }
}
