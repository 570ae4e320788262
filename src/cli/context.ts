// The options every command shares (--url, --token, --json) and the API client built from them.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { SOURCE_ID_PATTERN } from '../contracts/names';
import { ApiClient } from './http';

export interface GlobalOptions {
  url: string;
  token?: string;
  json: boolean;
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

export function apiClient(cmd: Command): ApiClient {
  const g = globals(cmd);
  return new ApiClient({ url: g.url, token: g.token });
}

/** commander argument parser for an integer within bounds. */
export function intArg(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

const sourcePattern = new RegExp(SOURCE_ID_PATTERN);

export function sourceArg(value: string): string {
  if (!sourcePattern.test(value)) throw new InvalidArgumentError('a source id is 1-128 letters, digits, ".", "_" or "-"');
  return value;
}

export const enc = encodeURIComponent;
