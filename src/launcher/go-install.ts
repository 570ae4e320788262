// Builds Go programs once into a cache folder outside the checkout (`go install` of pinned
// versions), printing its progress: the Temporal CLI, and the Temporal server with its SQL tool.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';

export function onPath(name: string): string | undefined {
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

/** `go` on PATH, else the usual install location; undefined if neither. */
export function findGo(): string | undefined {
  return onPath('go') ?? (fs.existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
}

export interface GoInstallOptions {
  /** What is built, for the log lines ("the Temporal CLI"). */
  what: string;
  /** `module/path/cmd/x@version`, each installed under its command's name... */
  modules: string[];
  /** ...then moved into binDir as these names (one per module, in the same order). */
  names: string[];
  binDir: string;
  /** What to say when there is no Go. */
  noGo: string;
  log: (line: string) => void;
}

/** The command's name `go install` gives a module path's binary: its last element, without @version. */
export function goBinaryName(module: string): string {
  return path.posix.basename(module.split('@')[0]);
}

/**
 * `go install` of the modules into a private folder, then each binary renamed into binDir: the
 * installed names never clash with others of the cache, and a build cut short leaves nothing
 * half-written under the final names. Returns the installed paths.
 */
export async function goInstall(opts: GoInstallOptions): Promise<string[]> {
  const go = findGo();
  if (!go) throw new Error(opts.noGo);
  fs.mkdirSync(opts.binDir, { recursive: true });
  const staging = fs.mkdtempSync(path.join(opts.binDir, '.build-'));
  opts.log(`building ${opts.what} (${opts.modules.join(', ')}) into ${opts.binDir}: first time only, this takes a few minutes`);
  const started = Date.now();
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(go, ['install', '-v', ...opts.modules], {
        env: { ...process.env, GOBIN: staging, GOFLAGS: '-mod=mod' },
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
            opts.log(`  [${secs}s] ${line.startsWith('go: downloading') ? line : `compiled ${built} packages`}`);
          }
        }
      };
      child.stdout.on('data', onLine);
      child.stderr.on('data', onLine);
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`go install failed (exit ${code}):${lastTail}`))));
    });
    const installed = opts.modules.map((module, i) => {
      const target = path.join(opts.binDir, opts.names[i]);
      fs.renameSync(path.join(staging, goBinaryName(module)), target);
      return target;
    });
    opts.log(`built ${opts.what} in ${Math.round((Date.now() - started) / 1000)}s: ${installed.join(', ')}`);
    return installed;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
