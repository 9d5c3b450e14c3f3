// SPDX-License-Identifier: Apache-2.0
// Real third-party clients against ds_test_server (lib/rpc): @grpc/grpc-js over
// h2c and TLS with client certificates, @connectrpc/connect-node over HTTP/1.1
// (JSON and binary), and curl over TCP and a unix socket.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { create, fromBinary, createFileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, MethodDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { createClient, ConnectError, Code } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';

import { startTestServer, makeTlsMaterial, descriptorSetPath, sourceDir, tempDir } from './lib/harness.mjs';

const ECHO = '/dstack.test.v1.Bench/Echo';
const FAIL = '/dstack.test.v1.Bench/Fail';

// gRPC status codes (and the number FailRequest.code takes).
const G = { INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, PERMISSION_DENIED: 7, UNIMPLEMENTED: 12, UNAVAILABLE: 14 };

// --- grpc-js plumbing ---

const packageDef = protoLoader.loadSync(join(sourceDir, 'tests/proto/dstack/test/v1/test.proto'), {
	includeDirs: [join(sourceDir, 'tests/proto'), '/usr/include'],
	keepCase: true,
	longs: String,
	enums: String,
	defaults: true,
	oneofs: true,
});
const grpcPkg = grpc.loadPackageDefinition(packageDef);
const Bench = grpcPkg.dstack.test.v1.Bench;

function unary(client, method, req, opts = {}) {
	return new Promise((res, rej) => {
		const cb = (err, resp) => (err ? rej(err) : res(resp));
		if (opts.deadline)
			client[method](req, { deadline: opts.deadline }, cb);
		else
			client[method](req, cb);
	});
}

async function grpcRejects(promise, code, details) {
	const err = await promise.then(
		(r) => assert.fail(`expected gRPC error ${code}, got response ${JSON.stringify(r)}`),
		(e) => e,
	);
	assert.equal(err.code, code, `gRPC code (details: ${err.details})`);
	if (details !== undefined)
		assert.equal(err.details, details);
	return err;
}

// --- connect-node plumbing ---

const fdsBytes = readFileSync(descriptorSetPath());
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, fdsBytes));
const benchService = registry.getService('dstack.test.v1.Bench');
assert.ok(benchService, 'dstack.test.v1.Bench in the descriptor set');

// The same service with a method the server does not have ("Nope").
const fdsNope = fromBinary(FileDescriptorSetSchema, fdsBytes);
{
	const file = fdsNope.file.find((f) => f.package === 'dstack.test.v1' && f.service.some((s) => s.name === 'Bench'));
	const svc = file.service.find((s) => s.name === 'Bench');
	svc.method.push(create(MethodDescriptorProtoSchema, {
		name: 'Nope', inputType: '.dstack.test.v1.EchoRequest', outputType: '.dstack.test.v1.EchoResponse',
	}));
}
const benchNopeService = createFileRegistry(fdsNope).getService('dstack.test.v1.Bench');

async function connectRejects(promise, code, rawMessage) {
	const err = await promise.then(
		(r) => assert.fail(`expected ConnectError ${Code[code]}, got response ${JSON.stringify(r)}`),
		(e) => e,
	);
	assert.ok(err instanceof ConnectError, `ConnectError, got ${err}`);
	assert.equal(err.code, code, `Connect code ${Code[err.code]} (${err.rawMessage})`);
	if (rawMessage !== undefined)
		assert.equal(err.rawMessage, rawMessage);
	return err;
}

// --- curl plumbing ---

function curl(args, timeoutMs = 10000) {
	return new Promise((res, rej) => {
		execFile('/usr/bin/curl', ['-sS', '--max-time', String(timeoutMs / 1000), '-w', '\n%{http_code}', ...args],
			{ encoding: 'utf8', timeout: timeoutMs + 2000 }, (err, stdout, stderr) => {
				if (err)
					return rej(new Error(`curl ${args.join(' ')}: ${err.message} ${stderr}`));
				const i = stdout.lastIndexOf('\n');
				res({ status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) });
			});
	});
}

function curlJson(base, path, body, extra = []) {
	return curl([...extra, '-H', 'Content-Type: application/json', '--data-binary', body, `${base}${path}`]);
}

// --- gRPC over h2c ---

describe('grpc-js over h2c', () => {
	let srv, client;

	before(async () => {
		srv = await startTestServer();
		assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+$/);
		client = new Bench(`127.0.0.1:${srv.port}`, grpc.credentials.createInsecure());
	});
	after(async () => {
		client?.close();
		await srv?.stop();
	});

	test('Echo round trip: text and bytes', { timeout: 10000 }, async () => {
		const data = Buffer.from([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff]);
		const resp = await unary(client, 'Echo', { text: 'héllo, wörld ✓', data });
		assert.equal(resp.text, 'héllo, wörld ✓');
		assert.deepEqual(Buffer.from(resp.data), data);
		const empty = await unary(client, 'Echo', {});
		assert.equal(empty.text, '');
		assert.equal(Buffer.from(empty.data).length, 0);
	});

	test('Fail: status code and message reach the client exactly', { timeout: 10000 }, async () => {
		const cases = [
			[G.NOT_FOUND, 'no such key: k1'],
			[G.PERMISSION_DENIED, 'not allowed'],
			[G.INVALID_ARGUMENT, 'bad field "x" 100% wrong ü'],
			[G.UNAVAILABLE, 'try again later'],
		];
		for (const [code, message] of cases)
			await grpcRejects(unary(client, 'Fail', { code, message }), code, message);
	});

	test('unknown method → UNIMPLEMENTED', { timeout: 10000 }, async () => {
		for (const path of ['/dstack.test.v1.Bench/Nope', '/dstack.test.v1.Nope/Echo']) {
			const err = await new Promise((res) => {
				client.makeUnaryRequest(path, (x) => x, (x) => x, Buffer.alloc(0), (e, r) => res(e ?? r));
			});
			assert.ok(err instanceof Error, `${path}: expected an error, got ${err}`);
			assert.equal(err.code, G.UNIMPLEMENTED, `${path}: ${err.details}`);
		}
	});

	test('deadline: Echo sleeping 2 s with a 200 ms deadline → DEADLINE_EXCEEDED, server still answers', { timeout: 15000 }, async () => {
		const t0 = Date.now();
		await grpcRejects(unary(client, 'Echo', { text: 'slow', sleep_ms: 2000 }, { deadline: Date.now() + 200 }),
			G.DEADLINE_EXCEEDED);
		assert.ok(Date.now() - t0 < 1500, `deadline took ${Date.now() - t0} ms`);
		const resp = await unary(client, 'Echo', { text: 'after deadline' });
		assert.equal(resp.text, 'after deadline');
		// Let the orphaned handler finish (its result is dropped) and check again.
		await sleep(2100);
		const again = await unary(client, 'Echo', { text: 'after the late completion' });
		assert.equal(again.text, 'after the late completion');
	});

	test('200 concurrent calls on one channel', { timeout: 20000 }, async () => {
		const calls = [];
		for (let i = 0; i < 200; i++)
			calls.push(unary(client, 'Echo', { text: `call ${i}`, data: Buffer.from([i & 0xff]), sleep_ms: i % 3 === 0 ? 50 : 0 }));
		const out = await Promise.all(calls);
		out.forEach((r, i) => {
			assert.equal(r.text, `call ${i}`);
			assert.deepEqual(Buffer.from(r.data), Buffer.from([i & 0xff]));
		});
	});
});

describe('grpc-js over h2c with --max-message-size 65536', () => {
	let srv, client;

	before(async () => {
		srv = await startTestServer(['--max-message-size', '65536']);
		client = new Bench(`127.0.0.1:${srv.port}`, grpc.credentials.createInsecure());
	});
	after(async () => {
		client?.close();
		await srv?.stop();
	});

	test('a request over the limit → RESOURCE_EXHAUSTED with the server\'s message', { timeout: 10000 }, async () => {
		await grpcRejects(unary(client, 'Echo', { text: 'x'.repeat(70000) }), 8, 'request message exceeds the size limit');
		const resp = await unary(client, 'Echo', { text: 'x'.repeat(60000) });
		assert.equal(resp.text.length, 60000);
	});
});

// --- gRPC over TLS with client certificates ---

describe('grpc-js over TLS with client certificates', () => {
	let tls, srv;
	const clients = [];
	const mk = (creds) => {
		// The certificate is checked against DNS:localhost (an IP as TLS server name is deprecated in Node).
		const c = new Bench(`127.0.0.1:${srv.port}`, creds, { 'grpc.ssl_target_name_override': 'localhost' });
		clients.push(c);
		return c;
	};

	before(async () => {
		tls = makeTlsMaterial();
		srv = await startTestServer(['--tls-cert', tls.serverCert, '--tls-key', tls.serverKey,
			'--client-ca', tls.caCert, '--require-client-cert', '--handshake-timeout-ms', '1000']);
		assert.match(srv.url, /^https:\/\/127\.0\.0\.1:\d+$/);
	});
	after(async () => {
		for (const c of clients)
			c.close();
		await srv?.stop();
		tls?.cleanup();
	});

	test('Echo with a certificate from the trusted CA', { timeout: 10000 }, async () => {
		const c = mk(grpc.credentials.createSsl(tls.pem.ca, tls.pem.clientKey, tls.pem.clientCert));
		const resp = await unary(c, 'Echo', { text: 'over tls', data: Buffer.from('abc') });
		assert.equal(resp.text, 'over tls');
		assert.equal(Buffer.from(resp.data).toString(), 'abc');
		await grpcRejects(unary(c, 'Fail', { code: G.NOT_FOUND, message: 'tls not found' }), G.NOT_FOUND, 'tls not found');
	});

	test('a client without a certificate is refused (UNAVAILABLE)', { timeout: 10000 }, async () => {
		const c = mk(grpc.credentials.createSsl(tls.pem.ca));
		const err = await grpcRejects(unary(c, 'Echo', { text: 'no cert' }, { deadline: Date.now() + 5000 }), G.UNAVAILABLE);
		// The server aborts the TLS 1.3 handshake with certificate_required (alert 116).
		assert.match(err.details, /certificate required/i);
	});

	test('a client certificate from another CA is refused (UNAVAILABLE)', { timeout: 10000 }, async () => {
		const c = mk(grpc.credentials.createSsl(tls.pem.ca, tls.pem.otherClientKey, tls.pem.otherClientCert));
		const err = await grpcRejects(unary(c, 'Echo', { text: 'wrong ca' }, { deadline: Date.now() + 5000 }), G.UNAVAILABLE);
		// The server aborts the handshake with unknown_ca (alert 48).
		assert.match(err.details, /unknown ca/i);
	});

	test('curl: Connect JSON over TLS with ALPN http/1.1 and h2', { timeout: 15000 }, async () => {
		const base = `https://localhost:${srv.port}`;
		const tlsArgs = ['--resolve', `localhost:${srv.port}:127.0.0.1`, '--cacert', tls.caCert,
			'--cert', tls.clientCert, '--key', tls.clientKey];
		for (const ver of ['--http1.1', '--http2']) {
			const r = await curlJson(base, ECHO, '{"text":"tls curl"}', [...tlsArgs, ver]);
			assert.equal(r.status, 200, `${ver}: ${r.body}`);
			assert.equal(r.body, '{"text":"tls curl"}');
			const f = await curlJson(base, FAIL, '{"code":7,"message":"tls denied"}', [...tlsArgs, ver]);
			assert.equal(f.status, 403, `${ver}: ${f.body}`);
			assert.equal(f.body, '{"code":"permission_denied","message":"tls denied"}');
		}
		// Without a client certificate the handshake fails: curl gets no HTTP status at all.
		await assert.rejects(curlJson(base, ECHO, '{}', ['--resolve', `localhost:${srv.port}:127.0.0.1`, '--cacert', tls.caCert]));
	});

	test('a TCP connection that never starts the TLS handshake is closed after the handshake timeout', { timeout: 10000 }, async () => {
		const sock = net.connect({ port: srv.port, host: '127.0.0.1' });
		sock.on('error', () => {});
		const t0 = Date.now();
		await new Promise((res) => sock.once('connect', res));
		const closed = await Promise.race([new Promise((res) => sock.once('close', () => res(true))), sleep(3500).then(() => false)]);
		sock.destroy();
		assert.ok(closed, 'silent connection still open 3.5 s after connect (handshake timeout 1 s)');
		assert.ok(Date.now() - t0 >= 950, `closed after ${Date.now() - t0} ms, before the timeout`);
	});

	test('the server still serves trusted clients after refusals', { timeout: 10000 }, async () => {
		const c = mk(grpc.credentials.createSsl(tls.pem.ca, tls.pem.clientKey, tls.pem.clientCert));
		const resp = await unary(c, 'Echo', { text: 'still here' });
		assert.equal(resp.text, 'still here');
	});
});

// --- Connect over HTTP/1.1 ---

for (const useBinaryFormat of [false, true]) {
	describe(`connect-node over HTTP/1.1 (${useBinaryFormat ? 'application/proto' : 'application/json'})`, () => {
		let srv, client, nope;

		before(async () => {
			srv = await startTestServer();
			const transport = createConnectTransport({ httpVersion: '1.1', baseUrl: srv.url, useBinaryFormat });
			client = createClient(benchService, transport);
			nope = createClient(benchNopeService, transport);
		});
		after(async () => {
			await srv?.stop();
		});

		test('Echo round trip', { timeout: 10000 }, async () => {
			const data = new Uint8Array([0, 1, 2, 250, 255]);
			const resp = await client.echo({ text: 'connect ✓', data });
			assert.equal(resp.text, 'connect ✓');
			assert.deepEqual(Array.from(resp.data), Array.from(data));
		});

		test('Fail → ConnectError with the right code and message', { timeout: 10000 }, async () => {
			const cases = [
				[G.NOT_FOUND, Code.NotFound, 'missing thing'],
				[G.PERMISSION_DENIED, Code.PermissionDenied, 'denied: "quoted"'],
				[G.INVALID_ARGUMENT, Code.InvalidArgument, 'bad input ü'],
				[G.UNAVAILABLE, Code.Unavailable, 'later'],
			];
			for (const [grpcCode, code, message] of cases)
				await connectRejects(client.fail({ code: grpcCode, message }), code, message);
		});

		test('unknown method → Code.Unimplemented', { timeout: 10000 }, async () => {
			await connectRejects(nope.nope({ text: 'x' }), Code.Unimplemented);
		});

		test('timeout: Echo sleeping 1 s with timeoutMs 200 → Code.DeadlineExceeded, server survives', { timeout: 15000 }, async () => {
			await connectRejects(client.echo({ text: 'slow', sleepMs: 1000 }, { timeoutMs: 200 }), Code.DeadlineExceeded);
			await sleep(1200);
			const resp = await client.echo({ text: 'after timeout' });
			assert.equal(resp.text, 'after timeout');
		});
	});
}

describe('connect-node over HTTP/2 (h2c)', () => {
	let srv;
	before(async () => { srv = await startTestServer(); });
	after(async () => { await srv?.stop(); });

	for (const useBinaryFormat of [false, true]) {
		test(`Echo, Fail, unknown method (${useBinaryFormat ? 'binary' : 'JSON'})`, { timeout: 10000 }, async () => {
			const transport = createConnectTransport({ httpVersion: '2', baseUrl: srv.url, useBinaryFormat });
			const client = createClient(benchService, transport);
			const resp = await client.echo({ text: 'h2 connect', data: new Uint8Array([9, 8, 7]) });
			assert.equal(resp.text, 'h2 connect');
			assert.deepEqual(Array.from(resp.data), [9, 8, 7]);
			await connectRejects(client.fail({ code: G.PERMISSION_DENIED, message: 'h2 denied' }), Code.PermissionDenied, 'h2 denied');
			await connectRejects(createClient(benchNopeService, transport).nope({}), Code.Unimplemented);
		});
	}
});

describe('graceful shutdown', () => {
	test('SIGTERM lets in-flight gRPC and Connect calls finish, then the server exits 0', { timeout: 20000 }, async () => {
		const srv = await startTestServer();
		const client = new Bench(`127.0.0.1:${srv.port}`, grpc.credentials.createInsecure());
		const connect = createClient(benchService, createConnectTransport({ httpVersion: '1.1', baseUrl: srv.url }));
		try {
			await unary(client, 'Echo', { text: 'warm up' });
			const g = unary(client, 'Echo', { text: 'grpc in flight', sleep_ms: 700 });
			const c = connect.echo({ text: 'connect in flight', sleepMs: 700 });
			await sleep(200);
			const stopped = srv.stop(); // SIGTERM by PID; asserts exit code 0
			stopped.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
			const [gr, cr] = await Promise.all([g, c]);
			assert.equal(gr.text, 'grpc in flight');
			assert.equal(cr.text, 'connect in flight');
			await stopped;
		} finally {
			client.close();
			await srv.stop().catch(() => {});
		}
	});
});

// --- curl with JSON ---

async function curlSuite(base, extra) {
	const echo = await curlJson(base, ECHO, '{"text":"hi curl","data":"AAEC/w=="}', extra);
	assert.equal(echo.status, 200);
	assert.equal(echo.body, '{"text":"hi curl","data":"AAEC/w=="}');

	for (const [code, status, name] of [[5, 404, 'not_found'], [7, 403, 'permission_denied'], [14, 503, 'unavailable'],
		[3, 400, 'invalid_argument']]) {
		const r = await curlJson(base, FAIL, JSON.stringify({ code, message: `failing with ${name}` }), extra);
		assert.equal(r.status, status, `${name}: ${r.body}`);
		assert.equal(r.body, `{"code":"${name}","message":"failing with ${name}"}`);
	}

	const hz = await curl([...extra, `${base}/healthz`]);
	assert.equal(hz.status, 200);
	assert.equal(hz.body, 'ok\n');

	const m = await curl([...extra, `${base}/metrics`]);
	assert.equal(m.status, 200);
	assert.ok(m.body.includes('rpc_server_requests_total{method="/dstack.test.v1.Bench/Echo",code="OK"}'),
		`metrics lack the Echo OK counter:\n${m.body}`);
	assert.ok(m.body.includes('rpc_server_requests_total{method="/dstack.test.v1.Bench/Fail",code="NOT_FOUND"}'),
		`metrics lack the Fail NOT_FOUND counter:\n${m.body}`);
}

describe('curl with JSON over TCP', () => {
	let srv;
	before(async () => { srv = await startTestServer(); });
	after(async () => { await srv?.stop(); });

	test('Echo, Fail status mapping, /healthz, /metrics', { timeout: 30000 }, async () => {
		await curlSuite(srv.url, []);
	});

	test('Connect-Timeout-Ms shorter than the handler → 504 deadline_exceeded; server survives the late completion', { timeout: 15000 }, async () => {
		const r = await curlJson(srv.url, ECHO, '{"text":"slow","sleepMs":800}', ['-H', 'Connect-Timeout-Ms: 200']);
		assert.equal(r.status, 504, r.body);
		assert.equal(JSON.parse(r.body).code, 'deadline_exceeded');
		// The handler completes at 800 ms, after the reply went out.
		await sleep(1000);
		const ok = await curlJson(srv.url, ECHO, '{"text":"alive"}');
		assert.equal(ok.status, 200);
		assert.equal(ok.body, '{"text":"alive"}');
	});

	test('plain GET routes: query string, response headers (no header injection), async answers, HEAD', { timeout: 15000 }, async () => {
		for (const extra of [[], ['--http2-prior-knowledge']]) {
			const r = await curl([...extra, '-i', `${srv.url}/echo-query?a=1&b=2`]);
			assert.equal(r.status, 200);
			assert.match(r.body, /^x-echo-path: \/echo-query\r?$/im);
			assert.doesNotMatch(r.body, /injected/i, 'a header value with CR/LF must be dropped');
			assert.ok(r.body.endsWith('\r\n\r\na=1&b=2'), r.body);
			const later = await curl([...extra, `${srv.url}/echo-query?later`]);
			assert.equal(later.body, 'later (later)');
		}
		const head = await curl(['-I', `${srv.url}/echo-query?head`]);
		assert.equal(head.status, 200);
		assert.match(head.body, /^content-length: 4\r?$/im);
		assert.ok(head.body.trimEnd().endsWith('/echo-query'), 'HEAD must not carry a body');
	});
});

describe('curl with JSON over a unix socket', () => {
	let srv, tmp, sock;
	before(async () => {
		tmp = tempDir('ds-unix-');
		sock = join(tmp.dir, 'bench.sock');
		srv = await startTestServer(['--listen', `unix://${sock}`]);
		assert.equal(srv.url, `unix://${sock}`);
	});
	after(async () => {
		await srv?.stop();
		tmp?.cleanup();
	});

	test('Echo, Fail status mapping, /healthz, /metrics', { timeout: 30000 }, async () => {
		await curlSuite('http://localhost', ['--unix-socket', sock]);
	});
});
