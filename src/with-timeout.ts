// A promise with a bound, for every layer but workflow code (the launcher's waits, the start thread's connect).
// Only for APIs that take no AbortSignal (a child becoming ready, NativeConnection.connect); fetch and the like: AbortSignal.timeout(ms).
/** Rejects with `message` if `p` has not settled within `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
  ]);
}
