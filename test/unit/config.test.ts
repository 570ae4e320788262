import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { CliEnvSchema, ConfigError, DEFAULT_DATABASE_URL, EnvSchema, loadCliConfig, loadConfig } from '../../src/config';
import { CONFIG_DOC, configTable, renderConfigDoc } from '../../scripts/config-doc';

describe('configuration', () => {
  it('works out of the box', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.databaseUrl).toBe(DEFAULT_DATABASE_URL);
    expect(c.regions).toEqual([
      { name: 'east', namespace: 'pipeline-east', address: '127.0.0.1:7233', connect: {}, external: false },
      { name: 'west', namespace: 'pipeline-west', address: '127.0.0.1:7233', connect: {}, external: false },
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

describe('Temporal connection per region (the standard environment configuration)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'envconfig-'));
  const file = path.join(dir, 'temporal.toml');
  fs.writeFileSync(path.join(dir, 'client.pem'), 'CERT');
  fs.writeFileSync(path.join(dir, 'client.key'), 'KEY');
  fs.writeFileSync(
    file,
    [
      '[profile.cloud-east]',
      'address = "east.tmprl.cloud:7233"',
      'namespace = "pipeline-east.acct"',
      'api_key = "east-key"',
      '[profile.mtls-west]',
      'address = "temporal.west.internal:7233"',
      'namespace = "pipeline-west"',
      '[profile.mtls-west.tls]',
      `client_cert_path = "${path.join(dir, 'client.pem')}"`,
      `client_key_path = "${path.join(dir, 'client.key')}"`,
      'server_name = "temporal.west.internal"',
      '[profile.default]',
      'address = "shared.example:7233"',
      'namespace = "not-for-a-region"',
    ].join('\n'),
  );
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads each region from its own profile: address, namespace, API key (TLS on), client certificates', () => {
    const c = loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE_EAST: 'cloud-east', TEMPORAL_PROFILE_WEST: 'mtls-west' });
    expect(c.regions[0]).toEqual({
      name: 'east',
      namespace: 'pipeline-east.acct',
      address: 'east.tmprl.cloud:7233',
      connect: { apiKey: 'east-key', tls: true },
      external: true,
    });
    expect(c.regions[1]).toMatchObject({ namespace: 'pipeline-west', address: 'temporal.west.internal:7233', external: true });
    expect(c.regions[1].connect.tls).toMatchObject({
      serverNameOverride: 'temporal.west.internal',
      clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') },
    });
  });

  it('lets the standard variables and the per-region ones override a profile; TEMPORAL_NAMESPACE is not used', () => {
    const c = loadConfig({
      TEMPORAL_CONFIG_FILE: file,
      TEMPORAL_PROFILE_EAST: 'cloud-east',
      TEMPORAL_API_KEY: 'rotated',
      NAMESPACE_EAST: 'other-east',
      TEMPORAL_ADDRESS_WEST: 'west:7233',
      TEMPORAL_NAMESPACE: 'one-for-both',
    });
    expect(c.regions[0]).toMatchObject({ namespace: 'other-east', address: 'east.tmprl.cloud:7233', connect: { apiKey: 'rotated' } });
    // west has no profile of its own: the default profile's connection, but not its namespace.
    expect(c.regions[1]).toMatchObject({ namespace: 'pipeline-west', address: 'west:7233', connect: { apiKey: 'rotated', tls: true } });
  });

  it('names the region and profile when a profile does not exist', () => {
    expect(() => loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE_WEST: 'nope' })).toThrow(/region west \(profile nope\).*nope/);
  });
});

describe('docs/configuration.md', () => {
  it('documents every variable the configuration reads: exactly what npm run docs:config generates from the schemas', () => {
    const doc = fs.readFileSync(CONFIG_DOC, 'utf8');
    // Generated from each entry's description and default: it cannot drift from the code.
    expect(doc).toBe(renderConfigDoc(doc));
    for (const key of [...Object.keys(EnvSchema.properties), ...Object.keys(CliEnvSchema.properties)]) {
      expect({ key, documented: doc.includes(`| \`${key}\` |`) }).toEqual({ key, documented: true });
    }
  });

  it('cannot be generated from an entry without a description', () => {
    expect(() => configTable(Type.Object({ NEW_SETTING: Type.Integer({ default: 1 }) }))).toThrow(/NEW_SETTING has no description/);
    expect(configTable(Type.Object({ A: Type.Optional(Type.String({ description: 'x | y' })) }))).toContain('| `A` | unset | x \\| y |');
  });
});
