// A real tus 1.0 server (@tus/server with @tus/file-store) for the Go tus
// client's tests. Usage: node tus-server.mjs <directory>
// It listens on 127.0.0.1 (a free port), prints one JSON line
// {"endpoint": "http://127.0.0.1:PORT/files/"} and serves until stdin closes
// or it gets SIGTERM.
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const directory = process.argv[2];
if (!directory) {
  console.error('usage: node tus-server.mjs <directory>');
  process.exit(2);
}
const server = new Server({ path: '/files', datastore: new FileStore({ directory }) });
const http = server.listen({ host: '127.0.0.1', port: 0 }, () => {
  const { port } = http.address();
  process.stdout.write(JSON.stringify({ endpoint: `http://127.0.0.1:${port}/files/` }) + '\n');
});
const stop = () => { http.close(() => process.exit(0)); http.closeAllConnections(); };
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
