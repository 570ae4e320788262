// The gate's fast path: one LISTEN connection per worker process (on its stage's channel) wakes the stage activities that
// wait in this process for a predecessor's commit, so that the usual hand-off between two records
// of a source costs Temporal nothing (no signal, no second attempt).
import pg from 'pg';
import type { Stage } from '../contracts/names';
import type { Logger } from '../logger';
import { gateChannel, type GateNotice } from './stages';

interface Waiter {
  atLeast: number;
  wake: () => void;
}

export interface GateListenerOptions {
  connectionString: string;
  applicationName: string;
  /** The stages whose notices this process needs (its own stage; the API's start window: inbound). */
  stages: readonly Stage[];
  logger?: Logger;
  /** Backoff before reconnecting a lost LISTEN connection. */
  reconnectMs?: number;
  /**
   * Listen only while waits come: connect on the first wait, and close the connection after this
   * long without a waiter. A standby region's workers, which get no activities, then hold no
   * connection and parse none of the active region's notices. Unset: always listen (subscribers).
   */
  idleMs?: number;
}

export class GateListener {
  private client: pg.Client | undefined;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly subscribers = new Set<(notice: GateNotice | null) => void>();
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private connecting = false;

  private constructor(private readonly opts: GateListenerOptions) {}

  /** Starts listening (with `idleMs`, at the first wait); a first connection that fails is retried in the background. */
  static async start(opts: GateListenerOptions): Promise<GateListener> {
    const listener = new GateListener(opts);
    if (opts.idleMs === undefined) await listener.connect();
    return listener;
  }

  /** Whether notices arrive now; while not, a wait ends at its bound or when the connection is back. */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /**
   * Resolves true once the stage's watermark of the source reaches `atLeast`, false after `ms`.
   * Call it before reading the watermark: a commit between the read and the wait is then not missed.
   */
  waitFor(sourceId: string, stage: Stage, atLeast: number, ms: number): { done: Promise<boolean>; cancel: () => void } {
    const key = `${stage}\u0000${sourceId}`;
    let settle!: (woken: boolean) => void;
    const done = new Promise<boolean>((resolve) => (settle = resolve));
    const waiter: Waiter = { atLeast, wake: () => finish(true) };
    const timer = setTimeout(() => finish(false), ms);
    const finish = (woken: boolean) => {
      clearTimeout(timer);
      const set = this.waiters.get(key);
      set?.delete(waiter);
      if (set?.size === 0) this.waiters.delete(key);
      if (this.waiters.size === 0) this.idleSoon();
      settle(woken);
    };
    if (!this.waiters.has(key)) this.waiters.set(key, new Set());
    this.waiters.get(key)!.add(waiter);
    // Not listening yet: this wait ends when the connection is up (every waiter then reads again).
    clearTimeout(this.idleTimer);
    if (!this.client && !this.connecting && !this.reconnectTimer && !this.closed) void this.connect();
    return { done, cancel: () => finish(false) };
  }

  /**
   * Calls `fn` with every notice, and with null when notices may have been lost (the connection
   * came back): the subscriber then reads Postgres itself. Returns the unsubscribe function.
   */
  subscribe(fn: (notice: GateNotice | null) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.idleTimer);
    this.wakeAll();
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private wakeAll(): void {
    for (const set of this.waiters.values()) for (const w of [...set]) w.wake();
    for (const fn of this.subscribers) fn(null);
  }

  private onNotice(payload: string | undefined): void {
    let notice: GateNotice;
    try {
      notice = JSON.parse(payload ?? '') as GateNotice;
    } catch {
      return;
    }
    for (const fn of this.subscribers) fn(notice);
    const set = this.waiters.get(`${notice.t}\u0000${notice.s}`);
    if (!set) return;
    for (const w of [...set]) if (notice.w >= w.atLeast) w.wake();
  }

  /** With `idleMs`: once no waiter is left, closes the connection after that long unless a wait comes. */
  private idleSoon(): void {
    const idleMs = this.opts.idleMs;
    if (idleMs === undefined || this.closed) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      const client = this.client;
      if (this.waiters.size > 0 || !client) return;
      this.client = undefined;
      client.removeAllListeners('end');
      client.end().catch(() => undefined);
      this.opts.logger?.debug('gate listener idle; closed');
    }, idleMs);
    this.idleTimer.unref();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.connectionString, application_name: `${this.opts.applicationName}:gate` });
    client.on('notification', (n) => this.onNotice(n.payload));
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    this.connecting = true;
    try {
      await client.connect();
      for (const stage of this.opts.stages) await client.query(`LISTEN ${gateChannel(stage)}`);
      if (this.closed) {
        client.removeAllListeners('end');
        await client.end().catch(() => undefined);
        return;
      }
      this.client = client;
      this.opts.logger?.debug('gate listener connected');
      // Notices sent while no connection listened are lost: whoever waits reads Postgres again.
      this.wakeAll();
      if (this.waiters.size === 0) this.idleSoon();
    } catch (err) {
      this.lost(client, err as Error);
    } finally {
      this.connecting = false;
    }
  }

  /** A lost connection may have dropped notices: wake every waiter to read Postgres again. */
  private lost(client: pg.Client, err?: Error): void {
    if (this.client === client) this.client = undefined;
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    const waited = this.waiters.size > 0;
    this.wakeAll();
    // A lazy listener that nobody waited on connects again at the next wait; one with waiters after
    // the backoff (their next waits do not connect meanwhile).
    if (this.closed || this.reconnectTimer || (this.opts.idleMs !== undefined && !waited)) return;
    this.opts.logger?.warn({ err: err?.message }, 'gate listener lost its connection; reconnecting');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closed) void this.connect();
    }, this.opts.reconnectMs ?? 1_000);
  }
}
