// SPDX-License-Identifier: Apache-2.0
// Benchmark peer: dstack.test.v1.Bench/Echo on @grpc/grpc-js (h2c), loaded from the same
// .proto as our server via @grpc/proto-loader. Server options are grpc-js defaults.
//
// usage: node grpcjs_server.mjs [--port N] [--ready-file F]
//   Listens on 127.0.0.1 (port 0 = any). Prints "http://127.0.0.1:PORT" and, with
//   --ready-file, writes the same line to F atomically (tmp file + rename).
//   Stops on SIGTERM/SIGINT.
import { createRequire } from 'node:module';
import { renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
// The Node dependencies live in tests/node; resolve them from there.
const require = createRequire(resolve(root, 'tests/node/package.json'));
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'ready-file': { type: 'string' },
  },
});

const protoDir = resolve(root, 'tests/proto');
const def = protoLoader.loadSync('dstack/test/v1/test.proto', {
  includeDirs: [protoDir],
  // Keep field names and bytes as the wire has them; no conversions on the hot path.
  keepCase: true,
});
const pkg = grpc.loadPackageDefinition(def);
const Bench = pkg.dstack.test.v1.Bench;

function echo(call, callback) {
  const req = call.request;
  const resp = { text: req.text, data: req.data };
  if (req.sleep_ms) setTimeout(() => callback(null, resp), req.sleep_ms);
  else callback(null, resp);
}

function fail(call, callback) {
  const req = call.request;
  callback({ code: req.code || grpc.status.UNKNOWN, details: req.message || '' });
}

const server = new grpc.Server();
server.addService(Bench.service, { Echo: echo, Fail: fail });
server.bindAsync(`127.0.0.1:${args.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(`bind: ${err.message}`);
    process.exit(1);
  }
  const url = `http://127.0.0.1:${port}`;
  if (args['ready-file']) {
    const tmp = `${args['ready-file']}.tmp`;
    writeFileSync(tmp, `${url}\n`);
    renameSync(tmp, args['ready-file']);
  }
  console.log(url);
});

function stop() {
  server.tryShutdown(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
