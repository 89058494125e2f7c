/**
 * The ceiling: a bare aedes broker (no authentication, no journal, no InfluxDB)
 * acknowledging QoS 1 publishes, with TCP_NODELAY like the gateway's broker.
 * argv[2] = port. Prints {"ready":true,"port":N} when listening.
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const broker = await Aedes.createBroker({});
const server = createServer((socket) => {
  socket.setNoDelay(true);
  broker.handle(socket);
});
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(JSON.stringify({ ready: true, port: typeof a === 'object' && a ? a.port : 0 }) + '\n');
});
process.on('SIGTERM', () => {
  server.close();
  broker.close(() => process.exit(0));
});
