// What `npm start` prints once everything is up: where the API, its docs, Temporal, the Web UI,
// Postgres, the workers, health and logs are, the admin token, and a first request to try.
import path from 'node:path';
import { westUiPort, type Config } from '../config';
import { redactUrl } from '../db/pool';
import type { AdminToken } from './admin-token';
import type { PostgresHandle } from './postgres';

export interface BannerFacts {
  addresses: { east: string; west: string };
  active: string;
  postgres: PostgresHandle;
  workers: number;
  /** Undefined with AUTH=off. */
  admin: AdminToken | undefined;
}

/** The unmissable warning of AUTH=off, at start and again under the banner. */
export function warnAuthOff(): void {
  const line = '!'.repeat(78);
  process.stdout.write(
    [
      line,
      '!!  AUTH=off: the API checks no credentials. Anyone who reaches the port may',
      '!!  write to any source and fail over the system. For local experiments only.',
      line,
      '',
    ].join('\n'),
  );
}

function authLines(admin: AdminToken | undefined): string[] {
  if (!admin) return ['  Auth       OFF (AUTH=off): no credentials are checked'];
  // A token the operator set is not echoed; a generated one must be shown to be usable.
  if (admin.from === 'env') return ['  Auth       admin token from the ADMIN_TOKEN environment variable'];
  return [`  Auth       admin token (kept in ${admin.file}):`, `             export ADMIN_TOKEN=${admin.token}`];
}

export function printBanner(c: Config, facts: BannerFacts): void {
  const { addresses, active, postgres, workers, admin } = facts;
  const host = c.HOST === '0.0.0.0' ? '127.0.0.1' : c.HOST;
  const api = `http://${host}:${c.PORT}`;
  const ns = c.regions.find((r) => r.name === active)!.namespace;
  const ui =
    c.regions.some((r) => r.external) || c.TEMPORAL_UI_PORT === 0
      ? '(not started here)'
      : c.TEMPORAL_SERVER === 'postgres' || c.REGION_TOPOLOGY === 'servers'
        ? `east http://localhost:${c.TEMPORAL_UI_PORT}/namespaces/${c.regions[0].namespace}/workflows, west http://localhost:${westUiPort(c)}/namespaces/${c.regions[1].namespace}/workflows`
        : `http://localhost:${c.TEMPORAL_UI_PORT}/namespaces/${ns}/workflows`;
  const lines = [
    '',
    'The record pipeline is up.',
    `  API        ${api}`,
    `  API docs   ${api}/docs`,
    `  Temporal   east ${addresses.east} (${c.regions[0].namespace}), west ${addresses.west} (${c.regions[1].namespace}); active: ${active}`,
    `  Web UI     ${ui}`,
    `  Postgres   ${redactUrl(postgres.databaseUrl)} (${postgres.kind})`,
    `  Workers    ${workers} processes: GET ${api}/v1/admin/workers${c.METRICS_PORT_BASE ? ` (SDK metrics on ports ${c.METRICS_PORT_BASE}-${c.METRICS_PORT_BASE + workers - 1})` : ''}`,
    `  Health     ${api}/readyz, ${api}/v1/stats, ${api}/metrics`,
    `  Logs       ${path.join(c.dataDir, 'logs')}`,
    ...authLines(admin),
    '',
    `  Try:  curl -s -X POST ${api}/v1/sources/demo/records -H "Authorization: Bearer $ADMIN_TOKEN" \\`,
    `          -H 'content-type: application/json' -d '{"records":[{"id":"r1","payload":{"amount":12.5}}]}'`,
    `        curl -s ${api}/v1/sources/demo -H "Authorization: Bearer $ADMIN_TOKEN"`,
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (!admin) warnAuthOff();
}
