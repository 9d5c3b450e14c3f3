// SPDX-License-Identifier: Apache-2.0
// dstack-guest-agent against the real, unmodified @phala/dstack-sdk (DstackClient and the legacy TappdClient)
// over its unix socket and over a DSTACK_SIMULATOR_ENDPOINT-style http URL, booted with keys from a real
// dstack-kms (mutual RA-TLS, sim TEE) that a dstack-registry authorises. Every key is checked independently:
// GetKey chains walked with ethers up to the KMS root k256 key the KMS printed at bootstrap; TLS chains with
// node:crypto up to the KMS root CA; quotes replayed by the SDK and parsed here, verified by dstack-attest and
// by @phala/dcap-qvl with the sim's dev root; signatures with ethers and @noble/curves. Plus the negative
// cases over raw HTTP, an EmitEvent storm, the app the agent launches reading its key and its env, and a
// changed compose that the registry refuses at boot.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import https from 'node:https';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

import { SigningKey, Signature, keccak256, concat, hexlify, toUtf8Bytes, getBytes } from 'ethers';
import { ed25519 } from '@noble/curves/ed25519';
import { secp256k1 } from '@noble/curves/secp256k1';
import { DstackClient, TappdClient } from '@phala/dstack-sdk';
import { encryptEnvVars } from '@phala/dstack-sdk/encrypt-env-vars';

import { sourceDir, startServer, tempDir } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const { QuoteVerifier } = require('@phala/dcap-qvl');

const bin = (env, ...rel) => process.env[env] || join(sourceDir, 'build', ...rel);
const AGENT = bin('DS_GUEST_AGENT', 'services', 'guest-agent', 'dstack-guest-agent');
const KMS = bin('DS_KMS_BIN', 'services', 'kms', 'dstack-kms');
const REGISTRY = bin('DS_REGISTRY_BIN', 'services', 'registry', 'dstack-registry');
const ATTEST = bin('DS_ATTEST_BIN', 'services', 'attest', 'dstack-attest');

const APP_ID = 'a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1';
const APP_INFO_OID = Buffer.from('060a2b0601040183e73d0109', 'hex'); // 1.3.6.1.4.1.62397.1.9, as a DER OID
const OS_IMAGE = '05'.repeat(32);
const hex = (b) => Buffer.from(b).toString('hex');
const sha256 = (b) => createHash('sha256').update(b).digest();
const sha384 = (b) => createHash('sha384').update(b).digest();
const sha512 = (b) => createHash('sha512').update(b).digest();

// ---- the stack ----------------------------------------------------------------------------------

let tmp, registry, kms, agent, rootK256, rootCaSpki, sock, tappdSock, httpUrl, composeText, composeHash;
const f = (...n) => join(tmp.dir, ...n);

function run(cmd, args, opts = {}) {
	const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60000, ...opts });
	return { code: r.status, stdout: r.stdout || '', stderr: r.stderr || '' };
}

/** A Connect JSON call to the KMS over TLS without verification (test only; the chain is checked separately). */
function kmsCall(method, body) {
	const u = new URL(kms.url.replace('tcp://', 'https://'));
	return new Promise((resolve, reject) => {
		const req = https.request({ host: u.hostname, port: u.port, path: `/dstack.kms.v1.Kms/${method}`, method: 'POST',
			rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (res) => {
			let data = '';
			res.on('data', (c) => { data += c; });
			res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(data)) : reject(new Error(data))));
		});
		req.on('error', reject);
		req.end(JSON.stringify(body));
	});
}

/** A raw HTTP/1.1 request on the agent's unix socket: status, headers, body text. */
function raw(path, { method = 'POST', body = '', headers = {} } = {}) {
	return new Promise((resolve, reject) => {
		let answered = false;
		const req = http.request({ socketPath: sock, path, method,
			headers: { 'content-type': 'application/json', ...headers } }, (res) => {
			let data = '';
			answered = true;
			res.setEncoding('utf8');
			res.on('data', (c) => { data += c; });
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
			res.on('error', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
		});
		/* A refused upload may reset the socket after the answer arrived: the answer counts. */
		req.on('error', (e) => { if (!answered) reject(e); });
		req.end(body);
	});
}

/** Raw bytes on the unix socket, the whole answer until the agent closes (for requests node's http won't send). */
function rawText(text) {
	return new Promise((resolve, reject) => {
		const c = net.createConnection({ path: sock }, () => c.write(text));
		let data = '';
		c.setEncoding('utf8');
		c.on('data', (d) => { data += d; });
		c.on('end', () => resolve(data));
		/* The agent closes on a refused upload while we still write: the answer it sent first counts. */
		c.on('error', (e) => (data ? resolve(data) : reject(e)));
		setTimeout(() => { c.destroy(); resolve(data); }, 5000);
	});
}

function writePolicy(composeHashes) {
	writeFileSync(f('policy.json'), JSON.stringify({
		gatewayAppId: 'any', osImages: [`0x${OS_IMAGE}`],
		kms: { mrAggregated: [], devices: [], allowAnyDevice: true },
		apps: { [`0x${APP_ID}`]: { composeHashes: composeHashes.map((h) => `0x${h}`), allowAnyDevice: true } },
	}));
}

function agentConf(name, shared, extra = '') {
	const state = f(`${name}-tee`);
	mkdirSync(state, { mode: 0o700, recursive: true });
	const text = `listen = unix://${f(`${name}.sock`)}\nlisten = unix://${f(`${name}-tappd.sock`)}\n` +
		'listen = tcp://127.0.0.1:0\ntee.backend = sim\n' +
		`tee.state_dir = ${state}\nboot.host_shared_dir = ${shared}\nboot.kms_attempts = 2\nboot.kms_backoff = 100ms\n` +
		`limits.max_message_size = 1MiB\n${extra}`;
	writeFileSync(f(`${name}.conf`), text);
	return f(`${name}.conf`);
}

// The app the agent launches: it finds the agent through DSTACK_SIMULATOR_ENDPOINT, reads its key and its env.
const APP_JS = `
import { createRequire } from 'node:module';
import { writeFileSync, renameSync } from 'node:fs';
// Packages from tests/node/node_modules (the script itself lives in a temporary directory).
const require = createRequire(${JSON.stringify(join(sourceDir, 'tests', 'node', 'package.json'))});
const { DstackClient } = require('@phala/dstack-sdk');
const { SigningKey, hexlify } = require('ethers');
const c = new DstackClient();
const k = await c.getKey('wallet/eth', 'mainnet');
const out = { endpoint: process.env.DSTACK_SIMULATOR_ENDPOINT, address: new SigningKey(hexlify(k.key)).address,
	foo: process.env.FOO ?? null, baz: process.env.BAZ ?? null };
writeFileSync(process.argv[2] + '.tmp', JSON.stringify(out));
renameSync(process.argv[2] + '.tmp', process.argv[2]);
setInterval(() => {}, 1000);
`;
before(async () => {
	for (const [name, p] of [['agent', AGENT], ['kms', KMS], ['registry', REGISTRY], ['attest', ATTEST]])
		assert.ok(existsSync(p), `${name} binary not found at ${p}`);
	tmp = tempDir('ds-ga-sdk-');
	// The simulated platform's dev root and collateral, from the agent itself (SIMULATION ONLY).
	writeFileSync(f('sim.conf'), `listen = unix://${f('unused.sock')}\ntee.backend = sim\n`);
	const sp = run(AGENT, ['sim-platform', '-c', f('sim.conf'), '--out', tmp.dir]);
	assert.equal(sp.code, 0, sp.stderr);
	assert.match(sp.stdout, /SIMULATED/);

	composeText = JSON.stringify({
		manifest_version: 2, name: 'sdk-test-app', runner: 'bash', kms_enabled: true, allowed_envs: ['FOO'],
		bash_script: `exec node ${f('app.mjs')} ${f('app-out.json')}`,
	}, null, 4);
	composeHash = hex(sha256(composeText));
	writePolicy([composeHash]);
	writeFileSync(f('registry.conf'), `listen = tcp://127.0.0.1:0\npolicy_file = ${f('policy.json')}\npolicy_poll_interval = 100ms\n`);
	registry = await startServer(REGISTRY, ['serve', '-c', f('registry.conf')]);
	writeFileSync(f('kms.conf'), `listen = tcp://127.0.0.1:0\nlisten = unix://${f('kms-admin.sock')}\n` +
		`state_dir = ${f('kms-state')}\nseal.provider = sim\nregistry.url = ${registry.url.replace('tcp://', 'http://')}\n` +
		`trust.dev_root = ${f('dev-root.der')}\ncollateral.file = ${f('collateral.json')}\n`);
	kms = await startServer(KMS, ['serve', '-c', f('kms.conf')]);
	const bs = run(KMS, ['bootstrap', '--admin', `unix://${f('kms-admin.sock')}`, '--domain', '127.0.0.1']);
	assert.equal(bs.code, 0, bs.stderr);
	const boot = JSON.parse(bs.stdout);
	rootK256 = hexlify(Buffer.from(boot.k256Pubkey, 'base64'));
	rootCaSpki = Buffer.from(boot.caPubkey, 'base64');

	// Host-shared files: compose, sys-config (KMS URL, vm_config), instance info (the registered app id),
	// and an env encrypted by the SDK to the app's env key from the KMS.
	const shared = f('shared');
	mkdirSync(shared);
	writeFileSync(join(shared, 'app-compose.json'), composeText);
	writeFileSync(join(shared, '.instance_info'), JSON.stringify({ app_id: APP_ID }));
	writeFileSync(join(shared, '.sys-config.json'), JSON.stringify({
		kms_urls: [kms.url.replace('tcp://', 'https://')], vm_config: JSON.stringify({ os_image_hash: OS_IMAGE }),
	}));
	const pk = await kmsCall('GetAppEnvEncryptPubKey', { appId: Buffer.from(APP_ID, 'hex').toString('base64') });
	const env = await encryptEnvVars([{ key: 'FOO', value: 'from the encrypted env ✓' }, { key: 'BAZ', value: 'not allowed' }],
		hex(Buffer.from(pk.publicKey, 'base64')));
	writeFileSync(join(shared, '.encrypted-env'), Buffer.from(env, 'hex'));
	writeFileSync(f('app.mjs'), APP_JS);
	// The app resolves the SDK from tests/node/node_modules: run it from there.
	const conf = agentConf('agent', shared, `app.run = true\napp.dir = ${join(sourceDir, 'tests', 'node')}\n` +
		`app.socket = ${f('agent.sock')}\n`);
	agent = await startServer(AGENT, ['serve', '-c', conf], { readyTimeoutMs: 30000 });
	sock = f('agent.sock');
	tappdSock = f('agent-tappd.sock');
	httpUrl = agent.urls[2].replace('tcp://', 'http://');
});

after(async () => {
	if (agent)
		await agent.stop();
	if (kms)
		await kms.stop();
	if (registry)
		await registry.stop();
	tmp?.cleanup();
});

// ---- independent checks -------------------------------------------------------------------------

/** ethers' recovery of a 65-byte r||s||v (v = 0/1) signature over a digest: the signer's compressed key. */
function recover(digest, sig) {
	const b = Buffer.from(sig);
	assert.equal(b.length, 65, 'chain signatures are 65 bytes');
	assert.ok(b[64] === 0 || b[64] === 1, 'recovery id 0/1');
	const s = Signature.from({ r: hexlify(b.subarray(0, 32)), s: hexlify(b.subarray(32, 64)), v: 27 + b[64] });
	return SigningKey.computePublicKey(SigningKey.recoverPublicKey(digest, s), true);
}

/** Walk a GetKey chain: derived key -> app key (purpose) -> KMS root (app id); returns the app key. */
function walkChain(pubHex, purpose, chain) {
	assert.equal(chain.length, 2);
	const appPub = recover(keccak256(toUtf8Bytes(`${purpose}:${pubHex}`)), chain[0]);
	const rootPub = recover(keccak256(concat([toUtf8Bytes('dstack-kms-issued:'), getBytes(`0x${APP_ID}`), appPub])), chain[1]);
	assert.equal(rootPub, rootK256, 'the chain ends at the KMS root k256 key printed at bootstrap');
	return appPub;
}

/** RTMR0..3, MRTD and report data of a TDX quote v4 (TD report body at 48). */
function quoteFields(quoteHex) {
	const q = Buffer.from(quoteHex, 'hex');
	const body = 48;
	return {
		mrtd: q.subarray(body + 136, body + 184).toString('hex'),
		rtmrs: [0, 1, 2, 3].map((i) => q.subarray(body + 328 + 48 * i, body + 376 + 48 * i).toString('hex')),
		reportData: q.subarray(body + 520, body + 584).toString('hex'),
	};
}

/** A DER length at b[i]: [length, header bytes]. */
function derLen(b, i) {
	if (b[i] < 0x80) return [b[i], 1];
	const n = b[i] & 0x7f;
	let v = 0;
	for (let k = 1; k <= n; k++) v = v * 256 + b[i + k];
	return [v, 1 + n];
}

/**
 * The bytes a dstack extension wraps: find the Extension whose extnID is `oidDer` (full TLV), skip an optional
 * critical BOOLEAN, then extnValue OCTET STRING { OCTET STRING { bytes } }.
 */
function dstackExtension(der, oidDer) {
	let i = der.indexOf(oidDer);
	if (i < 0) return null;
	i += oidDer.length;
	if (der[i] === 0x01) i += 3;
	const octet = () => {
		assert.equal(der[i], 0x04, 'an OCTET STRING');
		const [n, h] = derLen(der, i + 1);
		const start = i + 1 + h;
		i = start;
		return der.subarray(start, start + n);
	};
	const outer = octet();
	const inner = octet();
	assert.equal(inner.length + (inner.byteOffset - outer.byteOffset), outer.length, 'nothing after the inner OCTET STRING');
	return inner;
}

/** A msgpack reader for what rmp_serde writes for AppInfo (maps, arrays, str, bin, nil, ints); throws on the rest. */
function msgpackDecode(buf) {
	let i = 0;
	const u = (n) => { let v = 0; for (let k = 0; k < n; k++) v = v * 256 + buf[i++]; return v; };
	const take = (n) => { const out = buf.subarray(i, i + n); assert.equal(out.length, n, 'msgpack truncated'); i += n; return out; };
	const value = () => {
		const t = buf[i++];
		if (t <= 0x7f) return t;
		if (t >= 0x80 && t <= 0x8f) return map(t & 15);
		if (t >= 0x90 && t <= 0x9f) return arr(t & 15);
		if (t >= 0xa0 && t <= 0xbf) return take(t & 31).toString('utf8');
		switch (t) {
		case 0xc0: return null;
		case 0xc2: return false;
		case 0xc3: return true;
		case 0xc4: return { bin: Buffer.from(take(u(1))) };
		case 0xc5: return { bin: Buffer.from(take(u(2))) };
		case 0xc6: return { bin: Buffer.from(take(u(4))) };
		case 0xd9: return take(u(1)).toString('utf8');
		case 0xdc: return arr(u(2));
		case 0xde: return map(u(2));
		default: throw new Error(`msgpack type 0x${t.toString(16)} not expected in AppInfo`);
		}
	};
	const arr = (n) => Array.from({ length: n }, () => value());
	const map = (n) => {
		const entries = [];
		for (let k = 0; k < n; k++) entries.push([value(), value()]);
		return { entries };
	};
	const v = value();
	assert.equal(i, buf.length, 'nothing after the msgpack value');
	return v;
}

// ---- the tests ----------------------------------------------------------------------------------

describe('DstackClient over the unix socket and the http endpoint', () => {
	test('version, isReachable, and DSTACK_SIMULATOR_ENDPOINT discovery', async () => {
		for (const ep of [sock, httpUrl]) {
			const c = new DstackClient(ep);
			const v = await c.version();
			assert.match(v.version, /^\d+\.\d+\.\d+/);
			assert.equal(typeof v.rev, 'string');
			assert.equal(await c.isReachable(), true);
		}
		const saved = process.env.DSTACK_SIMULATOR_ENDPOINT;
		process.env.DSTACK_SIMULATOR_ENDPOINT = httpUrl;
		try {
			assert.equal(await new DstackClient().isReachable(), true);
		} finally {
			if (saved === undefined)
				delete process.env.DSTACK_SIMULATOR_ENDPOINT;
			else
				process.env.DSTACK_SIMULATOR_ENDPOINT = saved;
		}
		assert.throws(() => new DstackClient(f('nobody.sock')), /does not exist/);
	});

	test('getKey secp256k1: deterministic, per path, the same on both endpoints, chain up to the KMS root', async () => {
		const a = await new DstackClient(sock).getKey('wallet/eth', 'mainnet');
		const b = await new DstackClient(httpUrl).getKey('wallet/eth', 'mainnet', 'secp256k1');
		const k256 = await new DstackClient(sock).getKey('wallet/eth', 'mainnet', 'k256');
		const other = await new DstackClient(sock).getKey('wallet/btc', 'mainnet');
		assert.equal(a.key.length, 32);
		assert.deepEqual(a.key, b.key);
		assert.deepEqual(a.key, k256.key, 'k256 is an alias');
		assert.notDeepEqual(a.key, other.key);
		const pub = new SigningKey(hexlify(a.key)).compressedPublicKey.slice(2);
		const appPub = walkChain(pub, 'mainnet', a.signature_chain);
		// Another purpose: another first signature by the same app key.
		const p2 = await new DstackClient(sock).getKey('wallet/eth', 'testnet');
		assert.deepEqual(p2.key, a.key, 'the purpose is not a derivation input');
		assert.equal(walkChain(pub, 'testnet', p2.signature_chain), appPub);
		const wrong = recover(keccak256(toUtf8Bytes(`mainnet:${pub}`)), p2.signature_chain[0]);
		assert.notEqual(wrong, appPub, 'the first signature binds the purpose');
	});

	test('getKey ed25519: a seed whose public key the chain signs, up to the KMS root', async () => {
		const c = new DstackClient(sock);
		const k = await c.getKey('signing/ed', 'ssh', 'ed25519');
		assert.equal(k.key.length, 32);
		const pub = hex(ed25519.getPublicKey(k.key));
		walkChain(pub, 'ssh', k.signature_chain);
		const sec = await c.getKey('signing/ed', 'ssh', 'secp256k1');
		assert.deepEqual(sec.key, k.key, 'dstack does not separate the algorithms: the same 32 bytes');
		await assert.rejects(c.getKey('x', 'y', 'rsa'), 'an unknown algorithm is refused');
	});

	test('getTlsKey with every option: a fresh key, chain leaf -> app CA -> KMS root, names, usages, validity, RA-TLS', async () => {
		const c = new DstackClient(sock);
		const notBefore = Math.floor(Date.now() / 1000) - 60;
		const notAfter = notBefore + 30 * 86400;
		const r = await c.getTlsKey({ subject: 'api.example.com', altNames: ['api.example.com', 'www.example.com', '127.0.0.1'],
			usageRaTls: true, usageServerAuth: true, usageClientAuth: true, notBefore, notAfter, withAppInfo: false });
		assert.equal(r.certificate_chain.length, 3);
		const [leaf, appCa, root] = r.certificate_chain.map((p) => new X509Certificate(p));
		assert.ok(leaf.checkIssued(appCa) && leaf.verify(appCa.publicKey), 'leaf signed by the app CA');
		assert.ok(appCa.checkIssued(root) && appCa.verify(root.publicKey), 'app CA signed by the KMS root');
		assert.ok(root.verify(root.publicKey), 'root self-signed');
		assert.deepEqual(root.publicKey.export({ type: 'spki', format: 'der' }), rootCaSpki, 'the KMS root CA of the bootstrap');
		assert.match(leaf.subject, /CN=api\.example\.com/);
		assert.match(leaf.subjectAltName, /DNS:www\.example\.com/);
		assert.match(leaf.subjectAltName, /IP Address:127\.0\.0\.1/);
		assert.deepEqual([...leaf.keyUsage].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
		assert.equal(Math.floor(new Date(leaf.validFrom).getTime() / 1000), notBefore);
		assert.equal(Math.floor(new Date(leaf.validTo).getTime() / 1000), notAfter);
		const der = leaf.raw;
		const ratlsOid = Buffer.from('060a2b0601040183e73d0108', 'hex'); // 1.3.6.1.4.1.62397.1.8 (attestation)
		assert.ok(der.includes(ratlsOid), 'usageRaTls puts the attestation extension in the leaf');
		// The private key (PKCS#8 PEM) belongs to the leaf; asUint8Array gives its DER as the SDK promises.
		const key = createPrivateKey(r.key);
		assert.deepEqual(createPublicKey(key).export({ type: 'spki', format: 'der' }),
			leaf.publicKey.export({ type: 'spki', format: 'der' }));
		assert.deepEqual(Buffer.from(r.asUint8Array()), key.export({ type: 'pkcs8', format: 'der' }));
		// Fresh every call (dstack: not deterministic); defaults work (empty subject, server auth only, no RA-TLS).
		const d = await c.getTlsKey();
		assert.notEqual(d.key, r.key);
		const dl = new X509Certificate(d.certificate_chain[0]);
		assert.deepEqual([...dl.keyUsage], ['1.3.6.1.5.5.7.3.1']);
		assert.ok(!dl.raw.includes(ratlsOid), 'no RA-TLS extension unless asked');
		assert.equal(dstackExtension(dl.raw, APP_INFO_OID), null, 'no APP_INFO unless asked');
	});

	test('getTlsKey withAppInfo: dstack\'s APP_INFO extension, the agent\'s own identity as Info and the event log say', async () => {
		const c = new DstackClient(sock);
		const r = await c.getTlsKey({ subject: 'app-info.example', usageClientAuth: true, withAppInfo: true });
		assert.equal(r.certificate_chain.length, 3);
		const [leaf, appCa, root] = r.certificate_chain.map((p) => new X509Certificate(p));
		assert.ok(leaf.verify(appCa.publicKey) && appCa.verify(root.publicKey), 'issued by the app CA under the KMS root');
		assert.deepEqual(root.publicKey.export({ type: 'spki', format: 'der' }), rootCaSpki);
		assert.deepEqual(createPublicKey(createPrivateKey(r.key)).export({ type: 'spki', format: 'der' }),
			leaf.publicKey.export({ type: 'spki', format: 'der' }));
		const ext = dstackExtension(leaf.raw, APP_INFO_OID);
		assert.ok(ext, 'the leaf carries 1.3.6.1.4.1.62397.1.9');
		// The named form rmp_serde::to_vec_named writes: a map keyed by AppInfo's field names, in struct order.
		const m = msgpackDecode(ext);
		assert.deepEqual(m.entries.map(([k]) => k), ['app_id', 'compose_hash', 'instance_id', 'device_id', 'mr_system',
			'mr_aggregated', 'os_image_hash', 'key_provider_info', 'init_script_hashes']);
		const ai = Object.fromEntries(m.entries.map(([k, v]) => [k, v && v.bin ? v.bin : v]));
		for (const k of ['app_id', 'compose_hash', 'instance_id', 'device_id', 'mr_system', 'mr_aggregated', 'os_image_hash',
			'key_provider_info'])
			assert.ok(Buffer.isBuffer(ai[k]), `${k} is msgpack bin`);
		assert.deepEqual(ai.init_script_hashes, [], 'Some([]): the agent measures no init script');

		// Info's view of this CVM, and the event log's.
		const i = await c.info();
		const t = i.tcb_info;
		assert.equal(hex(ai.app_id), i.app_id);
		assert.equal(hex(ai.app_id), APP_ID);
		assert.equal(hex(ai.compose_hash), i.compose_hash);
		assert.equal(hex(ai.compose_hash), composeHash);
		assert.equal(hex(ai.instance_id), i.instance_id);
		assert.equal(hex(ai.device_id), i.device_id, 'the device id Info reports (sha256 of the PPID)');
		assert.equal(hex(ai.os_image_hash), i.os_image_hash);
		assert.equal(hex(ai.os_image_hash), OS_IMAGE);
		assert.equal(ai.key_provider_info.toString(), i.key_provider_info);
		assert.equal(hex(ai.mr_aggregated), i.mr_aggregated, 'the full RTMR3 (decode_app_info(boottime_mr = false))');
		const reg = (h) => Buffer.from(h, 'hex');
		const mrSystem = sha256(Buffer.concat([reg(t.mrtd), reg(t.rtmr0), reg(t.rtmr1), reg(t.rtmr2),
			sha256(Buffer.from(i.key_provider_info))]));
		assert.equal(hex(ai.mr_system), hex(mrSystem), 'mr_system = sha256(MRTD||RTMR0..2||sha256(key-provider))');
		const log = JSON.parse((await c.getQuote('')).event_log);
		const ev = (n) => log.find((e) => e.imr === 3 && e.event === n).event_payload;
		assert.equal(hex(ai.app_id), ev('app-id'));
		assert.equal(hex(ai.compose_hash), ev('compose-hash'));
		assert.equal(hex(ai.instance_id), ev('instance-id'));
		assert.equal(hex(ai.os_image_hash), ev('os-image-hash'));
		assert.equal(hex(ai.key_provider_info), ev('key-provider'));

		// With RA-TLS too: both extensions, of the same evidence (its quote binds this key).
		const both = await c.getTlsKey({ usageRaTls: true, withAppInfo: true });
		const bl = new X509Certificate(both.certificate_chain[0]);
		assert.ok(dstackExtension(bl.raw, APP_INFO_OID));
		assert.ok(bl.raw.includes(Buffer.from('060a2b0601040183e73d0108', 'hex')));
	});

	test('getTlsKey withAppInfo on a CVM without a KMS: the local app CA computes APP_INFO from its own evidence', async () => {
		// A second agent, key provider none (kms_enabled false): its certificates come from its local app CA.
		const shared = f('shared-local');
		mkdirSync(shared);
		const compose = JSON.stringify({ manifest_version: 2, name: 'sdk-local-app', runner: 'bash', kms_enabled: false });
		writeFileSync(join(shared, 'app-compose.json'), compose);
		const local = await startServer(AGENT, ['serve', '-c', agentConf('local', shared)], { readyTimeoutMs: 30000 });
		try {
			const c = new DstackClient(f('local.sock'));
			const r = await c.getTlsKey({ withAppInfo: true, usageRaTls: true });
			assert.equal(r.certificate_chain.length, 2, 'leaf and the local app CA');
			const [leaf, appCa] = r.certificate_chain.map((p) => new X509Certificate(p));
			assert.ok(leaf.verify(appCa.publicKey));
			const m = msgpackDecode(dstackExtension(leaf.raw, APP_INFO_OID));
			const ai = Object.fromEntries(m.entries.map(([k, v]) => [k, v && v.bin ? v.bin : v]));
			const i = await c.info();
			const t = i.tcb_info;
			assert.equal(hex(ai.app_id), i.app_id);
			assert.equal(hex(ai.app_id), hex(sha256(compose)).slice(0, 40), 'app id = compose hash prefix without instance info');
			assert.equal(hex(ai.compose_hash), i.compose_hash);
			assert.equal(hex(ai.instance_id), i.instance_id);
			assert.equal(hex(ai.device_id), i.device_id);
			assert.equal(hex(ai.os_image_hash), '', 'no os-image-hash measured without a vm_config');
			assert.equal(ai.key_provider_info.toString(), i.key_provider_info);
			assert.deepEqual(JSON.parse(i.key_provider_info), { name: 'none', id: '' });
			assert.equal(hex(ai.mr_aggregated), i.mr_aggregated);
			const reg = (h) => Buffer.from(h, 'hex');
			assert.equal(hex(ai.mr_system), hex(sha256(Buffer.concat([reg(t.mrtd), reg(t.rtmr0), reg(t.rtmr1), reg(t.rtmr2),
				sha256(Buffer.from(i.key_provider_info))]))));
			assert.deepEqual(ai.init_script_hashes, []);
			assert.ok(leaf.raw.includes(Buffer.from('060a2b0601040183e73d0108', 'hex')), 'and the attestation it came from');
		} finally {
			await local.stop();
		}
	});

	test('getQuote: right-padded report data, replayRtmrs() equal to the quote, dstack-attest and dcap-qvl accept it', async () => {
		const c = new DstackClient(sock);
		const q = await c.getQuote('hello dstack');
		const fields = quoteFields(q.quote);
		const want = Buffer.alloc(64);
		Buffer.from('hello dstack').copy(want);
		assert.equal(q.report_data, want.toString('hex'));
		assert.equal(fields.reportData, want.toString('hex'));
		assert.deepEqual(q.replayRtmrs(), fields.rtmrs, 'the event log replays to the quote');
		assert.equal(q.vm_config, JSON.stringify({ os_image_hash: OS_IMAGE }));
		const log = JSON.parse(q.event_log);
		const rt = log.filter((e) => e.imr === 3).map((e) => e.event);
		assert.deepEqual(rt.slice(0, 8), ['system-preparing', 'app-id', 'compose-hash', 'instance-id', 'boot-mr-done',
			'os-image-hash', 'key-provider', 'system-ready'], 'dstack\'s boot order');
		const ev = (n) => log.find((e) => e.imr === 3 && e.event === n).event_payload;
		assert.equal(ev('app-id'), APP_ID);
		assert.equal(ev('compose-hash'), composeHash);
		assert.equal(ev('os-image-hash'), OS_IMAGE);
		assert.deepEqual(JSON.parse(Buffer.from(ev('key-provider'), 'hex').toString()),
			{ name: 'kms', id: hex(rootCaSpki) });
		// 64 bytes exactly is fine; the SDK refuses more before sending, the agent refuses it too (below).
		const full = await c.getQuote(Buffer.alloc(64, 0xab));
		assert.equal(full.report_data, 'ab'.repeat(64));
		await assert.rejects(c.getQuote(Buffer.alloc(65)), /too large/);

		writeFileSync(f('getquote.json'), JSON.stringify(q));
		const v = run(ATTEST, ['verify', '--collateral', f('collateral.json'), '--dev-root', f('dev-root.der'), f('getquote.json')]);
		assert.equal(v.code, 0, `dstack-attest verify: ${v.stdout} ${v.stderr}`);
		const verdict = JSON.parse(v.stdout);
		assert.equal(verdict.ok, true);
		assert.equal(verdict.dev, true, 'marked as development evidence');
		const js = QuoteVerifier.newWithRootCa(readFileSync(f('dev-root.der')))
			.verify(new Uint8Array(Buffer.from(q.quote, 'hex')), JSON.parse(readFileSync(f('collateral.json'), 'utf8')),
				Math.floor(Date.now() / 1000));
		assert.equal(js.status, 'UpToDate', '@phala/dcap-qvl with the dev root');
	});

	test('attest: a VersionedAttestation over the padded report data', async () => {
		const a = await new DstackClient(sock).attest('abc');
		const b = Buffer.from(a.attestation, 'hex');
		assert.ok(b.length > 1000);
		assert.ok(b.includes(Buffer.concat([Buffer.from('abc'), Buffer.alloc(61)])), 'carries the report data');
	});

	test('info: identity, tcb_info the SDK parses, mr_aggregated recomputed, simulated said so', async () => {
		const i = await new DstackClient(sock).info();
		assert.equal(i.app_id, APP_ID);
		assert.equal(i.compose_hash, composeHash);
		assert.equal(i.app_name, 'sdk-test-app');
		assert.match(i.instance_id, /^[0-9a-f]{40}$/);
		assert.equal(i.os_image_hash, OS_IMAGE);
		assert.deepEqual(JSON.parse(i.key_provider_info), { name: 'kms', id: hex(rootCaSpki) });
		assert.equal(i.vm_config, JSON.stringify({ os_image_hash: OS_IMAGE }));
		const t = i.tcb_info;
		assert.equal(typeof t, 'object', 'the SDK parsed tcb_info');
		assert.equal(t.simulated, true);
		assert.equal(t.tee, 'sim');
		assert.equal(t.app_compose, composeText);
		assert.equal(t.compose_hash, composeHash);
		assert.ok(Array.isArray(t.event_log));
		const mra = sha256(Buffer.concat([t.mrtd, t.rtmr0, t.rtmr1, t.rtmr2, t.rtmr3].map((h) => Buffer.from(h, 'hex'))));
		assert.equal(i.mr_aggregated, hex(mra));
		assert.match(i.device_id, /^[0-9a-f]{64}$/, 'device id from the PCK certificate\'s PPID');
		const q = await new DstackClient(sock).getQuote('');
		assert.equal(quoteFields(q.quote).mrtd, t.mrtd);
	});

	test('sign and verify: ed25519, secp256k1, secp256k1_prehashed; checked independently; chain to the KMS root', async () => {
		const c = new DstackClient(sock);
		const data = Buffer.from('data to sign');
		const ed = await c.sign('ed25519', data);
		assert.equal(ed.signature.length, 64);
		assert.ok(ed25519.verify(ed.signature, data, ed.public_key), 'noble ed25519');
		assert.equal(ed.signature_chain.length, 3);
		assert.deepEqual(ed.signature_chain[0], ed.signature);
		walkChain(hex(ed.public_key), 'signing', ed.signature_chain.slice(1));
		assert.equal((await c.verify('ed25519', data, ed.signature, ed.public_key)).valid, true);
		assert.equal((await c.verify('ed25519', Buffer.from('other'), ed.signature, ed.public_key)).valid, false);

		const k = await c.sign('secp256k1', data);
		assert.equal(k.public_key.length, 33);
		assert.ok(secp256k1.verify(k.signature, sha256(data), k.public_key), 'noble secp256k1 over sha256(data)');
		walkChain(hex(k.public_key), 'signing', k.signature_chain.slice(1));
		assert.equal((await c.verify('secp256k1', data, k.signature, k.public_key)).valid, true);
		assert.equal((await c.verify('secp256k1', Buffer.from('x'), k.signature, k.public_key)).valid, false);

		const digest = sha256(Buffer.from('prehashed'));
		const p = await c.sign('secp256k1_prehashed', digest);
		assert.deepEqual(p.public_key, k.public_key, 'the same signing key');
		assert.ok(secp256k1.verify(p.signature, digest, p.public_key));
		assert.equal((await c.verify('secp256k1_prehashed', digest, p.signature, p.public_key)).valid, true);
		await assert.rejects(c.sign('secp256k1_prehashed', Buffer.alloc(31)), /32-byte/);
		await assert.rejects(c.sign('rsa', data));
	});

	test('emitEvent: recorded after system-ready, replayed by the SDK to the quote\'s RTMR3', async () => {
		const c = new DstackClient(sock);
		await c.emitEvent('app-config-loaded', 'v1.2.3');
		const q = await c.getQuote('after event');
		const log = JSON.parse(q.event_log);
		const rt = log.filter((e) => e.imr === 3);
		const ready = rt.findIndex((e) => e.event === 'system-ready');
		const mine = rt.findIndex((e) => e.event === 'app-config-loaded');
		assert.ok(mine > ready, 'app events come after system-ready');
		assert.equal(rt[mine].event_payload, hex(Buffer.from('v1.2.3')));
		assert.deepEqual(q.replayRtmrs(), quoteFields(q.quote).rtmrs);
		await assert.rejects(c.emitEvent('', 'x'), /empty/, 'the SDK refuses an empty name');
		const r = await raw('/EmitEvent', { body: JSON.stringify({ event: 'system-ready', payload: '' }) });
		assert.equal(r.status, 400);
		assert.match(JSON.parse(r.body).error, /reserved/);
	});

	test('a storm of concurrent EmitEvents: every event once, log and RTMR3 consistent', async () => {
		const c = new DstackClient(sock);
		const n = 200;
		await Promise.all(Array.from({ length: n }, (_, i) => c.emitEvent(`storm-${i}`, `payload-${i}`)));
		const q = await c.getQuote('after the storm');
		const log = JSON.parse(q.event_log).filter((e) => e.imr === 3);
		const storm = log.filter((e) => e.event.startsWith('storm-'));
		assert.equal(storm.length, n);
		assert.equal(new Set(storm.map((e) => e.event)).size, n, 'no duplicates');
		for (const e of storm)
			assert.equal(Buffer.from(e.event_payload, 'hex').toString(), `payload-${e.event.slice(6)}`);
		// RTMR3 recomputed here from names and payloads (not the log's digests): dstack's V1 digest.
		let mr = Buffer.alloc(48);
		for (const e of log) {
			const d = sha384(Buffer.concat([Buffer.from([1, 0, 0, 8]), Buffer.from(`:${e.event}:`),
				Buffer.from(e.event_payload, 'hex')]));
			mr = sha384(Buffer.concat([mr, d]));
		}
		assert.equal(hex(mr), quoteFields(q.quote).rtmrs[3]);
		const info = await c.info();
		assert.equal(info.tcb_info.rtmr3, hex(mr), 'Info sees the same register');
	});
});

describe('TappdClient (legacy) on the tappd socket', () => {
	test('deriveKey, tdxQuote (raw and hashed), isReachable', async () => {
		const t = new TappdClient(tappdSock);
		assert.equal(await t.isReachable(), true);
		const k1 = await t.deriveKey('/tls/a', 'a.example.com', ['a.example.com']);
		const k2 = await t.deriveKey('/tls/a', 'a.example.com', ['a.example.com']);
		const spki = (pem) => createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' });
		assert.deepEqual(spki(k1.key), spki(k2.key), 'deterministic per path');
		assert.notDeepEqual(spki(k1.key), spki((await t.deriveKey('/tls/b')).key));
		const leaf = new X509Certificate(k1.certificate_chain[0]);
		assert.match(leaf.subject, /CN=a\.example\.com/);
		assert.ok(leaf.verify(new X509Certificate(k1.certificate_chain[1]).publicKey));

		const raw64 = await t.tdxQuote(Buffer.from('raw data'), 'raw');
		const want = Buffer.alloc(64);
		Buffer.from('raw data').copy(want, 64 - 8);
		assert.equal(quoteFields(raw64.quote).reportData, want.toString('hex'), 'the SDK left-pads raw data');
		assert.equal(raw64.hash_algorithm, 'raw');
		assert.deepEqual(raw64.replayRtmrs(), quoteFields(raw64.quote).rtmrs);
		const h = await t.tdxQuote('some data', 'sha256');
		const d = Buffer.concat([sha256(Buffer.from('app-data:some data')), Buffer.alloc(32)]);
		assert.equal(quoteFields(h.quote).reportData, d.toString('hex'), 'sha256("app-data:" || data), zero-padded');
		const dflt = await t.tdxQuote('some data');
		assert.equal(quoteFields(dflt.quote).reportData, sha512(Buffer.from('app-data:some data')).toString('hex'));
		assert.equal(dflt.hash_algorithm, 'sha512');
		const info = await t.info();
		assert.equal(info.app_id, APP_ID);
	});
});

describe('errors over raw HTTP (what any client sees)', () => {
	test('malformed JSON, wrong types, unknown algorithm, report data over 64 bytes: 400 with {"error"}', async () => {
		for (const [path, body, re] of [
			['/GetKey', '{"path":', /expected a value/],
			['/GetKey', '{"path":5}', /path|type/],
			['/GetKey', '{"path":"a","algorithm":"rsa"}', /Unsupported algorithm/],
			['/GetQuote', JSON.stringify({ report_data: 'ab'.repeat(65) }), /too long/],
			['/Attest', JSON.stringify({ report_data: 'ab'.repeat(65) }), /too long/],
			['/GetQuote', '{"report_data":"zz"}', /hex|encoding/i],
			['/Sign', '{"algorithm":"secp256k1_prehashed","data":"00"}', /32-byte/],
			['/Verify', '{"algorithm":"ed25519","data":"","signature":"00","public_key":"00"}', /signature/],
			['/EmitEvent', '{"event":"a:b","payload":""}', /':'/],
		]) {
			const r = await raw(path, { body });
			assert.equal(r.status, 400, `${path} ${body}: ${r.status} ${r.body}`);
			assert.match(r.headers['content-type'], /application\/json/);
			assert.ok(r.headers['content-length'], 'Content-Length, never chunked');
			assert.match(JSON.parse(r.body).error, re, `${path} ${body}`);
		}
	});

	test('an oversized body is refused with 413; an unknown path is 404; GET with a query works', async () => {
		// Refused on the Content-Length alone, before the body is read (limits.max_message_size = 1MiB).
		const big = await rawText('POST /GetKey HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
			`Content-Length: ${2 << 20}\r\n\r\n{"path":"`);
		assert.match(big, /^HTTP\/1\.1 413 /);
		assert.match(big, /Connection: close/);
		assert.match(big.slice(big.indexOf('\r\n\r\n') + 4), /^\{"error":"request body exceeds the size limit"\}$/);
		// The same for a chunked body that grows past the limit.
		const chunk = 'x'.repeat(64 << 10);
		let text = 'POST /GetKey HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
		for (let i = 0; i < 20; i++)
			text += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
		const chunked = await rawText(text);
		assert.match(chunked, /^HTTP\/1\.1 413 /);
		// The agent is still fine afterwards.
		assert.equal(await new DstackClient(sock).isReachable(), true);
		const none = await raw('/NoSuchMethod', { body: '{}' });
		assert.equal(none.status, 404);
		const g = await raw('/GetKey?path=wallet%2Feth&purpose=mainnet', { method: 'GET' });
		assert.equal(g.status, 200);
		const p = await new DstackClient(sock).getKey('wallet/eth', 'mainnet');
		assert.equal(JSON.parse(g.body).key, hex(p.key), 'GET with a query string = POST with the JSON body');
		const info = await raw('/Info', { method: 'GET' });
		assert.equal(JSON.parse(info.body).app_id, APP_ID);
	});

	test('the same methods through the Connect runtime (proto3 JSON) for protobuf clients', async () => {
		const r = await raw('/dstack.guest.v1.DstackGuest/GetKey', { body: JSON.stringify({ path: 'wallet/eth', purpose: 'mainnet' }) });
		assert.equal(r.status, 200);
		const p = await new DstackClient(sock).getKey('wallet/eth', 'mainnet');
		assert.equal(Buffer.from(JSON.parse(r.body).key, 'base64').toString('hex'), hex(p.key));
		const bad = await raw('/dstack.guest.v1.DstackGuest/GetQuote', { body: JSON.stringify({ reportData: Buffer.alloc(65).toString('base64') }) });
		assert.equal(bad.status, 400);
		assert.equal(JSON.parse(bad.body).code, 'invalid_argument');
	});
});

describe('the launched app and the boot', () => {
	test('the app the agent launched read its key through DSTACK_SIMULATOR_ENDPOINT and only its allowed env', async () => {
		const out = f('app-out.json');
		for (let i = 0; i < 200 && !existsSync(out); i++)
			await sleep(50);
		assert.ok(existsSync(out), 'the app wrote its result');
		const got = JSON.parse(readFileSync(out, 'utf8'));
		const k = await new DstackClient(sock).getKey('wallet/eth', 'mainnet');
		assert.equal(got.address, new SigningKey(hexlify(k.key)).address);
		assert.equal(got.endpoint, sock);
		assert.equal(got.foo, 'from the encrypted env ✓', 'decrypted from .encrypted-env');
		assert.equal(got.baz, null, 'a name outside allowed_envs is dropped');
	});

	test('a changed compose: new compose hash, the registry denies, boot stops with the reason and no keys', async () => {
		const shared = f('shared2');
		mkdirSync(shared);
		for (const n of ['.instance_info', '.sys-config.json'])
			writeFileSync(join(shared, n), readFileSync(f('shared', n)));
		const changed = composeText.replace('sdk-test-app', 'sdk-test-app-v2');
		writeFileSync(join(shared, 'app-compose.json'), changed);
		const r = run(AGENT, ['boot', '-c', agentConf('changed', shared)]);
		assert.equal(r.code, 1, r.stdout + r.stderr);
		const v = JSON.parse(r.stdout);
		assert.equal(v.ok, false);
		assert.equal(v.error, 'ERR_POLICY_DENIED');
		assert.match(v.reason, /refused the keys/);
		assert.match(v.reason, /compose/i, 'the registry\'s reason names the compose hash');
		assert.ok(!/"key"|k256|secret/i.test(r.stdout), 'nothing secret printed');
		// Allowed once the governance adds the new hash (same state dir: the boot resumes and completes).
		writePolicy([composeHash, hex(sha256(changed))]);
		await sleep(400);
		const ok = run(AGENT, ['boot', '-c', f('changed.conf')]);
		assert.equal(ok.code, 0, ok.stdout + ok.stderr);
		assert.equal(JSON.parse(ok.stdout).resumed, true, 'the events already measured are checked, not repeated');
		assert.equal(JSON.parse(ok.stdout).compose_hash, hex(sha256(changed)));
	});
});
