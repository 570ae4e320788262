// Whether a TCP port can be listened on: the supervisor checks its API port before starting, the
// test launcher looks for free ranges.
import net from 'node:net';

export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}
