// One `npm start` per data folder: <DATA_DIR>/supervisor.pid holds the running supervisor's pid.
import fs from 'node:fs';
import path from 'node:path';

/** Takes the lock, or throws if a live supervisor holds it; returns its release. */
export function acquireLock(dataDir: string): () => void {
  const lock = path.join(dataDir, 'supervisor.pid');
  try {
    const pid = Number(fs.readFileSync(lock, 'utf8'));
    if (pid && pid !== process.pid) {
      process.kill(pid, 0); // throws if no such process
      throw new Error(`the pipeline is already running (supervisor pid ${pid}); stop it first (kill ${pid}), or use another DATA_DIR`);
    }
  } catch (err) {
    // No file, or a stale pid: the lock is free.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
  fs.writeFileSync(lock, String(process.pid));
  return () => {
    try {
      if (Number(fs.readFileSync(lock, 'utf8')) === process.pid) fs.unlinkSync(lock);
    } catch {
      // already gone
    }
  };
}
