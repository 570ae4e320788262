// A local HTTP server that records every request and answers as the test scripts it: the CLI's
// tests run the real client against it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method?: string;
  url?: string;
  auth?: string;
  body: string;
}

/** An answer: status, body (a string as it is, anything else as JSON). */
export type Answer = [number, unknown];

export interface RecordingServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export async function recordingServer(answer: (req: SeenRequest) => Answer): Promise<RecordingServer> {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const request = { method: req.method, url: req.url, auth: req.headers.authorization, body };
      seen.push(request);
      const [status, content] = answer(request);
      if (typeof content === 'string') return res.writeHead(status).end(content);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(content));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
