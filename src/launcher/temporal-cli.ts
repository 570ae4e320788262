// Finds the `temporal` CLI, or builds it once into a cache folder outside the checkout.
import fs from 'node:fs';
import path from 'node:path';
import { goInstall, onPath } from './go-install';

export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';

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
  const [built] = await goInstall({
    what: 'the Temporal CLI',
    modules: [TEMPORAL_CLI_MODULE],
    names: ['temporal'],
    binDir: path.dirname(cached),
    noGo: 'the temporal CLI is not on PATH and Go is not installed to build it; install one of them, or set TEMPORAL_ADDRESS',
    log,
  });
  return built;
}
