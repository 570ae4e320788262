import { cachedUiServer, TEMPORAL_UI_MODULE, uiConfig, uiServerArgs } from '../../src/launcher/temporal-ui';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

describe("the real server's Web UI", () => {
  it('is the ui-server version docker-compose.yml runs, cached under a name with its version', () => {
    const compose = parse(fs.readFileSync(path.join(__dirname, '..', '..', 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, { image?: string }>;
    };
    const version = TEMPORAL_UI_MODULE.split('@v')[1];
    expect(compose.services['temporal-ui'].image).toBe(`temporalio/ui:${version}`);
    expect(cachedUiServer('/c')).toBe(`/c/bin/temporal-ui-server-v${version}`);
  });

  it("points at its region's frontend, listens on loopback and opens on the region's namespace", () => {
    const config = parse(uiConfig({ region: 'west', temporalAddress: '127.0.0.1:7234', port: 8234, namespace: 'pipeline-west' })) as Record<
      string,
      unknown
    >;
    expect(config).toMatchObject({
      temporalGrpcAddress: '127.0.0.1:7234',
      host: '127.0.0.1',
      port: 8234,
      enableUi: true,
      defaultNamespace: 'pipeline-west',
      auth: { enabled: false },
    });
    expect(uiServerArgs('/d', 'ui-west')).toEqual(['--root', '/d', '--config', 'ui-west', '--env', 'pipeline', 'start']);
  });
});
