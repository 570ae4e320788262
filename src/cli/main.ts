#!/usr/bin/env node
// `npx pipeline`: the operators' command-line tool. One module per command in ./commands.
import { Command, CommanderError, Option } from 'commander';
import { loadCliConfig } from '../config';
import { registerAdmin } from './commands/admin';
import { registerDestination } from './commands/destination';
import { registerStatus } from './commands/status';
import { registerSubmit } from './commands/submit';
import { registerVerify } from './commands/verify';
import { registerWatch } from './commands/watch';
import { CliError } from './errors';

export function buildProgram(env: NodeJS.ProcessEnv = process.env): Command {
  const config = loadCliConfig(env);
  const program = new Command('pipeline')
    .description('submit records to the pipeline, follow them, and operate it')
    .addOption(new Option('--url <url>', 'the API (env PIPELINE_URL)').default(config.PIPELINE_URL))
    .addOption(
      new Option('--token <token>', 'sent as a Bearer token (env PIPELINE_TOKEN)').default(config.PIPELINE_TOKEN, 'PIPELINE_TOKEN'),
    )
    .option('--json', 'machine-readable output', false)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerSubmit(program);
  registerWatch(program);
  registerStatus(program);
  registerVerify(program);
  registerAdmin(program);
  registerDestination(program);
  return program;
}

export async function main(argv = process.argv): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    // commander has already printed its own usage errors and help.
    if (err instanceof CommanderError) return err.exitCode;
    const message = err instanceof CliError ? err.message : `unexpected error: ${(err as Error).stack ?? String(err)}`;
    process.stderr.write(`pipeline: error: ${message}\n`);
    return err instanceof CliError ? err.exitCode : 1;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
