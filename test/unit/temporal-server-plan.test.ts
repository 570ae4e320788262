// TEMPORAL_SERVER=postgres: the configuration, the databases' names, the SQL tool's and the
// server's command lines, and what the setting implies for the topology (pure logic).
import { ConfigError, loadConfig } from '../../src/config';
import { goBinaryName } from '../../src/launcher/go-install';
import {
  SERVICE_PORT_COUNT,
  TEMPORAL_SERVER_MODULES,
  dynamicConfig,
  postgresTarget,
  serverArgs,
  serverConfig,
  MAX_CONNS,
  servicePorts,
  sqlToolArgs,
  temporalDatabases,
  type ServerPlan,
} from '../../src/launcher/temporal-server';

const pg = postgresTarget('postgres://postgres@127.0.0.1:5432/pipeline_test_e2e_shared_a1b2c3');
const plan = (region: string, port: number, base: number): ServerPlan => ({
  region,
  port,
  ports: servicePorts(base),
  pg,
  dynamicConfigFile: '/data/temporal-server/dynamic-config.yaml',
});

describe('the real Temporal server on Postgres', () => {
  it('is off by default; postgres implies one server per region and refuses an explicit shared topology', () => {
    expect(loadConfig({}).TEMPORAL_SERVER).toBe('dev');
    const c = loadConfig({ TEMPORAL_SERVER: 'postgres', TEMPORAL_PORT: '17233' });
    expect(c.REGION_TOPOLOGY).toBe('servers');
    expect(c.regions.map((r) => r.address)).toEqual(['127.0.0.1:17233', '127.0.0.1:17234']);
    expect(loadConfig({ TEMPORAL_SERVER: 'postgres', REGION_TOPOLOGY: 'servers' }).REGION_TOPOLOGY).toBe('servers');
    expect(() => loadConfig({ TEMPORAL_SERVER: 'postgres', REGION_TOPOLOGY: 'shared' })).toThrow(ConfigError);
    expect(() => loadConfig({ TEMPORAL_SERVER: 'postgres', REGION_TOPOLOGY: 'shared' })).toThrow(/one Temporal server per region/);
    expect(() => loadConfig({ TEMPORAL_SERVER: 'sqlite' })).toThrow(/TEMPORAL_SERVER/);
  });

  it("reads the server, user and password from the pipeline's database URL, and names the databases after it", () => {
    expect(postgresTarget('postgres://app:s%40cret@db.internal:6543/orders')).toEqual({
      host: 'db.internal',
      port: 6543,
      user: 'app',
      password: 's@cret',
      database: 'orders',
    });
    expect(postgresTarget('postgres://127.0.0.1/pipeline')).toMatchObject({ port: 5432, user: 'postgres', password: '' });
    expect(temporalDatabases('pipeline', 'east')).toEqual({
      main: 'pipeline_temporal_east',
      visibility: 'pipeline_temporal_east_visibility',
    });
    // Two systems (a checkout, its tests) on one Postgres never share them.
    expect(temporalDatabases(pg.database, 'west').main).toBe('pipeline_test_e2e_shared_a1b2c3_temporal_west');
    expect(() => temporalDatabases('x'.repeat(40), 'east')).toThrow(/63/);
  });

  it('builds both programs with the pinned version and installs them under their own names', () => {
    expect(TEMPORAL_SERVER_MODULES).toEqual(['go.temporal.io/server/cmd/server@v1.31.2', 'go.temporal.io/server/cmd/tools/sql@v1.31.2']);
    expect(TEMPORAL_SERVER_MODULES.map(goBinaryName)).toEqual(['server', 'sql']);
  });

  it('writes a config with four shards, the four services on their own ports, SQL persistence and visibility, a cluster per region', () => {
    const east = serverConfig(plan('east', 17233, 20000)) as any;
    const west = serverConfig(plan('west', 17234, 20000 + SERVICE_PORT_COUNT)) as any;
    expect(east.persistence).toMatchObject({ numHistoryShards: 4, defaultStore: 'default', visibilityStore: 'visibility' });
    expect(east.persistence.datastores.default.sql).toMatchObject({
      pluginName: 'postgres12',
      databaseName: 'pipeline_test_e2e_shared_a1b2c3_temporal_east',
      connectAddr: '127.0.0.1:5432',
      user: 'postgres',
    });
    // Pools keep what they open (no reconnecting after each burst), within both servers' budget.
    for (const store of ['default', 'visibility']) {
      const { maxConns, maxIdleConns } = east.persistence.datastores[store].sql;
      expect(maxIdleConns).toBe(maxConns);
    }
    expect(2 * 4 * (MAX_CONNS.main + MAX_CONNS.visibility)).toBeLessThanOrEqual(64);
    expect(east.persistence.datastores.visibility.sql.databaseName).toBe('pipeline_test_e2e_shared_a1b2c3_temporal_east_visibility');
    expect(Object.keys(east.services).sort()).toEqual(['frontend', 'history', 'matching', 'worker']);
    expect(east.services.frontend.rpc.grpcPort).toBe(17233);
    expect(east.publicClient.hostPort).toBe('127.0.0.1:17233');
    // Every port of both servers distinct: they run side by side.
    const ports = (c: any) => Object.values(c.services).flatMap((s: any) => [s.rpc.grpcPort, s.rpc.membershipPort]);
    const all = [...ports(east), ...ports(west)];
    expect(new Set(all).size).toBe(all.length);
    expect(all).toHaveLength(16);
    expect(east.clusterMetadata.currentClusterName).toBe('pipeline-east');
    expect(west.clusterMetadata.currentClusterName).toBe('pipeline-west');
    expect(Object.keys(west.clusterMetadata.clusterInformation)).toEqual(['pipeline-west']);
    expect(west.clusterMetadata.clusterInformation['pipeline-west'].rpcAddress).toBe('127.0.0.1:17234');
    expect(east.dynamicConfigClient.filepath).toBe('/data/temporal-server/dynamic-config.yaml');
    // Written as JSON, which YAML reads: it must survive the round trip.
    expect(JSON.parse(JSON.stringify(east))).toEqual(east);
  });

  it('gives the real server the dynamic config the dev server has (its defaults, and devServerArgs)', () => {
    const dc = dynamicConfig();
    expect(dc['system.forceSearchAttributesCacheRefreshOnRead']).toEqual([{ value: true }]);
    expect(dc['matching.longPollExpirationInterval']).toEqual([{ value: '10s' }]);
    expect(dc['history.transferProcessorMaxPollRPS']).toEqual([{ value: 1000 }]);
  });

  it('runs the SQL tool and the server with the flags of v1.31.2, the password never on the command line', () => {
    const secret = postgresTarget('postgres://app:hunter2@db:5433/p');
    expect(sqlToolArgs(secret, 'p_temporal_east', 'update-schema', '--schema-name', 'postgresql/v12/temporal')).toEqual([
      '--plugin',
      'postgres12',
      '--ep',
      'db',
      '-p',
      '5433',
      '-u',
      'app',
      '--db',
      'p_temporal_east',
      'update-schema',
      '--schema-name',
      'postgresql/v12/temporal',
    ]);
    expect(sqlToolArgs(secret, 'x').join(' ')).not.toContain('hunter2');
    expect(serverArgs('/data/temporal-server/east.yaml')).toEqual([
      '--config-file',
      '/data/temporal-server/east.yaml',
      '--allow-no-auth',
      'start',
    ]);
  });
});
