import { createServer } from 'node:net';

/**
 * Asks the kernel for a currently free TCP port on `host` (listen on port 0, read the port, close).
 *
 * The port is only free at the moment of asking: another process may take it before our caller binds
 * it, so callers that spawn a server on it should be ready to pick again if the bind fails.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`freePort: unexpected server address ${String(address)} on ${host}`));
        return;
      }
      const { port } = address;
      server.close((err) => {
        if (err) reject(err);
        else resolve(port);
      });
    });
  });
}
