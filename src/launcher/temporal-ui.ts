// The Temporal Web UI beside a real server (TEMPORAL_SERVER=postgres), one per region: the
// ui-server the CLI's dev server embeds (the same version, so both engines show the same UI, and
// the one docker-compose.yml runs), built once into the CLI's cache, its configuration written
// under DATA_DIR from the plan below (pure and unit-tested).
import fs from 'node:fs';
import path from 'node:path';
import { goInstall } from './go-install';

export const TEMPORAL_UI_VERSION = 'v2.42.1';
export const TEMPORAL_UI_MODULE = `github.com/temporalio/ui-server/v2/cmd/server@${TEMPORAL_UI_VERSION}`;
/** The ui-server reads `<root>/<config dir>/<env>.yaml`. */
const UI_ENV = 'pipeline';

/** Named with its version, so that a change of the pinned version builds the new one. */
export function cachedUiServer(cacheDir: string): string {
  return path.join(cacheDir, 'bin', `temporal-ui-server-${TEMPORAL_UI_VERSION}`);
}

/** The cached ui-server, else `go install` of it into the cache (a few minutes, once). */
export async function ensureUiServer(opts: { cacheDir: string; log: (line: string) => void }): Promise<string> {
  const cached = cachedUiServer(opts.cacheDir);
  if (fs.existsSync(cached)) return cached;
  const [ui] = await goInstall({
    what: `the Temporal Web UI server ${TEMPORAL_UI_VERSION}`,
    modules: [TEMPORAL_UI_MODULE],
    names: [path.basename(cached)],
    binDir: path.dirname(cached),
    noGo: 'the Web UI of TEMPORAL_SERVER=postgres needs Go to build the UI server once; install Go, or set TEMPORAL_UI_PORT=0',
    log: opts.log,
  });
  return ui;
}

export interface UiPlan {
  region: string;
  /** The region's frontend, 127.0.0.1:port. */
  temporalAddress: string;
  /** Where the UI listens (127.0.0.1). */
  port: number;
  /** The namespace it opens on. */
  namespace: string;
}

/** The ui-server's configuration: the region's frontend, the UI on loopback, opening on its namespace. */
export function uiConfig(p: UiPlan): string {
  return [
    `temporalGrpcAddress: ${p.temporalAddress}`,
    'host: 127.0.0.1',
    `port: ${p.port}`,
    'enableUi: true',
    `defaultNamespace: ${p.namespace}`,
    'showTemporalSystemNamespace: false',
    'refreshInterval: 1m',
    'notifyOnNewVersion: false',
    'auth:',
    '  enabled: false',
    '',
  ].join('\n');
}

/** Writes the region's configuration under dir and answers the ui-server's arguments. */
export function writeUiFiles(dir: string, p: UiPlan): string[] {
  const configDir = `ui-${p.region}`;
  fs.mkdirSync(path.join(dir, configDir), { recursive: true });
  fs.writeFileSync(path.join(dir, configDir, `${UI_ENV}.yaml`), uiConfig(p));
  return uiServerArgs(dir, configDir);
}

export function uiServerArgs(root: string, configDir: string): string[] {
  return ['--root', root, '--config', configDir, '--env', UI_ENV, 'start'];
}
