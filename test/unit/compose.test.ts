// docker-compose.yml is not run here (no Docker engine): this checks it matches the code.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { EnvSchema, loadConfig } from '../../src/config';
import { REGIONS, WORKER_ROLES, defaultNamespace, SEARCH_ATTRIBUTES } from '../../src/names';

const ROOT = path.resolve(__dirname, '..', '..');
const compose = YAML.parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true });
const services: Record<string, Record<string, any>> = compose.services;
const defaults = loadConfig({});

describe('docker-compose.yml', () => {
  it('has the topology of npm start: Temporal, its UI, Postgres, the API and 12 workers', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['postgres', 'temporal', 'temporal-ui', 'api']));
    for (const region of REGIONS) {
      for (const role of WORKER_ROLES) {
        const svc = services[`worker-${region}-${role}`];
        expect(svc).toBeDefined();
        expect(svc.command).toEqual(['node', 'dist/src/workers/worker.js', region, role]);
      }
    }
    const workers = Object.keys(services).filter((s) => s.startsWith('worker-'));
    expect(workers).toHaveLength(REGIONS.length * WORKER_ROLES.length);
  });

  it('runs entry points that the build produces', () => {
    const tsEntry = (js: string) => path.join(ROOT, js.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
    expect(fs.existsSync(tsEntry(services.api.command[1]))).toBe(true);
    expect(fs.existsSync(tsEntry(services['worker-east-core'].command[1]))).toBe(true);
    expect(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/npm run build/);
  });

  it('publishes the ports the configuration uses by default', () => {
    expect(services.api.ports).toContain(`${defaults.PORT}:${defaults.PORT}`);
    expect(String(services.api.environment.PORT)).toBe(String(defaults.PORT));
    expect(services.temporal.ports).toContain(`${defaults.TEMPORAL_PORT}:7233`);
    expect(services['temporal-ui'].ports).toContain(`${defaults.TEMPORAL_UI_PORT}:8080`);
  });

  it('sets only variables the configuration module reads, and everything a process needs', () => {
    const known = new Set(Object.keys(EnvSchema.properties));
    for (const [name, svc] of Object.entries(services)) {
      if (name !== 'api' && !name.startsWith('worker-')) continue;
      const env = svc.environment as Record<string, unknown>;
      for (const key of Object.keys(env)) expect({ service: name, key, known: known.has(key) }).toEqual({ service: name, key, known: true });
      expect(env.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:5432\/pipeline$/);
      expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
      expect(loadConfig(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])))).toBeDefined();
    }
    expect(services['worker-west-core'].environment.NAMESPACE_WEST).toBe(defaultNamespace('west'));
  });

  it('registers both namespaces and every search attribute', () => {
    const script = services['temporal-setup'].command.join(' ');
    for (const region of REGIONS) expect(script).toContain(defaultNamespace(region));
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) expect(script).toContain(`--name ${name} --type ${type}`);
  });

  it('gives long-running services health checks and restart policies', () => {
    for (const [name, svc] of Object.entries(services)) {
      if (name === 'temporal-setup') continue;
      expect({ name, restart: svc.restart }).toEqual({ name, restart: 'unless-stopped' });
      if (name !== 'temporal-ui') expect({ name, healthcheck: Boolean(svc.healthcheck?.test) }).toEqual({ name, healthcheck: true });
    }
  });
});
