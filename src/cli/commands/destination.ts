// `pipeline destination set|show <source>`: where a source's records are delivered (the deliveries
// table, or a webhook as well). The webhook's URL is --webhook: --url is the API's, for every command.
import { Option, type Command } from 'commander';
import type { DestinationView } from '../../api/routes/destinations';
import { apiClient, enc, globals, sourceArg } from '../context';
import { CliError } from '../errors';
import { formatPairs, print, printJson } from '../output';

export interface SetOptions {
  table?: boolean;
  webhook?: string;
  secret?: string;
}

/** The PUT body the options ask for; the API checks the URL and the secret. */
export function destinationBody(opts: SetOptions): { type: 'table' } | { type: 'webhook'; url: string; secret: string } {
  if (opts.table) {
    if (opts.webhook !== undefined || opts.secret !== undefined) throw new CliError('--table takes no --webhook or --secret');
    return { type: 'table' };
  }
  if (opts.webhook === undefined || opts.secret === undefined) {
    throw new CliError('give --table, or --webhook <url> and --secret <whsec_...> (--url is the API, not the endpoint)');
  }
  return { type: 'webhook', url: opts.webhook, secret: opts.secret };
}

export function formatDestination(d: DestinationView): string {
  if (d.type === 'table')
    return formatPairs([
      ['source', d.sourceId],
      ['destination', 'the deliveries table'],
    ]);
  return formatPairs([
    ['source', d.sourceId],
    ['destination', 'webhook (and the deliveries table)'],
    ['url', d.url],
    ['secret', d.secretSet ? 'set (never shown)' : 'not set'],
    [
      'state',
      d.disabledAt ? `disabled since ${d.disabledAt}: ${d.disabledReason || 'no reason given'} (set it again to enable)` : 'enabled',
    ],
  ]);
}

export function registerDestination(program: Command): void {
  const destination = program.command('destination').description("where a source's records are delivered: the table, or a webhook too");

  destination
    .command('set')
    .description('deliver to the deliveries table only (--table) or also to a webhook; re-enables a webhook disabled by a 410')
    .argument('<source>', 'source id (created if it has no records yet)', sourceArg)
    .option('--webhook <url>', 'the endpoint: https, or http to a host in WEBHOOK_ALLOWED_HOSTS')
    .option('--secret <secret>', 'whsec_ and the base64 of 24 to 64 random bytes; signs every call, never shown again')
    .addOption(new Option('--table', 'the deliveries table only (the default of a new source)').conflicts(['webhook', 'secret']))
    .action(async (source: string, opts: SetOptions, cmd: Command) => {
      const reply = await apiClient(cmd).put<DestinationView>(`/v1/admin/sources/${enc(source)}/destination`, destinationBody(opts));
      if (globals(cmd).json) printJson(reply);
      else print(formatDestination(reply));
    });

  destination
    .command('show')
    .description("a source's destination (never the webhook's secret)")
    .argument('<source>', 'source id', sourceArg)
    .action(async (source: string, _opts: unknown, cmd: Command) => {
      const reply = await apiClient(cmd).get<DestinationView>(`/v1/admin/sources/${enc(source)}/destination`);
      if (globals(cmd).json) printJson(reply);
      else print(formatDestination(reply));
    });
}
