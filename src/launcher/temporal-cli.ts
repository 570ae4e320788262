// Finds the `temporal` CLI, or builds it once into a cache folder outside the checkout.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function cachedCliPath(cacheDir: string): string {
  return path.join(cacheDir, 'bin', 'temporal');
}

export interface EnsureCliOptions {
  explicit?: string;
  cacheDir: string;
  log?: (line: string) => void;
}

/** Explicit path, else `temporal` on PATH, else the cached build, else `go install` into the cache. */
export async function ensureTemporalCli(opts: EnsureCliOptions): Promise<string> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (opts.explicit) {
    if (!fs.existsSync(opts.explicit)) throw new Error(`TEMPORAL_CLI=${opts.explicit} does not exist`);
    return opts.explicit;
  }
  const found = onPath('temporal');
  if (found) return found;
  const cached = cachedCliPath(opts.cacheDir);
  if (fs.existsSync(cached)) return cached;

  const go = onPath('go') ?? (fs.existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) {
    throw new Error('the temporal CLI is not on PATH and Go is not installed to build it; install one of them, or set TEMPORAL_ADDRESS');
  }
  fs.mkdirSync(path.dirname(cached), { recursive: true });
  log(`building the Temporal CLI (${TEMPORAL_CLI_MODULE}) into ${path.dirname(cached)}: first time only, this takes a few minutes`);
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(go, ['install', '-v', TEMPORAL_CLI_MODULE], {
      env: { ...process.env, GOBIN: path.dirname(cached), GOFLAGS: '-mod=mod' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let built = 0;
    let lastTail = '';
    const onLine = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line.trim()) continue;
        lastTail = (lastTail + '\n' + line).slice(-4000);
        if (!line.startsWith('go: downloading')) built += 1;
        if (line.startsWith('go: downloading') || built % 50 === 0) {
          const secs = Math.round((Date.now() - started) / 1000);
          log(`  [${secs}s] ${line.startsWith('go: downloading') ? line : `compiled ${built} packages`}`);
        }
      }
    };
    child.stdout.on('data', onLine);
    child.stderr.on('data', onLine);
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`go install failed (exit ${code}):${lastTail}`))));
  });
  log(`built the Temporal CLI in ${Math.round((Date.now() - started) / 1000)}s: ${cached}`);
  return cached;
}
