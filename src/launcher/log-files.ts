// Every supervised process writes to its own file under <DATA_DIR>/logs.
import path from 'node:path';

export function logFile(dataDir: string, name: string): string {
  return path.join(dataDir, 'logs', `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.log`);
}
