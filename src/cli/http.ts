// A small client of the pipeline's HTTP API: base URL, Bearer token, JSON, one-line errors.
import { ApiRequestError, CliError } from './errors';

export interface ApiClientOptions {
  url: string;
  token?: string;
  /** Per request; a hung API must not hang the CLI. */
  timeoutMs?: number;
}

export class ApiClient {
  readonly url: string;

  constructor(private readonly opts: ApiClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new CliError(`cannot reach the API at ${this.url} (${reason(err)}); is it running? set PIPELINE_URL or --url`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const e = (parsed ?? {}) as { error?: string; message?: string; details?: unknown };
      throw new ApiRequestError(res.status, e.error ?? 'http_error', e.message ?? (text.slice(0, 200) || res.statusText), e.details);
    }
    if (parsed === undefined && text) throw new CliError(`${method} ${path}: the API answered with something that is not JSON`);
    return parsed as T;
  }
}

function reason(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  return e.cause?.code ?? e.cause?.message ?? e.message;
}
