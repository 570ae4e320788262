// docker-compose.yml is not run here (no Docker engine): `npm run compose:check` checks it matches
// the code; this test runs the same check, and shows that it catches a broken file.
import path from 'node:path';
import { composeProblems, readCompose } from '../../scripts/compose-check';

const services = readCompose(path.resolve(__dirname, '..', '..', 'docker-compose.yml'));

describe('docker-compose.yml', () => {
  it('is consistent with the code: topology, entry points, variables, ports, health checks, restart policies', () => {
    expect(composeProblems(services)).toEqual([]);
  });

  it('is reported when broken', () => {
    const broken = structuredClone(services);
    delete broken['worker-west-core'];
    broken.api.environment.NO_SUCH_SETTING = 'x';
    broken['worker-east-core'].restart = 'no';
    delete broken.postgres.healthcheck;
    broken.api.healthcheck = { test: ['CMD', 'true'] };
    expect(composeProblems(broken)).toEqual(
      expect.arrayContaining([
        'service worker-west-core is missing',
        'api: NO_SUCH_SETTING is not read by the configuration',
        'worker-east-core: restart is no, expected unless-stopped',
        'postgres: no health check',
        'api: the health check does not call /healthz',
      ]),
    );
  });
});
