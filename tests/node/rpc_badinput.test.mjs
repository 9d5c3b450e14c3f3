// SPDX-License-Identifier: Apache-2.0
// Hostile and malformed input against ds_test_server (lib/rpc): raw HTTP/1.1 over
// node:net, HTTP/2 with node:http2 and raw frames, slowloris, and 1,000
// concurrent connections. After each case the server must still serve a
// normal Echo.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { create, toBinary, fromBinary, createFileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

import { startTestServer, descriptorSetPath, fdLimit } from './lib/harness.mjs';

const ECHO = '/dstack.test.v1.Bench/Echo';
const MAX_MSG = 65536;
const BODY_TIMEOUT_MS = 1000;
const HEAD_TIMEOUT_MS = 1000;
const IDLE_TIMEOUT_MS = 1000;

const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(descriptorSetPath())));
const EchoRequest = registry.getMessage('dstack.test.v1.EchoRequest');
const EchoResponse = registry.getMessage('dstack.test.v1.EchoResponse');
assert.ok(EchoRequest && EchoResponse, 'Echo messages in the descriptor set');

const echoBytes = (init) => Buffer.from(toBinary(EchoRequest, create(EchoRequest, init)));

// --- raw HTTP/1.1 ---

/** Parse one HTTP/1.1 response (Content-Length framed) from buf; null if incomplete. */
function parseResponse(buf, { head = false } = {}) {
	const end = buf.indexOf('\r\n\r\n');
	if (end < 0)
		return null;
	const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
	const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]);
	if (!m)
		throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
	const headers = {};
	for (const l of lines.slice(1)) {
		const i = l.indexOf(':');
		headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
	}
	if (headers['transfer-encoding'])
		throw new Error(`unexpected transfer-encoding in response: ${headers['transfer-encoding']}`);
	// A response to HEAD has no body, whatever Content-Length says (RFC 9110 §9.3.2).
	const cl = head ? 0 : Number(headers['content-length'] ?? 0);
	if (buf.length < end + 4 + cl)
		return null;
	const body = buf.subarray(end + 4, end + 4 + cl);
	return {
		res: { status: Number(m[2]), minor: Number(m[1]), headers, bodyBytes: body, body: body.toString('utf8') },
		rest: buf.subarray(end + 4 + cl),
	};
}

class RawConn {
	static open(port, host = '127.0.0.1') {
		return new Promise((res, rej) => {
			const sock = net.connect({ port, host });
			sock.once('connect', () => res(new RawConn(sock)));
			sock.once('error', rej);
		});
	}

	constructor(sock) {
		this.sock = sock;
		this.buf = Buffer.alloc(0);
		this.closed = false;
		this.closedAt = 0;
		this.error = null;
		this.waiters = new Set();
		sock.setNoDelay(true);
		sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this.wake(); });
		const onClose = () => {
			if (!this.closed) {
				this.closed = true;
				this.closedAt = Date.now();
			}
			this.wake();
		};
		sock.on('end', onClose);
		sock.on('close', onClose);
		sock.on('error', (e) => { this.error = e; onClose(); });
	}

	wake() {
		for (const w of this.waiters)
			w();
		this.waiters.clear();
	}

	waitEvent(ms) {
		return new Promise((res) => {
			const t = setTimeout(res, ms);
			this.waiters.add(() => { clearTimeout(t); res(); });
		});
	}

	write(data) {
		return new Promise((res, rej) => this.sock.write(data, (e) => (e ? rej(e) : res())));
	}

	/** The next response; fails if the connection closes first or nothing arrives within ms. */
	async response(ms = 5000, opts = {}) {
		const deadline = Date.now() + ms;
		for (;;) {
			const p = parseResponse(this.buf, opts);
			if (p) {
				this.buf = p.rest;
				return p.res;
			}
			if (this.closed)
				throw new Error(`connection closed before a full response; got ${JSON.stringify(this.buf.toString('latin1'))}`);
			if (Date.now() >= deadline)
				throw new Error(`no full response within ${ms} ms; got ${JSON.stringify(this.buf.toString('latin1'))}`);
			await this.waitEvent(deadline - Date.now());
		}
	}

	/** True when the peer closed within ms. */
	async closedWithin(ms) {
		const deadline = Date.now() + ms;
		while (!this.closed && Date.now() < deadline)
			await this.waitEvent(deadline - Date.now());
		return this.closed;
	}

	destroy() {
		this.sock.destroy();
	}
}

function post(path, body, { ctype = 'application/json', extra = '', close = false } = {}) {
	const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
	return Buffer.concat([Buffer.from(
		`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${ctype ? `Content-Type: ${ctype}\r\n` : ''}` +
		`Content-Length: ${b.length}\r\n${close ? 'Connection: close\r\n' : ''}${extra}\r\n`), b]);
}

/** One request on a fresh connection. */
async function exchange(port, data, ms = 5000) {
	const c = await RawConn.open(port);
	try {
		await c.write(data);
		const res = await c.response(ms);
		return { res, conn: c };
	} catch (e) {
		c.destroy();
		throw e;
	}
}

/** The server still answers a plain Connect JSON Echo on a new connection. */
async function assertServes(port, text = 'still serving') {
	const { res, conn } = await exchange(port, post(ECHO, JSON.stringify({ text }), { close: true }));
	conn.destroy();
	assert.equal(res.status, 200, res.body);
	assert.equal(res.body, JSON.stringify({ text }));
}

function connectError(res) {
	assert.match(res.headers['content-type'] ?? '', /^application\/json/);
	const j = JSON.parse(res.body);
	assert.equal(typeof j.code, 'string');
	assert.equal(typeof j.message, 'string');
	return j;
}

// --- HTTP/2 ---

function grpcFrame(msg, flags = 0, lengthOverride) {
	const b = Buffer.alloc(5 + msg.length);
	b[0] = flags;
	b.writeUInt32BE(lengthOverride ?? msg.length, 1);
	msg.copy(b, 5);
	return b;
}

function h2Connect(port) {
	return new Promise((res, rej) => {
		const s = http2.connect(`http://127.0.0.1:${port}`);
		s.once('connect', () => res(s));
		s.once('error', rej);
	});
}

/**
 * Send one request on `session`; resolve when the stream closes with the
 * response headers, trailers, body and RST code. `chunks` are written one by
 * one (each flushed before the next), `end` ends the stream after them.
 */
function h2Call(session, headers, chunks = [], { end = true } = {}) {
	const stream = session.request(headers, { endStream: false });
	const out = { headers: null, trailers: null, data: Buffer.alloc(0), rstCode: null, error: null, stream };
	const done = new Promise((res) => {
		stream.on('response', (h) => { out.headers = h; });
		stream.on('trailers', (t) => { out.trailers = t; });
		stream.on('data', (d) => { out.data = Buffer.concat([out.data, d]); });
		stream.on('error', (e) => { out.error = e; });
		stream.on('close', () => { out.rstCode = stream.rstCode; res(out); });
	});
	(async () => {
		for (const c of chunks) {
			if (stream.destroyed || stream.closed)
				return;
			await new Promise((r) => stream.write(c, r));
		}
		if (end && !stream.destroyed)
			stream.end();
	})().catch(() => {});
	out.done = done;
	return out;
}

const grpcHeaders = (path = ECHO, ctype = 'application/grpc') => ({
	':method': 'POST', ':path': path, 'content-type': ctype, te: 'trailers',
});

function grpcStatus(r) {
	const v = r.trailers?.['grpc-status'] ?? r.headers?.['grpc-status'];
	return v === undefined ? undefined : Number(v);
}

async function h2Echo(session, text) {
	const r = await h2Call(session, grpcHeaders(), [grpcFrame(echoBytes({ text }))]).done;
	assert.equal(r.headers?.[':status'], 200);
	assert.equal(grpcStatus(r), 0, `grpc-status (grpc-message ${r.trailers?.['grpc-message'] ?? r.headers?.['grpc-message']})`);
	assert.ok(r.data.length >= 5);
	const msg = fromBinary(EchoResponse, r.data.subarray(5, 5 + r.data.readUInt32BE(1)));
	assert.equal(msg.text, text);
}

// --- the suites ---

describe('HTTP/1.1 raw sockets', () => {
	let srv;

	before(async () => {
		srv = await startTestServer(['--max-message-size', String(MAX_MSG), '--body-timeout-ms', String(BODY_TIMEOUT_MS)]);
	});
	after(async () => { await srv?.stop(); });

	test('malformed request lines → 400 and the connection closes', { timeout: 15000 }, async () => {
		for (const bad of ['GARBAGE\r\n\r\n', '\x01\x02\x03 / HTTP/1.1\r\n\r\n', 'GET /healthz HTTP/1.1 extra\r\n\r\n',
			'GET /healthz\tHTTP/1.1\r\nHost: a\r\n\r\n', 'GET /healthz HTTP/7.1\r\n\r\n']) {
			const { res, conn } = await exchange(srv.port, bad);
			assert.equal(res.status, 400, `${JSON.stringify(bad)}: ${res.body}`);
			assert.equal(connectError(res).code, 'invalid_argument');
			assert.ok(await conn.closedWithin(2000), `${JSON.stringify(bad)}: connection left open`);
			conn.destroy();
		}
		await assertServes(srv.port);
	});

	test('a request head over 16 KiB → 431', { timeout: 15000 }, async () => {
		const head = `POST ${ECHO} HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`;
		const { res, conn } = await exchange(srv.port, head);
		assert.equal(res.status, 431, res.body);
		assert.equal(connectError(res).code, 'resource_exhausted');
		assert.ok(await conn.closedWithin(2000), 'connection left open after 431');
		conn.destroy();
		await assertServes(srv.port);
	});

	test('Content-Length over the message limit → 413 and close', { timeout: 15000 }, async () => {
		const c = await RawConn.open(srv.port);
		await c.write(`POST ${ECHO} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: ${MAX_MSG * 2}\r\n\r\n`);
		const res = await c.response();
		assert.equal(res.status, 413, res.body);
		assert.equal(connectError(res).code, 'resource_exhausted');
		assert.equal(res.headers.connection?.toLowerCase(), 'close');
		assert.ok(await c.closedWithin(2000), 'connection left open after 413');
		c.destroy();
		await assertServes(srv.port);
	});

	test('malformed JSON body → 400 invalid_argument', { timeout: 15000 }, async () => {
		for (const body of ['{"text":', '{"text": 12}', '[1,2]', '{"text":"a"} trailing']) {
			const { res, conn } = await exchange(srv.port, post(ECHO, body));
			assert.equal(res.status, 400, `${body}: ${res.body}`);
			assert.equal(connectError(res).code, 'invalid_argument', body);
			conn.destroy();
		}
		await assertServes(srv.port);
	});

	test('malformed protobuf body (application/proto) → 400 invalid_argument', { timeout: 15000 }, async () => {
		// Field 1 (text) claims 255 bytes and has 2; then a bare end-group tag; then a truncated varint.
		for (const bytes of [[0x0a, 0xff, 0x01, 0x41, 0x42], [0x0c], [0x18, 0xff, 0xff]]) {
			const { res, conn } = await exchange(srv.port, post(ECHO, Buffer.from(bytes), { ctype: 'application/proto' }));
			assert.equal(res.status, 400, `${bytes}: ${res.body}`);
			assert.equal(connectError(res).code, 'invalid_argument');
			conn.destroy();
		}
		await assertServes(srv.port);
	});

	test('wrong content type → 415', { timeout: 15000 }, async () => {
		for (const ctype of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx', null]) {
			const { res, conn } = await exchange(srv.port, post(ECHO, '{"text":"x"}', { ctype }));
			assert.equal(res.status, 415, `${ctype}: ${res.body}`);
			conn.destroy();
		}
		await assertServes(srv.port);
	});

	test('unknown path → 404 with code unimplemented', { timeout: 15000 }, async () => {
		for (const path of ['/dstack.test.v1.Bench/Nope', '/nope', '/dstack.test.v1.Bench/Echo/extra', '/dstack.test.v1.bench/Echo']) {
			const { res, conn } = await exchange(srv.port, post(path, '{}'));
			assert.equal(res.status, 404, `${path}: ${res.body}`);
			assert.equal(connectError(res).code, 'unimplemented', path);
			conn.destroy();
		}
		await assertServes(srv.port);
	});

	test('GET on an RPC path → an error reply, and the connection stays usable', { timeout: 15000 }, async () => {
		const c = await RawConn.open(srv.port);
		const q = encodeURIComponent(JSON.stringify({ text: 'via get' }));
		for (const req of [
			`GET ${ECHO} HTTP/1.1\r\nHost: a\r\n\r\n`,
			`GET ${ECHO} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n\r\n`,
			`GET ${ECHO}?connect=v1&encoding=json&message=${q} HTTP/1.1\r\nHost: a\r\n\r\n`,
		]) {
			await c.write(req);
			const res = await c.response();
			assert.ok(res.status >= 400 && res.status < 600, `${req.split('\r\n')[0]}: status ${res.status} ${res.body}`);
			assert.notEqual(res.status, 200);
			connectError(res);
		}
		await c.write(post(ECHO, '{"text":"after get"}'));
		const ok = await c.response();
		assert.equal(ok.status, 200, ok.body);
		assert.equal(ok.body, '{"text":"after get"}');
		c.destroy();
	});

	test('HEAD /healthz: headers only, and the next response on the connection is intact', { timeout: 15000 }, async () => {
		const c = await RawConn.open(srv.port);
		await c.write(`HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n`);
		const h = await c.response(5000, { head: true });
		assert.equal(h.status, 200);
		const g = await c.response();
		assert.equal(g.status, 200);
		assert.equal(g.body, 'ok\n');
		assert.equal(c.buf.length, 0, `bytes after the GET response: ${JSON.stringify(c.buf.toString('latin1'))}`);
		c.destroy();
	});

	test('two pipelined requests in one write → two responses in order', { timeout: 15000 }, async () => {
		const c = await RawConn.open(srv.port);
		// The first one is slow (async handler), so an out-of-order server would answer the second first.
		await c.write(Buffer.concat([post(ECHO, '{"text":"first","sleepMs":150}'), post(ECHO, '{"text":"second"}')]));
		const a = await c.response();
		const b = await c.response();
		assert.equal(a.status, 200);
		assert.equal(a.body, '{"text":"first"}');
		assert.equal(b.status, 200);
		assert.equal(b.body, '{"text":"second"}');
		assert.equal(c.buf.length, 0, 'no extra bytes');
		c.destroy();
	});

	test('250 pipelined 60 KB responses to a client that stops reading arrive whole and in order', { timeout: 20000 }, async () => {
		// Replies go straight to the socket while it takes them and queue behind it once it is full:
		// a client that does not read for a while must still get every byte, in order.
		const c = await RawConn.open(srv.port);
		const n = 250, size = 60000;
		c.sock.pause();
		const reqs = [];
		for (let i = 0; i < n; i++)
			reqs.push(post(ECHO, JSON.stringify({ text: String(i % 10).repeat(size) })));
		await c.write(Buffer.concat(reqs));
		await sleep(300);
		c.sock.resume();
		for (let i = 0; i < n; i++) {
			const res = await c.response(10000);
			assert.equal(res.status, 200);
			assert.equal(res.body, JSON.stringify({ text: String(i % 10).repeat(size) }), `response ${i}`);
		}
		assert.equal(c.buf.length, 0, 'no extra bytes');
		c.destroy();
	});

	test('keep-alive: several requests on one connection', { timeout: 15000 }, async () => {
		const c = await RawConn.open(srv.port);
		for (let i = 0; i < 5; i++) {
			await c.write(post(ECHO, JSON.stringify({ text: `ka ${i}` })));
			const res = await c.response();
			assert.equal(res.status, 200);
			assert.equal(res.body, JSON.stringify({ text: `ka ${i}` }));
			assert.notEqual(res.headers.connection?.toLowerCase(), 'close');
			assert.equal(c.closed, false);
		}
		await c.write(`GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n`);
		const hz = await c.response();
		assert.equal(hz.status, 200);
		assert.equal(hz.body, 'ok\n');
		c.destroy();
	});

	test('chunked request body', { timeout: 15000 }, async () => {
		const c = await RawConn.open(srv.port);
		const body = JSON.stringify({ text: 'chunked '.repeat(50), data: Buffer.from('xyz').toString('base64') });
		await c.write(`POST ${ECHO} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
		for (let i = 0; i < body.length; i += 37) {
			const part = body.slice(i, i + 37);
			await c.write(`${Buffer.byteLength(part).toString(16)}\r\n${part}\r\n`);
			await sleep(2);
		}
		await c.write('0\r\n\r\n');
		const res = await c.response();
		assert.equal(res.status, 200, res.body);
		assert.deepEqual(JSON.parse(res.body), JSON.parse(body));
		// Binary body, chunked, on the same connection.
		const msg = echoBytes({ text: 'proto chunked', data: new Uint8Array([0, 255]) });
		await c.write(Buffer.concat([
			Buffer.from(`POST ${ECHO} HTTP/1.1\r\nHost: a\r\nContent-Type: application/proto\r\nTransfer-Encoding: chunked\r\n\r\n`),
			Buffer.from(`${(3).toString(16)}\r\n`), msg.subarray(0, 3), Buffer.from('\r\n'),
			Buffer.from(`${(msg.length - 3).toString(16)}\r\n`), msg.subarray(3), Buffer.from('\r\n0\r\n\r\n'),
		]));
		const res2 = await c.response();
		assert.equal(res2.status, 200, res2.body);
		const r2 = fromBinary(EchoResponse, res2.bodyBytes);
		assert.equal(r2.text, 'proto chunked');
		assert.deepEqual(Array.from(r2.data), [0, 255]);
		c.destroy();
	});

	test('a body that never completes is dropped after --body-timeout-ms', { timeout: 15000 }, async () => {
		const c = await RawConn.open(srv.port);
		const t0 = Date.now();
		await c.write(`POST ${ECHO} HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"te`);
		assert.ok(await c.closedWithin(BODY_TIMEOUT_MS + 2500), 'connection with a stalled body left open');
		assert.ok(Date.now() - t0 >= BODY_TIMEOUT_MS - 50, `closed after only ${Date.now() - t0} ms`);
		c.destroy();
		await assertServes(srv.port);
	});
});

describe('HTTP/2', () => {
	let srv, session;

	before(async () => {
		srv = await startTestServer(['--max-message-size', String(MAX_MSG), '--body-timeout-ms', String(BODY_TIMEOUT_MS)]);
		session = await h2Connect(srv.port);
	});
	after(async () => {
		session?.destroy();
		await srv?.stop();
	});

	test('gRPC Echo baseline', { timeout: 10000 }, async () => {
		await h2Echo(session, 'h2 baseline');
	});

	test('gRPC length prefix over the limit → grpc-status 8 (RESOURCE_EXHAUSTED)', { timeout: 10000 }, async () => {
		// Only the prefix and a few bytes: the server must refuse without waiting for the rest.
		const r = await h2Call(session, grpcHeaders(), [grpcFrame(Buffer.from('abcd'), 0, MAX_MSG + 1)], { end: false }).done;
		assert.equal(r.headers?.[':status'], 200);
		assert.equal(grpcStatus(r), 8, JSON.stringify(r.headers));
		// And a whole oversized message, ended.
		const big = Buffer.alloc(MAX_MSG + 100, 0x41);
		const r2 = await h2Call(session, grpcHeaders(), [grpcFrame(big)]).done;
		assert.equal(grpcStatus(r2), 8, JSON.stringify(r2.headers));
		await h2Echo(session, 'after oversized');
	});

	test('Connect JSON over HTTP/2 with a body over the limit → an error status, not a bare reset', { timeout: 10000 }, async () => {
		const body = Buffer.from(JSON.stringify({ text: 'y'.repeat(MAX_MSG + 10) }));
		const r = await h2Call(session, { ':method': 'POST', ':path': ECHO, 'content-type': 'application/json' },
			[body.subarray(0, 16384), body.subarray(16384, 40000), body.subarray(40000)]).done;
		assert.ok(r.headers, `no response headers (RST_STREAM code ${r.rstCode})`);
		assert.ok([413, 429].includes(r.headers[':status']), `:status ${r.headers[':status']}`);
		assert.equal(JSON.parse(r.data.toString()).code, 'resource_exhausted');
		await h2Echo(session, 'after oversized JSON');
	});

	test('a body split into many small DATA frames', { timeout: 15000 }, async () => {
		const text = 'many small frames '.repeat(20);
		const framed = grpcFrame(echoBytes({ text, data: new Uint8Array(100).fill(7) }));
		const chunks = [];
		for (let i = 0; i < framed.length; i += 3)
			chunks.push(framed.subarray(i, i + 3));
		const r = await h2Call(session, grpcHeaders(), chunks).done;
		assert.equal(grpcStatus(r), 0, r.trailers?.['grpc-message'] ?? r.headers?.['grpc-message']);
		const msg = fromBinary(EchoResponse, r.data.subarray(5));
		assert.equal(msg.text, text);
		assert.deepEqual(Array.from(msg.data), new Array(100).fill(7));
	});

	test('malformed protobuf in gRPC framing → grpc-status 3', { timeout: 10000 }, async () => {
		const r = await h2Call(session, grpcHeaders(), [grpcFrame(Buffer.from([0x0a, 0xff, 0x01, 0x41]))]).done;
		assert.equal(r.headers?.[':status'], 200);
		assert.equal(grpcStatus(r), 3);
		// A prefix longer than the data that follows is malformed too.
		const r2 = await h2Call(session, grpcHeaders(), [grpcFrame(Buffer.from([0x0a, 0x01, 0x41]), 0, 10)]).done;
		assert.equal(grpcStatus(r2), 3);
		await h2Echo(session, 'after malformed');
	});

	test('compressed flag set → grpc-status 12', { timeout: 10000 }, async () => {
		const r = await h2Call(session, grpcHeaders(), [grpcFrame(echoBytes({ text: 'z' }), 1)]).done;
		assert.equal(r.headers?.[':status'], 200);
		assert.equal(grpcStatus(r), 12);
		await h2Echo(session, 'after compressed');
	});

	test('wrong content-type (text/plain) → :status 415', { timeout: 10000 }, async () => {
		const r = await h2Call(session, grpcHeaders(ECHO, 'text/plain'), [grpcFrame(echoBytes({ text: 'z' }))]).done;
		assert.equal(r.headers?.[':status'], 415);
		await h2Echo(session, 'after 415');
	});

	test('a stream that never ends is cancelled after --body-timeout-ms; the connection stays usable', { timeout: 15000 }, async () => {
		const t0 = Date.now();
		const pending = h2Call(session, grpcHeaders(), [grpcFrame(echoBytes({ text: 'never' })).subarray(0, 4)], { end: false });
		// Other streams on the connection keep working meanwhile.
		await h2Echo(session, 'while one stream hangs');
		const winner = await Promise.race([pending.done, sleep(BODY_TIMEOUT_MS + 2500).then(() => null)]);
		assert.ok(winner, `stream not cancelled within ${BODY_TIMEOUT_MS + 2500} ms`);
		const dt = Date.now() - t0;
		assert.ok(dt >= BODY_TIMEOUT_MS - 50, `cancelled after only ${dt} ms`);
		// The server answers with a status (UNAVAILABLE) and then resets the half-open stream
		// with NO_ERROR (RFC 9113 §8.1), so the client learns why.
		assert.equal(grpcStatus(winner), 14, 'a hung stream gets UNAVAILABLE');
		assert.equal(winner.rstCode, http2.constants.NGHTTP2_NO_ERROR, `rst code ${winner.rstCode}`);
		assert.ok(!session.closed && !session.destroyed, 'the connection was closed');
		await h2Echo(session, 'after the timeout');
	});

	test('HEAD /healthz → a response without DATA (no protocol error)', { timeout: 10000 }, async () => {
		const r = await h2Call(session, { ':method': 'HEAD', ':path': '/healthz' }).done;
		assert.equal(r.error, null, `stream error: ${r.error?.message}`);
		assert.equal(r.rstCode, http2.constants.NGHTTP2_NO_ERROR);
		assert.equal(r.headers?.[':status'], 200);
		assert.equal(r.data.length, 0);
		await h2Echo(session, 'after HEAD');
	});

	test('a header list over 16 KiB is not served', { timeout: 10000 }, async () => {
		const s2 = await h2Connect(srv.port);
		s2.on('error', () => {});
		try {
			const h = { ...grpcHeaders(), 'x-big': 'b'.repeat(20 * 1024) };
			const r = await h2Call(s2, h, [grpcFrame(echoBytes({ text: 'big headers' }))]).done;
			// gRPC errors travel as :status 200 + grpc-status; RESOURCE_EXHAUSTED (8) means refused.
			assert.ok(r.headers?.[':status'] !== 200 || grpcStatus(r) === 8,
				`served a ${20 * 1024}-byte header against SETTINGS_MAX_HEADER_LIST_SIZE 16384 (grpc-status ${grpcStatus(r)})`);
			assert.equal(grpcStatus(r), 8);
		} finally {
			s2.destroy();
		}
		await h2Echo(session, 'after big headers');
	});

	test('raw garbage after the preface → GOAWAY and close of that connection only', { timeout: 10000 }, async () => {
		const c = await RawConn.open(srv.port);
		await c.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
			Buffer.from('this is not an HTTP/2 frame, not even close to one\r\n')]));
		assert.ok(await c.closedWithin(3000), 'server left the connection open');
		const types = [];
		let goaway = null;
		for (let off = 0; off + 9 <= c.buf.length;) {
			const len = c.buf.readUIntBE(off, 3), type = c.buf[off + 3];
			types.push(type);
			if (type === 7 && off + 9 + 8 <= c.buf.length)
				goaway = { lastStream: c.buf.readUInt32BE(off + 9) & 0x7fffffff, code: c.buf.readUInt32BE(off + 13) };
			off += 9 + len;
		}
		assert.ok(goaway, `no GOAWAY frame; frame types received: ${types}`);
		assert.notEqual(goaway.code, 0, 'GOAWAY should carry an error code');
		c.destroy();
		// The other connection is unaffected.
		await h2Echo(session, 'after garbage elsewhere');
		await assertServes(srv.port);
	});
});

describe('slowloris', () => {
	let srv;

	before(async () => {
		srv = await startTestServer(['--handshake-timeout-ms', String(HEAD_TIMEOUT_MS), '--idle-timeout-ms', String(IDLE_TIMEOUT_MS)]);
	});
	after(async () => { await srv?.stop(); });

	test('50 connections dribbling a head one byte per 200 ms are closed; a normal client is served meanwhile', { timeout: 30000 }, async () => {
		const N = 50;
		const head = `POST ${ECHO} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Slow: ${'s'.repeat(400)}`;
		const conns = await Promise.all(Array.from({ length: N }, () => RawConn.open(srv.port)));
		const t0 = Date.now();
		let stop = false;
		const dribblers = conns.map(async (c) => {
			for (let i = 0; i < head.length && !stop && !c.closed; i++) {
				c.sock.write(head[i]);
				await sleep(200);
			}
		});
		const served = [];
		try {
			for (const at of [300, 900, 1500]) {
				await sleep(Math.max(0, t0 + at - Date.now()));
				const s0 = Date.now();
				await assertServes(srv.port, `served at ${at} ms`);
				served.push(Date.now() - s0);
			}
			const limit = HEAD_TIMEOUT_MS + 2000;
			await Promise.all(conns.map((c) => c.closedWithin(Math.max(0, t0 + limit - Date.now()))));
			const open = conns.filter((c) => !c.closed).length;
			assert.equal(open, 0, `${open} of ${N} slow connections still open after ${limit} ms`);
			const latest = Math.max(...conns.map((c) => c.closedAt - t0));
			assert.ok(latest <= limit + 200, `last slow connection closed after ${latest} ms`);
			assert.ok(Math.min(...conns.map((c) => c.closedAt - t0)) >= HEAD_TIMEOUT_MS - 100, 'closed before the head timeout');
			for (const ms of served)
				assert.ok(ms < 1000, `a normal request took ${ms} ms during the attack`);
		} finally {
			stop = true;
			for (const c of conns)
				c.destroy();
			await Promise.all(dribblers);
		}
		await assertServes(srv.port);
	});

	test('an idle keep-alive connection is closed after --idle-timeout-ms; a connection that never sends is closed too', { timeout: 15000 }, async () => {
		const c = await RawConn.open(srv.port);
		await c.write(post(ECHO, '{"text":"then idle"}'));
		const res = await c.response();
		assert.equal(res.status, 200);
		const t0 = Date.now();
		const silent = await RawConn.open(srv.port);
		assert.ok(await c.closedWithin(IDLE_TIMEOUT_MS + 2500), 'idle keep-alive connection left open');
		assert.ok(Date.now() - t0 >= IDLE_TIMEOUT_MS - 100, `idle connection closed after only ${Date.now() - t0} ms`);
		assert.ok(await silent.closedWithin(Math.max(0, HEAD_TIMEOUT_MS + 2500 - (Date.now() - t0))), 'silent connection left open');
		c.destroy();
		silent.destroy();
		await assertServes(srv.port);
	});
});

describe('1,000 concurrent connections', () => {
	let srv;
	const N = 1000;
	const limit = fdLimit();
	const skip = limit < 2100 ? `ulimit -n is ${limit}; this test needs at least 2100 descriptors` : false;

	before(async () => {
		if (!skip)
			srv = await startTestServer();
	});
	after(async () => { await srv?.stop(); });

	test(`${N} keep-alive connections each send one Echo`, { timeout: 45000, skip }, async () => {
		const conns = [];
		try {
			for (let i = 0; i < N; i += 100)
				conns.push(...await Promise.all(Array.from({ length: Math.min(100, N - i) }, () => RawConn.open(srv.port))));
			const results = await Promise.all(conns.map(async (c, i) => {
				await c.write(post(ECHO, JSON.stringify({ text: `conn ${i}` })));
				return c.response(30000);
			}));
			results.forEach((r, i) => {
				assert.equal(r.status, 200, `conn ${i}: ${r.body}`);
				assert.equal(r.body, JSON.stringify({ text: `conn ${i}` }));
			});
			assert.equal(conns.filter((c) => c.closed).length, 0, 'keep-alive connections were closed');
			// All of them are open at the server at once.
			const { res, conn } = await exchange(srv.port, `GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
			conn.destroy();
			const m = /^rpc_server_connections (\d+)$/m.exec(res.body);
			assert.ok(m, 'rpc_server_connections gauge in /metrics');
			assert.ok(Number(m[1]) >= N, `server reports ${m[1]} open connections, want >= ${N}`);
		} finally {
			for (const c of conns)
				c.destroy();
		}
		await assertServes(srv.port, 'after 1000 connections');
	});
});
