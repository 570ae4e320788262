// Whether a TCP port can be listened on: the supervisor checks its API port before starting; free
// ranges for the real Temporal server's internal services and for the test launcher.
import fs from 'node:fs';
import net from 'node:net';

export function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

const EPHEMERAL_LOW = (() => {
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
})();
const PORT_FLOOR = 10_000;

/**
 * n consecutive free ports on 127.0.0.1, below the kernel's ephemeral range: a port found by
 * listening on 0 is itself ephemeral, and between our check and the real listen any bind(0) (a
 * server's outgoing connections, a worker) may take it.
 */
export async function freePortRange(n: number): Promise<number> {
  const span = Math.max(EPHEMERAL_LOW - PORT_FLOOR - n, 1000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = PORT_FLOOR + Math.floor(Math.random() * span);
    const free = await Promise.all(Array.from({ length: n }, (_, i) => portFree('127.0.0.1', base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no ${n} consecutive free ports found below ${EPHEMERAL_LOW}`);
}
