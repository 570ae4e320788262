// `npm run compose:check`: checks docker-compose.yml against the code without a Docker engine:
// the topology of npm start, entry points the build produces, only variables the configuration
// reads, the default ports, namespaces and search attributes, health checks and restart policies.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { EnvSchema, loadConfig } from '../src/config';
import { REGIONS, WORKER_ROLES, defaultNamespace, SEARCH_ATTRIBUTES } from '../src/contracts/names';

type Service = Record<string, any>;

function projectRoot(dir = __dirname): string {
  return fs.existsSync(path.join(dir, 'package.json')) ? dir : projectRoot(path.dirname(dir));
}

export function readCompose(file: string): Record<string, Service> {
  return YAML.parse(fs.readFileSync(file, 'utf8'), { merge: true }).services ?? {};
}

/** Every way the compose file disagrees with the code; empty when it is consistent. */
export function composeProblems(services: Record<string, Service>, root = projectRoot()): string[] {
  const problems: string[] = [];
  const expect = (ok: unknown, problem: string) => {
    if (!ok) problems.push(problem);
  };
  const defaults = loadConfig({});
  for (const name of ['postgres', 'temporal', 'temporal-setup', 'temporal-ui', 'api']) expect(services[name], `service ${name} is missing`);
  for (const region of REGIONS) {
    for (const role of WORKER_ROLES) {
      const svc = services[`worker-${region}-${role}`];
      expect(svc, `service worker-${region}-${role} is missing`);
      if (svc)
        expect(
          JSON.stringify(svc.command) === JSON.stringify(['node', 'dist/src/workers/worker.js', region, role]),
          `worker-${region}-${role}: command is not worker.js ${region} ${role}`,
        );
    }
  }
  const workers = Object.keys(services).filter((s) => s.startsWith('worker-'));
  expect(
    workers.length === REGIONS.length * WORKER_ROLES.length,
    `${workers.length} worker services, expected ${REGIONS.length * WORKER_ROLES.length}`,
  );

  const tsEntry = (js: string) => path.join(root, js.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
  for (const [name, svc] of Object.entries(services)) {
    if (svc.command?.[0] === 'node')
      expect(fs.existsSync(tsEntry(svc.command[1])), `${name}: ${svc.command[1]} is not built from any source file`);
  }
  expect(/npm run build/.test(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8')), 'the Dockerfile does not run npm run build');

  const api = services.api ?? {};
  expect(api.ports?.includes(`${defaults.PORT}:${defaults.PORT}`), `api does not publish ${defaults.PORT}`);
  expect(String(api.environment?.PORT) === String(defaults.PORT), `api PORT is not ${defaults.PORT}`);
  expect(services.temporal?.ports?.includes(`${defaults.TEMPORAL_PORT}:7233`), `temporal does not publish ${defaults.TEMPORAL_PORT}`);
  expect(
    services['temporal-ui']?.ports?.includes(`${defaults.TEMPORAL_UI_PORT}:8080`),
    `temporal-ui does not publish ${defaults.TEMPORAL_UI_PORT}`,
  );

  const known = new Set(Object.keys(EnvSchema.properties));
  for (const [name, svc] of Object.entries(services)) {
    if (name !== 'api' && !name.startsWith('worker-')) continue;
    const env = (svc.environment ?? {}) as Record<string, unknown>;
    for (const key of Object.keys(env)) expect(known.has(key), `${name}: ${key} is not read by the configuration`);
    expect(
      /^postgres:\/\/.*@postgres:5432\/pipeline$/.test(String(env.DATABASE_URL)),
      `${name}: DATABASE_URL does not point at the postgres service`,
    );
    expect(env.TEMPORAL_ADDRESS === 'temporal:7233', `${name}: TEMPORAL_ADDRESS is not temporal:7233`);
    try {
      loadConfig(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])));
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`);
    }
  }
  expect(
    services['worker-west-core']?.environment?.NAMESPACE_WEST === defaultNamespace('west'),
    'worker-west-core: NAMESPACE_WEST is not the default',
  );

  const setup = (services['temporal-setup']?.command ?? []).join(' ');
  for (const region of REGIONS)
    expect(setup.includes(defaultNamespace(region)), `temporal-setup does not create ${defaultNamespace(region)}`);
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES))
    expect(setup.includes(`--name ${name} --type ${type}`), `temporal-setup does not create the search attribute ${name}`);

  for (const [name, svc] of Object.entries(services)) {
    if (name === 'temporal-setup') continue;
    expect(svc.restart === 'unless-stopped', `${name}: restart is ${svc.restart ?? 'not set'}, expected unless-stopped`);
    if (name !== 'temporal-ui') expect(Array.isArray(svc.healthcheck?.test) && svc.healthcheck.test.length > 0, `${name}: no health check`);
  }
  // The API's container is restarted on liveness, not readiness: a Temporal outage must not restart it.
  expect(JSON.stringify(api.healthcheck?.test ?? '').includes('/healthz'), 'api: the health check does not call /healthz');
  for (const w of workers) {
    const env = services[w].environment ?? {};
    const port = String(env.METRICS_PORT ?? '');
    expect(
      port && port !== '0' && JSON.stringify(services[w].healthcheck?.test ?? '').includes(`:${port}/metrics`),
      `${w}: the health check does not call its metrics port`,
    );
  }
  return problems;
}

if (require.main === module) {
  const file = path.join(projectRoot(), process.argv[2] ?? 'docker-compose.yml');
  const problems = composeProblems(readCompose(file));
  if (problems.length) {
    process.stderr.write(`${file}: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    process.exit(1);
  }
  process.stdout.write(`${file}: consistent with the code (${Object.keys(readCompose(file)).length} services)\n`);
}
