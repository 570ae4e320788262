/**
 * Polls `holds` every `everyMs` until it is false or `timeoutMs` has passed; true when it cleared.
 * For waits on another process (a signalled child, a leftover server) that no event announces.
 */
export async function waitWhile(holds: () => boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (holds()) {
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return true;
}
