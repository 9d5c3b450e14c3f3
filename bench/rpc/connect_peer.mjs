// SPDX-License-Identifier: Apache-2.0
// Benchmark peer for Connect over HTTP/1.1: dstack.test.v1.Bench/Echo on
// @connectrpc/connect-node (connectNodeAdapter on node:http). There is no generated
// TypeScript; the service comes from the descriptor set of the test protos
// (build/tests/proto/test.pb) through a @bufbuild/protobuf v2 registry.
// Adapter and server options are defaults.
//
// usage: node connect_peer.mjs [--port N] [--ready-file F] [--descriptor-set F]
//   Listens on 127.0.0.1 (port 0 = any). Prints "http://127.0.0.1:PORT" and, with
//   --ready-file, writes the same line to F atomically (tmp file + rename).
//   Stops on SIGTERM/SIGINT.
import { createRequire } from 'node:module';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'ready-file': { type: 'string' },
    'descriptor-set': { type: 'string', default: resolve(root, 'build/tests/proto/test.pb') },
  },
});

// The Node dependencies live in tests/node (ESM-only packages: import by resolved path).
const require = createRequire(resolve(root, 'tests/node/package.json'));
const load = async (name) => import(require.resolve(name));
const { createFileRegistry, fromBinary } = await load('@bufbuild/protobuf');
const { FileDescriptorSetSchema } = await load('@bufbuild/protobuf/wkt');
const { ConnectError, Code } = await load('@connectrpc/connect');
const { connectNodeAdapter } = await load('@connectrpc/connect-node');

const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(args['descriptor-set'])));
const Bench = registry.getService('dstack.test.v1.Bench');
if (!Bench) {
  console.error(`dstack.test.v1.Bench not in ${args['descriptor-set']}`);
  process.exit(1);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const impl = {
  async echo(req) {
    if (req.sleepMs) await sleep(req.sleepMs);
    return { text: req.text, data: req.data };
  },
  async fail(req) {
    throw new ConnectError(req.message, req.code > 0 && req.code < 17 ? req.code : Code.Unknown);
  },
};

const handler = connectNodeAdapter({ routes: (router) => router.service(Bench, impl) });
const server = createServer(handler);
server.listen(Number(args.port), '127.0.0.1', () => {
  const url = `http://127.0.0.1:${server.address().port}`;
  if (args['ready-file']) {
    const tmp = `${args['ready-file']}.tmp`;
    writeFileSync(tmp, `${url}\n`);
    renameSync(tmp, args['ready-file']);
  }
  console.log(url);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
