import { ConfigError, DEFAULT_DATABASE_URL, loadCliConfig, loadConfig } from '../../src/config';

describe('configuration', () => {
  it('works out of the box', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.databaseUrl).toBe(DEFAULT_DATABASE_URL);
    expect(c.regions).toEqual([
      { name: 'east', namespace: 'pipeline-east', address: '127.0.0.1:7233' },
      { name: 'west', namespace: 'pipeline-west', address: '127.0.0.1:7233' },
    ]);
    expect(c.ACTIVE_REGION).toBe('east');
  });

  it('reads and converts values from the environment', () => {
    const c = loadConfig({ PORT: '4000', TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_ADDRESS_WEST: 'west:7233', ACTIVE_REGION: 'west' });
    expect(c.PORT).toBe(4000);
    expect(c.regions[0].address).toBe('temporal:7233');
    expect(c.regions[1].address).toBe('west:7233');
    expect(c.ACTIVE_REGION).toBe('west');
  });

  it('rejects bad values with a message naming the variable', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/PORT/);
    expect(() => loadConfig({ ACTIVE_REGION: 'north' })).toThrow(/ACTIVE_REGION/);
  });
});

describe('the CLI configuration', () => {
  it('defaults to the local API and the local Postgres, and reads the token', () => {
    expect(loadCliConfig({})).toEqual({ PIPELINE_URL: 'http://127.0.0.1:3000', DATABASE_URL: DEFAULT_DATABASE_URL });
    expect(loadCliConfig({ PIPELINE_URL: 'http://api:3000', PIPELINE_TOKEN: 't', PIPELINE_UNRELATED: 'x' })).toEqual({
      PIPELINE_URL: 'http://api:3000',
      PIPELINE_TOKEN: 't',
      DATABASE_URL: DEFAULT_DATABASE_URL,
    });
  });
});

describe('the README configuration table', () => {
  it('documents every variable the configuration reads', () => {
    const readme = require('node:fs').readFileSync(require('node:path').join(__dirname, '..', '..', 'README.md'), 'utf8') as string;
    const { EnvSchema, CliEnvSchema } = require('../../src/config');
    for (const key of [...Object.keys(EnvSchema.properties), ...Object.keys(CliEnvSchema.properties)]) expect({ key, documented: readme.includes(`\`${key}\``) }).toEqual({ key, documented: true });
  });
});
