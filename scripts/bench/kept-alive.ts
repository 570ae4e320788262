// One HTTP connection kept alive, one request at a time: what a publisher sending record by record
// sees of the 202 itself (no connection setup in the figure).
import http from 'node:http';
import { ADMIN_TOKEN } from '../../harness/system';

export interface Timed {
  status: number;
  ms: number;
}

export class KeptAliveClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private readonly sockets = new Set<unknown>();

  constructor(private readonly baseUrl: string) {}

  /** Connections opened so far (1 while the server keeps the connection). */
  get connections(): number {
    return this.sockets.size;
  }

  /** POSTs one record to a source; ms from the request to the end of the answer. */
  submitOne(sourceId: string, id: string, payload: object): Promise<Timed> {
    const body = JSON.stringify({ records: [{ id, payload }] });
    const url = new URL(`/v1/sources/${encodeURIComponent(sourceId)}/records`, this.baseUrl);
    return new Promise((resolve, reject) => {
      const t0 = process.hrtime.bigint();
      const req = http.request(
        url,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            authorization: `Bearer ${ADMIN_TOKEN}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.once('end', () => resolve({ status: res.statusCode ?? 0, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
          res.once('error', reject);
        },
      );
      req.once('socket', (s) => this.sockets.add(s));
      req.once('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
