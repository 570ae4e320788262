// The start thread's connection (the SDK's native one): it fails fast and clearly on a refused port
// and, having no timeout of its own, within CONNECT_TIMEOUT_MS on a server that accepts and never
// answers, so the starts behind it fail over to the relay instead of hanging.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { freePort } from '../../harness/system';
import { CONNECT_TIMEOUT_MS } from '../../src/temporal/clients';
import { nativeConnect } from '../../src/temporal/native-connection';
import type { RegionConfig } from '../../src/config';

const region = (address: string): RegionConfig => ({ name: 'east', namespace: 'pipeline-east', address, connect: {}, external: false });

/** A server that accepts connections, holds them open and says nothing. */
async function listen(): Promise<{ server: net.Server; port: number; sockets: net.Socket[] }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => void sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, sockets };
}

async function close(l: { server: net.Server; sockets: net.Socket[] }): Promise<void> {
  for (const s of l.sockets) s.destroy();
  await new Promise((resolve) => l.server.close(resolve));
}

describe('nativeConnect', () => {
  it('rejects at once when nothing listens', async () => {
    const port = await freePort();
    const t0 = Date.now();
    await expect(nativeConnect(region(`127.0.0.1:${port}`))).rejects.toThrow(/refused/i);
    expect(Date.now() - t0).toBeLessThan(CONNECT_TIMEOUT_MS);
  });

  it('rejects after its timeout when the server accepts and never answers', async () => {
    const l = await listen();
    try {
      const t0 = Date.now();
      await expect(nativeConnect(region(`127.0.0.1:${l.port}`))).rejects.toThrow(`did not answer within ${CONNECT_TIMEOUT_MS} ms`);
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 50);
      expect(took).toBeLessThan(CONNECT_TIMEOUT_MS + 2000);
      expect(l.sockets.length).toBeGreaterThan(0); // it did reach the server
    } finally {
      await close(l);
    }
  });
});
