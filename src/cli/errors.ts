// The CLI's failures: each becomes one line on stderr and a non-zero exit (see main.ts).

/** A failure to report as is: bad input, an unreachable API, a failed check. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** The API answered with an error status: its `{error, message}` body, kept for the summary. */
export class ApiRequestError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly apiMessage: string,
    readonly details?: unknown,
  ) {
    super(`${status} ${code}: ${apiMessage}`);
  }
}
