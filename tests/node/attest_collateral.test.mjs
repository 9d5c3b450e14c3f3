// SPDX-License-Identifier: Apache-2.0
// dstack-attest's collateral cache and PCCS v4 API against a fake upstream PCCS (real Intel-signed
// collateral from the shared test data): miss then hits, singleflight, expiry from nextUpdate,
// bounded serve-stale, the disk cache across restarts, offline directories, and @phala/dcap-qvl's
// getCollateral using the daemon as its PCCS. Everything on 127.0.0.1; processes stopped by PID.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { readFileSync, writeFileSync, mkdirSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRequire } from 'node:module';

import { startServer, tempDir, sourceDir } from './lib/harness.mjs';

const require = createRequire(import.meta.url);
const dcap = require('@phala/dcap-qvl');

const BIN = process.env.DS_ATTEST_BIN || join(sourceDir, 'build', 'services', 'attest', 'dstack-attest');
const DATA = process.env.DS_ATTEST_TESTDATA || join(sourceDir, '..', 'shared', 'testdata', 'attestation');

// Evaluation times (unix seconds). The dcap-qvl collateral is valid 2025-06-19 .. 2025-07-19T10:16:03Z.
const T_FRESH = Date.UTC(2025, 6, 10) / 1000;           // 2025-07-10: dcap-qvl sets fresh, automata 2506 expired
const T_STALE_1D = Date.UTC(2025, 6, 20, 12) / 1000;     // ~1 day past the TDX TCB info's nextUpdate
const T_STALE_4D = Date.UTC(2025, 6, 23, 12) / 1000;     // ~4 days past
const T_P01 = 1752919234;                                // expected.json P01: tdx_quote verifies UpToDate

// --- the fake upstream PCCS ---

function loadCollateral(rel) {
	return JSON.parse(readFileSync(join(DATA, rel), 'utf8'));
}

/** The PCS response body dcap-qvl's collateral JSON was cut from: {"tcbInfo":<exact bytes>,"signature":"<hex>"}. */
function signedBody(field, inner, sigHex) {
	return `{"${field}":${inner},"signature":"${sigHex}"}`;
}

function buildUpstream() {
	const tdx = loadCollateral('dcap-qvl/tdx_quote_collateral.json');        // TDX, FMSPC B0C06F000000, Platform CA
	const sgx = loadCollateral('dcap-qvl/sgx_quote_collateral.json');        // SGX, FMSPC 00A067110000, Processor CA
	const old = loadCollateral('automata/collateral_tdx_00806f050000_2506.json'); // TDX, expired by T_FRESH
	const tcb = { tdx: {}, sgx: {} };
	const addTcb = (tee, c) => {
		const fmspc = JSON.parse(c.tcb_info).fmspc.toUpperCase();
		tcb[tee][fmspc] = { body: signedBody('tcbInfo', c.tcb_info, c.tcb_info_signature), chain: c.tcb_info_issuer_chain };
	};
	addTcb('tdx', tdx);
	addTcb('sgx', sgx);
	addTcb('tdx', old);
	return {
		tcb,
		qe: {
			tdx: { body: signedBody('enclaveIdentity', tdx.qe_identity, tdx.qe_identity_signature), chain: tdx.qe_identity_issuer_chain },
			sgx: { body: signedBody('enclaveIdentity', sgx.qe_identity, sgx.qe_identity_signature), chain: sgx.qe_identity_issuer_chain },
		},
		pckcrl: {
			platform: { body: Buffer.from(tdx.pck_crl, 'hex'), chain: tdx.pck_crl_issuer_chain },
			processor: { body: Buffer.from(sgx.pck_crl, 'hex'), chain: sgx.pck_crl_issuer_chain },
		},
		rootcacrl: tdx.root_ca_crl,   // a PCCS sends the Root CA CRL as hex text
		amd: buildKds(),
	};
}

/** AMD KDS: the Milan chain and the VCEK of go-sev-guest's attestation.bin (a v2 Milan report). */
function buildKds() {
	const report = readFileSync(join(DATA, 'go-sev-guest/attestation.bin'));
	const tcb = report.subarray(0x180, 0x188);
	return {
		hwid: report.subarray(0x1a0, 0x1e0),
		reportedTcb: tcb.readBigUInt64LE(0),
		// Milan: bytes [0]=BOOT_LOADER, [1]=TEE, [6]=SNP, [7]=MICROCODE (attestation.md B.1).
		query: { blSPL: String(tcb[0]), teeSPL: String(tcb[1]), snpSPL: String(tcb[6]), ucodeSPL: String(tcb[7]) },
		vcek: readFileSync(join(DATA, 'go-sev-guest/vcek.testcer')),
		chain: readFileSync(join(DATA, 'go-sev-guest/ask_ark_milan.pem'), 'utf8'),
	};
}

class FakePccs {
	constructor() {
		this.data = buildUpstream();
		this.counts = new Map();
		this.failing = false;   // answer 503 to everything
		this.delayMs = 0;
	}

	count(path) {
		return this.counts.get(path) || 0;
	}

	total() {
		let n = 0;
		for (const v of this.counts.values())
			n += v;
		return n;
	}

	async handle(req, res) {
		const u = new URL(req.url, 'http://x');
		const key = u.pathname + (u.pathname.endsWith('/tcb') ? `?fmspc=${(u.searchParams.get('fmspc') || '').toUpperCase()}` : '');
		this.counts.set(key, this.count(key) + 1);
		if (this.delayMs)
			await sleep(this.delayMs);
		if (this.failing) {
			res.writeHead(503, { 'content-type': 'text/plain' });
			res.end('upstream down for the test\n');
			return;
		}
		const kds = u.pathname.match(/^\/vcek\/v1\/Milan\/([0-9a-f]+|cert_chain|crl)$/);
		if (kds) {
			const a = this.data.amd;
			if (kds[1] === 'cert_chain') {
				res.writeHead(200, { 'content-type': 'application/x-pem-file' });
				res.end(a.chain);
			} else if (kds[1] === a.hwid.toString('hex') &&
				Object.entries(a.query).every(([k, v]) => u.searchParams.get(k) === v) && [...u.searchParams.keys()].length === 4) {
				res.writeHead(200, { 'content-type': 'application/pkix-cert' });
				res.end(a.vcek);
			} else {
				res.writeHead(404);   // no CRL in the test data; a wrong hwid or TCB query
				res.end();
			}
			return;
		}
		const m = u.pathname.match(/^\/(sgx|tdx)\/certification\/v4\/(tcb|qe\/identity|pckcrl|rootcacrl)$/);
		if (!m) {
			res.writeHead(404);
			res.end();
			return;
		}
		const [, tee, what] = m;
		const d = this.data;
		if (what === 'tcb') {
			const t = d.tcb[tee][(u.searchParams.get('fmspc') || '').toUpperCase()];
			if (!t) {
				res.writeHead(404);
				res.end();
				return;
			}
			res.writeHead(200, { 'content-type': 'application/json', 'TCB-Info-Issuer-Chain': encodeURIComponent(t.chain) });
			res.end(t.body);
		} else if (what === 'qe/identity') {
			const q = d.qe[tee];
			res.writeHead(200, { 'content-type': 'application/json', 'SGX-Enclave-Identity-Issuer-Chain': encodeURIComponent(q.chain) });
			res.end(q.body);
		} else if (what === 'pckcrl' && tee === 'sgx') {
			const c = d.pckcrl[u.searchParams.get('ca')];
			if (!c || u.searchParams.get('encoding') !== 'der') {
				res.writeHead(400);
				res.end();
				return;
			}
			res.writeHead(200, { 'content-type': 'application/pkix-crl', 'SGX-PCK-CRL-Issuer-Chain': encodeURIComponent(c.chain) });
			res.end(c.body);
		} else if (what === 'rootcacrl' && tee === 'sgx') {
			res.writeHead(200, { 'content-type': 'text/plain' });
			res.end(d.rootcacrl);
		} else {
			res.writeHead(404);
			res.end();
		}
	}

	async start() {
		this.server = http.createServer((req, res) => {
			this.handle(req, res).catch((e) => {
				res.writeHead(500);
				res.end(String(e));
			});
		});
		await new Promise((r) => this.server.listen(0, '127.0.0.1', r));
		this.url = `http://127.0.0.1:${this.server.address().port}`;
	}

	async stop() {
		this.server.closeAllConnections();
		await new Promise((r) => this.server.close(r));
	}
}

/** A loopback port with nothing listening (bound, then closed). */
async function deadPort() {
	const s = net.createServer();
	await new Promise((r) => s.listen(0, '127.0.0.1', r));
	const port = s.address().port;
	await new Promise((r) => s.close(r));
	return port;
}

// --- the daemon ---

function writeConfig(dir, name, lines) {
	const path = join(dir, `${name}.conf`);
	writeFileSync(path, [
		'listen = tcp://127.0.0.1:0',
		'log.level = debug',
		'timeouts.drain = 2s',
		...lines,
		'',
	].join('\n'));
	return path;
}

function pccsConfig(dir, name, upstreamUrl, now, extra = []) {
	return writeConfig(dir, name, [
		'collateral.mode = pccs',
		`collateral.pccs_url = ${upstreamUrl}`,
		`collateral.amd_kds_url = ${upstreamUrl}`,
		`collateral.cache_dir = ${join(dir, 'cache')}`,
		`collateral.test_now = ${now}`,
		'collateral.timeout = 3s',
		'collateral.retries = 1',
		'collateral.error_holdoff = 0',
		'collateral.max_stale = 48h',
		...extra,
	]);
}

async function startAttest(conf) {
	return startServer(BIN, ['serve', '-c', conf]);
}

function base(srv) {
	return `http://127.0.0.1:${srv.port}`;
}

async function get(srv, path) {
	const r = await fetch(base(srv) + path);
	const body = Buffer.from(await r.arrayBuffer());
	return { status: r.status, headers: r.headers, body, text: body.toString('utf8') };
}

/** A Connect unary JSON call; resolves to { status, body }. */
async function connect(srv, method, req) {
	const r = await fetch(`${base(srv)}/dstack.attest.v1.Attest/${method}`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify(req),
	});
	return { status: r.status, body: await r.json() };
}

const b64 = (buf) => Buffer.from(buf).toString('base64');

function pemToDer(pem) {
	return [...pem.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g)]
		.map((m) => Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
}

async function metric(srv, name, labels) {
	const text = (await get(srv, '/metrics')).text;
	const want = `${name}{${labels}} `;
	const line = text.split('\n').find((l) => l.startsWith(want));
	return line ? Number(line.slice(want.length)) : 0;
}

const TDX_FMSPC = 'B0C06F000000';
const SGX_FMSPC = '00A067110000';
const OLD_FMSPC = '00806F050000';

describe('dstack-attest collateral cache and PCCS API', () => {
	let up, tmp;

	before(async () => {
		assert.ok(existsSync(BIN), `dstack-attest at ${BIN} (set DS_ATTEST_BIN)`);
		up = new FakePccs();
		await up.start();
		tmp = tempDir('ds-attest-coll-');
	});

	after(async () => {
		await up.stop();
		tmp.cleanup();
	});

	describe('online (pccs mode)', () => {
		let srv;

		before(async () => {
			srv = await startAttest(pccsConfig(tmp.dir, 'a', up.url, T_FRESH));
		});

		after(async () => {
			await srv.stop();
		});

		test('a miss fetches once, then hits are served from memory', async () => {
			const path = `/tdx/certification/v4/tcb?fmspc=${TDX_FMSPC}`;
			const want = up.data.tcb.tdx[TDX_FMSPC];
			for (let i = 0; i < 4; i++) {
				const r = await get(srv, i % 2 ? path : path.toLowerCase());   // FMSPC in either case
				assert.equal(r.status, 200, r.text);
				assert.equal(r.headers.get('content-type'), 'application/json');
				assert.equal(r.text, want.body, 'the upstream body byte for byte');
				assert.equal(decodeURIComponent(r.headers.get('tcb-info-issuer-chain')), want.chain);
				assert.equal(r.headers.get('tcb-info-issuer-chain'), encodeURIComponent(want.chain), 'URL-encoded as Intel does');
				assert.equal(r.headers.get('warning'), null);
			}
			assert.equal(up.count(`/tdx/certification/v4/tcb?fmspc=${TDX_FMSPC}`), 1, 'one upstream fetch');
			assert.equal(await metric(srv, 'attest_collateral_requests_total', 'kind="tdx_tcb",result="miss"'), 1);
			assert.equal(await metric(srv, 'attest_collateral_requests_total', 'kind="tdx_tcb",result="hit"'), 3);
			const text = (await get(srv, '/metrics')).text;
			assert.match(text, /^attest_collateral_entries 1$/m);
			assert.match(text, /^attest_collateral_fetch_duration_seconds_count\{kind="tdx_tcb"\} 1$/m);
		});

		test('20 concurrent requests for one key make one upstream fetch', async () => {
			up.delayMs = 300;
			try {
				const path = `/sgx/certification/v4/tcb?fmspc=${SGX_FMSPC.toLowerCase()}`;
				const rs = await Promise.all(Array.from({ length: 20 }, () => get(srv, path)));
				for (const r of rs) {
					assert.equal(r.status, 200, r.text);
					assert.equal(r.text, up.data.tcb.sgx[SGX_FMSPC].body);
				}
			} finally {
				up.delayMs = 0;
			}
			assert.equal(up.count(`/sgx/certification/v4/tcb?fmspc=${SGX_FMSPC}`), 1);
			assert.equal(await metric(srv, 'attest_collateral_requests_total', 'kind="sgx_tcb",result="miss"'), 20);
		});

		test('validity comes from nextUpdate: an artefact already past it is fetched again each time', async () => {
			const path = `/tdx/certification/v4/tcb?fmspc=${OLD_FMSPC}`;
			for (let i = 1; i <= 2; i++) {
				const r = await get(srv, path);
				assert.equal(r.status, 200, r.text);
				assert.equal(r.text, up.data.tcb.tdx[OLD_FMSPC].body);
				assert.match(r.headers.get('warning') || '', /^110 /, 'marked stale');
				assert.equal(up.count(path), i);
			}
		});

		test('QE identity, PCK CRL (DER and PEM) and Root CA CRL, with PCS headers and types', async () => {
			let r = await get(srv, '/tdx/certification/v4/qe/identity?update=standard');
			assert.equal(r.status, 200, r.text);
			assert.equal(r.text, up.data.qe.tdx.body);
			assert.equal(decodeURIComponent(r.headers.get('sgx-enclave-identity-issuer-chain')), up.data.qe.tdx.chain);
			r = await get(srv, '/sgx/certification/v4/qe/identity');
			assert.equal(r.status, 200, r.text);
			assert.equal(r.text, up.data.qe.sgx.body);

			r = await get(srv, '/sgx/certification/v4/pckcrl?ca=platform&encoding=der');
			assert.equal(r.status, 200, r.text);
			assert.equal(r.headers.get('content-type'), 'application/pkix-crl');
			assert.deepEqual(r.body, up.data.pckcrl.platform.body);
			assert.equal(decodeURIComponent(r.headers.get('sgx-pck-crl-issuer-chain')), up.data.pckcrl.platform.chain);
			r = await get(srv, '/sgx/certification/v4/pckcrl?ca=PLATFORM');
			assert.equal(r.status, 200, r.text);
			assert.equal(r.headers.get('content-type'), 'application/x-pem-file');
			const b64 = r.text.replace(/-----(BEGIN|END) X509 CRL-----/g, '').replace(/\s+/g, '');
			assert.match(r.text, /^-----BEGIN X509 CRL-----\n/);
			assert.deepEqual(Buffer.from(b64, 'base64'), up.data.pckcrl.platform.body);
			assert.equal(up.count('/sgx/certification/v4/pckcrl'), 1, 'DER and PEM come from one cached entry');

			r = await get(srv, '/sgx/certification/v4/rootcacrl');
			assert.equal(r.status, 200, r.text);
			assert.equal(r.text, up.data.rootcacrl);
		});

		test('bad parameters are 400, an FMSPC upstream does not know is 404 (remembered)', async () => {
			for (const p of ['/tdx/certification/v4/tcb', '/tdx/certification/v4/tcb?fmspc=B0C06F00000',
				'/tdx/certification/v4/tcb?fmspc=B0C06F00000G', '/tdx/certification/v4/tcb?fmspc=B0C06F000000&fmspc=B0C06F000000',
				'/tdx/certification/v4/tcb?fmspc=B0C06F000000&update=early', '/sgx/certification/v4/pckcrl',
				'/sgx/certification/v4/pckcrl?ca=intermediate', '/sgx/certification/v4/pckcrl?ca=processor&encoding=base64']) {
				const r = await get(srv, p);
				assert.equal(r.status, 400, `${p}: ${r.text}`);
			}
			const before = up.total();
			const path = '/tdx/certification/v4/tcb?fmspc=00906ED50000';
			let r = await get(srv, path);
			assert.equal(r.status, 404, r.text);
			r = await get(srv, path);
			assert.equal(r.status, 404, r.text);
			assert.equal(up.total() - before, 1, 'the 404 is remembered, not re-asked');
		});

		test('@phala/dcap-qvl getCollateral with the daemon as PCCS equals the upstream answer, and verifies', async () => {
			const quote = readFileSync(join(DATA, 'dcap-qvl/tdx_quote'));
			const ours = await dcap.getCollateral(base(srv), quote);
			const theirs = await dcap.getCollateral(up.url, quote);
			assert.deepEqual(ours, theirs);
			const file = loadCollateral('dcap-qvl/tdx_quote_collateral.json');
			assert.equal(ours.tcb_info, JSON.stringify(JSON.parse(file.tcb_info)));
			assert.equal(Buffer.from(ours.root_ca_crl).toString('hex'), file.root_ca_crl);
			const report = dcap.verify(quote, ours, T_P01);
			assert.equal(report.status, 'UpToDate');
		});

		test('GetCollateral (Intel) returns the cached artefacts field for field', async () => {
			const before = up.total();
			const { status, body } = await connect(srv, 'GetCollateral', {
				key: { teeType: 'TEE_TYPE_TDX', fmspc: b64(Buffer.from(TDX_FMSPC, 'hex')), pckCa: 'PCK_CA_PLATFORM' },
			});
			assert.equal(status, 200, JSON.stringify(body));
			const file = loadCollateral('dcap-qvl/tdx_quote_collateral.json');
			const ic = body.collateral.intel;
			assert.equal(ic.tcbInfo, file.tcb_info, 'the exact signed bytes');
			assert.equal(ic.qeIdentity, file.qe_identity);
			assert.equal(Buffer.from(ic.tcbInfoSignature, 'base64').toString('hex'), file.tcb_info_signature);
			assert.equal(Buffer.from(ic.qeIdentitySignature, 'base64').toString('hex'), file.qe_identity_signature);
			assert.equal(Buffer.from(ic.pckCrl, 'base64').toString('hex'), file.pck_crl);
			assert.equal(Buffer.from(ic.rootCaCrl, 'base64').toString('hex'), file.root_ca_crl);
			assert.equal(ic.tcbInfoIssuerChain, file.tcb_info_issuer_chain);
			assert.equal(ic.qeIdentityIssuerChain, file.qe_identity_issuer_chain);
			assert.equal(ic.pckCrlIssuerChain, file.pck_crl_issuer_chain);
			assert.equal(ic.tcbEvaluationDataNumber, 17);
			assert.equal(ic.tcbInfoNextUpdateUnix, String(Date.parse('2025-07-19T10:16:03Z') / 1000));
			assert.equal(body.collateral.expiresAtUnix, String(Date.parse('2025-07-19T10:00:35Z') / 1000), 'the PCK CRL expires first');
			assert.equal(body.fromCache, true);
			assert.equal(up.total(), before);

			const bad = await connect(srv, 'GetCollateral', { key: { teeType: 'TEE_TYPE_TDX', fmspc: 'AAEC', pckCa: 'PCK_CA_PLATFORM' } });
			assert.equal(bad.status, 400, JSON.stringify(bad.body));
			assert.equal(bad.body.code, 'invalid_argument');
			const nf = await connect(srv, 'GetCollateral', {
				key: { teeType: 'TEE_TYPE_SGX', fmspc: b64(Buffer.from('00906ED50000', 'hex')), pckCa: 'PCK_CA_PROCESSOR' },
			});
			assert.equal(nf.body.code, 'not_found', JSON.stringify(nf.body));
		});

		test('GetCollateral (AMD) fetches the KDS chain and VCEK with the SPLs from REPORTED_TCB', async () => {
			const a = up.data.amd;
			const req = { key: { teeType: 'TEE_TYPE_SEV_SNP', snpProduct: 'Milan', snpHwId: b64(a.hwid), snpReportedTcb: String(a.reportedTcb) } };
			for (let i = 0; i < 2; i++) {
				const { status, body } = await connect(srv, 'GetCollateral', req);
				assert.equal(status, 200, JSON.stringify(body));
				const ac = body.collateral.amd;
				assert.equal(ac.product, 'Milan');
				assert.deepEqual(Buffer.from(ac.vcek, 'base64'), a.vcek);
				const [ask, ark] = pemToDer(a.chain);
				assert.deepEqual(Buffer.from(ac.ask, 'base64'), ask);
				assert.deepEqual(Buffer.from(ac.ark, 'base64'), ark);
				assert.equal(ac.crl, undefined, 'no CRL upstream: best effort');
				assert.equal(ac.vcekNotAfterUnix, String(Date.parse('2029-09-24T00:55:28Z') / 1000));
				assert.equal(body.fromCache === true, i === 1, 'proto3 JSON omits false');
			}
			assert.equal(up.count(`/vcek/v1/Milan/${a.hwid.toString('hex')}`), 1);
			assert.equal(up.count('/vcek/v1/Milan/cert_chain'), 1);
			const other = { key: { ...req.key, snpReportedTcb: String(a.reportedTcb + 1n) } };
			const nf = await connect(srv, 'GetCollateral', other);
			assert.equal(nf.body.code, 'not_found', JSON.stringify(nf.body));
			const vlek = await connect(srv, 'GetCollateral', { key: { ...req.key, snpSigningKey: 'SEV_SIGNING_KEY_VLEK' } });
			assert.equal(vlek.body.code, 'invalid_argument');
		});

		test('cache files are written atomically with mode 0600', async () => {
			// Fetched artefacts are answered from memory first and written afterwards, off the
			// event loop: wait until nothing is pending, then every file must be complete.
			let pending = -1;
			for (let i = 0; i < 200; i++) {
				const text = (await get(srv, '/metrics')).text;
				const m = text.match(/^attest_collateral_disk_writes_pending (\d+)$/m);
				pending = m ? Number(m[1]) : -1;
				if (pending === 0)
					break;
				await new Promise((r) => setTimeout(r, 10));
			}
			assert.equal(pending, 0, 'disk writes still pending');
			assert.ok(await metric(srv, 'attest_collateral_disk_writes_total', 'result="ok"') >= 3);
			assert.equal(await metric(srv, 'attest_collateral_disk_writes_total', 'result="error"'), 0);
			const dir = join(tmp.dir, 'cache');
			const files = readdirSync(dir);
			assert.ok(files.includes(`tdx_tcb.${TDX_FMSPC}.json`), files.join(' '));
			assert.ok(files.includes('pck_crl_platform.json'));
			assert.ok(files.includes('root_ca_crl.json'));
			assert.ok(!files.some((f) => f.startsWith('.')), 'no temporary files left');
			for (const f of files)
				assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
		});
	});

	test('a restart serves from the disk cache without upstream; corrupt files are skipped', async () => {
		writeFileSync(join(tmp.dir, 'cache', 'sgx_qe_identity.json'), '{"format":"dstack-attest-collateral/1","key":');
		const before = up.total();
		const srv = await startAttest(pccsConfig(tmp.dir, 'b', up.url, T_FRESH));
		try {
			let r = await get(srv, `/tdx/certification/v4/tcb?fmspc=${TDX_FMSPC}`);
			assert.equal(r.status, 200, r.text);
			assert.equal(r.text, up.data.tcb.tdx[TDX_FMSPC].body);
			r = await get(srv, '/tdx/certification/v4/qe/identity');
			assert.equal(r.status, 200, r.text);
			r = await get(srv, '/sgx/certification/v4/pckcrl?ca=platform&encoding=der');
			assert.deepEqual(r.body, up.data.pckcrl.platform.body);
			assert.equal(up.total(), before, 'nothing asked upstream');
			assert.equal(await metric(srv, 'attest_collateral_requests_total', 'kind="tdx_tcb",result="hit"'), 1);
			// The corrupt file was skipped, so this one is fetched.
			r = await get(srv, '/sgx/certification/v4/qe/identity');
			assert.equal(r.status, 200, r.text);
			assert.equal(up.total(), before + 1);
			assert.match(srv.stderr(), /ignoring corrupt cache file .*sgx_qe_identity\.json/);
		} finally {
			await srv.stop();
		}
	});

	test('a fetch answered just before a stop is on disk after it: a restart serves it without upstream', async () => {
		// The answer does not wait for the cache file; a clean stop writes every file still queued.
		const dir = join(tmp.dir, 'drain');
		mkdirSync(dir, { recursive: true });
		const conf = pccsConfig(dir, 'd', up.url, T_FRESH);
		const paths = [`/tdx/certification/v4/tcb?fmspc=${TDX_FMSPC}`, '/tdx/certification/v4/qe/identity',
			'/sgx/certification/v4/pckcrl?ca=platform&encoding=der', '/sgx/certification/v4/rootcacrl'];
		let srv = await startAttest(conf);
		const before = up.total();
		try {
			const rs = await Promise.all(paths.map((p) => get(srv, p)));
			for (const r of rs)
				assert.equal(r.status, 200, r.text);
			assert.equal(up.total(), before + 4);
		} finally {
			await srv.stop();   // at once: no wait for the writes
		}
		const files = readdirSync(join(dir, 'cache'));
		for (const f of [`tdx_tcb.${TDX_FMSPC}.json`, 'tdx_qe_identity.json', 'pck_crl_platform.json', 'root_ca_crl.json'])
			assert.ok(files.includes(f), `${f} in ${files.join(' ')}`);
		assert.ok(!files.some((f) => f.startsWith('.')), 'no temporary files left');
		srv = await startAttest(conf);
		try {
			for (const p of paths) {
				const r = await get(srv, p);
				assert.equal(r.status, 200, r.text);
			}
			assert.equal(up.total(), before + 4, 'all four served from the disk cache');
			assert.equal(await metric(srv, 'attest_collateral_requests_total', 'kind="tdx_tcb",result="hit"'), 1);
		} finally {
			await srv.stop();
		}
	});

	test('refresh_before: a hit close to expiry refreshes in the background, once per artefact', async () => {
		// The disk copy was fetched on 07-10; on 07-15 it is inside a 5-day window before the 07-19 nextUpdate.
		const path = `/tdx/certification/v4/tcb?fmspc=${TDX_FMSPC}`;
		const srv = await startAttest(pccsConfig(tmp.dir, 'r', up.url, Date.UTC(2025, 6, 15) / 1000,
			['collateral.refresh_before = 120h']));
		try {
			const before = up.count(path);
			let r = await get(srv, path);
			assert.equal(r.status, 200, r.text);
			for (let i = 0; i < 100 && up.count(path) === before; i++)
				await sleep(20);
			assert.equal(up.count(path), before + 1, 'one background refresh');
			await sleep(100);
			for (let i = 0; i < 3; i++) {
				r = await get(srv, path);
				assert.equal(r.status, 200, r.text);
			}
			await sleep(100);
			assert.equal(up.count(path), before + 1, 'the refreshed copy is not refreshed again');
			assert.equal(await metric(srv, 'attest_collateral_requests_total', 'kind="tdx_tcb",result="hit"'), 4);
			assert.equal(await metric(srv, 'attest_collateral_requests_total', 'kind="tdx_tcb",result="miss"'), 0);
		} finally {
			await srv.stop();
		}
	});

	test('upstream failing: stale within max_stale is served and counted, beyond it is an error', async () => {
		up.failing = true;
		try {
			const path = `/tdx/certification/v4/tcb?fmspc=${TDX_FMSPC}`;
			let srv = await startAttest(pccsConfig(tmp.dir, 'c', up.url, T_STALE_1D));
			try {
				const before = up.count(path);
				const r = await get(srv, path);
				assert.equal(r.status, 200, r.text);
				assert.equal(r.text, up.data.tcb.tdx[TDX_FMSPC].body);
				assert.equal(r.headers.get('warning'), '110 - "Response is Stale"');
				assert.equal(up.count(path) - before, 2, 'one attempt plus one retry');
				assert.equal(await metric(srv, 'attest_collateral_requests_total', 'kind="tdx_tcb",result="stale"'), 1);
				assert.equal(await metric(srv, 'attest_collateral_upstream_fetches_total', 'kind="tdx_tcb",result="error"'), 2);
				assert.match(srv.stderr(), /serving the cached copy .*stale/);
				const key = { teeType: 'TEE_TYPE_TDX', fmspc: b64(Buffer.from(TDX_FMSPC, 'hex')), pckCa: 'PCK_CA_PLATFORM' };
				let g = await connect(srv, 'GetCollateral', { key });
				assert.equal(g.body.code, 'unavailable', JSON.stringify(g.body));
				assert.match(g.body.message, /allow_stale/);
				g = await connect(srv, 'GetCollateral', { key, allowStale: true });
				assert.equal(g.status, 200, JSON.stringify(g.body));
				assert.equal(g.body.stale, true);
			} finally {
				await srv.stop();
			}
			srv = await startAttest(pccsConfig(tmp.dir, 'd', up.url, T_STALE_4D));
			try {
				const r = await get(srv, path);
				assert.equal(r.status, 503, r.text);
				assert.match(r.text, /HTTP 503/);
				assert.equal(await metric(srv, 'attest_collateral_requests_total', 'kind="tdx_tcb",result="error"'), 1);
			} finally {
				await srv.stop();
			}
		} finally {
			up.failing = false;
		}
	});

	test('an unreachable upstream with nothing cached is a clear 503', async () => {
		const port = await deadPort();
		const dir = join(tmp.dir, 'dead');
		mkdirSync(dir);
		const srv = await startAttest(pccsConfig(dir, 'e', `http://127.0.0.1:${port}`, T_FRESH));
		try {
			const r = await get(srv, `/tdx/certification/v4/tcb?fmspc=${TDX_FMSPC}`);
			assert.equal(r.status, 503, r.text);
			assert.match(r.text, /tdx_tcb upstream: .*(connect|Connection refused)/i);
		} finally {
			await srv.stop();
		}
	});

	describe('offline mode', () => {
		test('dcap-qvl collateral JSON files serve the PCCS API without any upstream', async () => {
			const dir = join(tmp.dir, 'off1');
			mkdirSync(dir);
			const conf = writeConfig(dir, 'off', [
				'collateral.mode = offline',
				`collateral.dir = ${join(DATA, 'dcap-qvl')}`,
				`collateral.cache_dir = ${join(dir, 'none')}`,
				`collateral.test_now = ${T_P01}`,
			]);
			const before = up.total();
			const srv = await startAttest(conf);
			try {
				let r = await get(srv, `/tdx/certification/v4/tcb?fmspc=${TDX_FMSPC.toLowerCase()}`);
				assert.equal(r.status, 200, r.text);
				assert.equal(r.text, up.data.tcb.tdx[TDX_FMSPC].body, 'rebuilt exactly as the PCS body');
				assert.equal(decodeURIComponent(r.headers.get('tcb-info-issuer-chain')), up.data.tcb.tdx[TDX_FMSPC].chain);
				r = await get(srv, `/sgx/certification/v4/tcb?fmspc=${SGX_FMSPC}`);
				assert.equal(r.status, 200, r.text);
				r = await get(srv, '/sgx/certification/v4/qe/identity');
				assert.equal(r.text, up.data.qe.sgx.body);
				r = await get(srv, '/tdx/certification/v4/tcb?fmspc=00906ED50000');
				assert.equal(r.status, 404, r.text);
				const quote = readFileSync(join(DATA, 'dcap-qvl/tdx_quote'));
				const col = await dcap.getCollateral(base(srv), quote);
				assert.equal(dcap.verify(quote, col, T_P01).status, 'UpToDate');
				assert.equal(up.total(), before);
			} finally {
				await srv.stop();
			}
		});

		test('the documented directory layout', async () => {
			const dir = join(tmp.dir, 'off2');
			const auto = loadCollateral('automata/collateral_tdx_90c06f000000_2506.json');
			mkdirSync(join(dir, 'tdx', 'tcb'), { recursive: true });
			mkdirSync(join(dir, 'sgx', 'pckcrl'), { recursive: true });
			const tcbBody = readFileSync(join(DATA, 'automata/raw/0625_tcbinfov3_90C06F000000.json'));
			writeFileSync(join(dir, 'tdx', 'tcb', '90C06F000000.json'), tcbBody);
			writeFileSync(join(dir, 'tdx', 'tcb', '90C06F000000.issuer-chain.pem'), auto.tcb_info_issuer_chain);
			writeFileSync(join(dir, 'tdx', 'tcb', '00806F050000.json'), tcbBody);   // no chain: skipped
			writeFileSync(join(dir, 'sgx', 'pckcrl', 'platform.crl'), readFileSync(join(DATA, 'automata/raw/v5test_platformCrl.der')));
			writeFileSync(join(dir, 'sgx', 'pckcrl', 'platform.issuer-chain.pem'), auto.pck_crl_issuer_chain);
			writeFileSync(join(dir, 'sgx', 'rootcacrl.crl'), auto.root_ca_crl);   // hex text is accepted too
			const conf = writeConfig(dir, 'off', [
				'collateral.mode = offline',
				`collateral.dir = ${dir}`,
				`collateral.cache_dir = ${join(dir, 'none')}`,
				`collateral.test_now = ${Date.UTC(2025, 5, 20) / 1000}`,
			]);
			const srv = await startAttest(conf);
			try {
				let r = await get(srv, '/tdx/certification/v4/tcb?fmspc=90c06f000000');
				assert.equal(r.status, 200, r.text);
				assert.deepEqual(r.body, tcbBody);
				assert.equal(decodeURIComponent(r.headers.get('tcb-info-issuer-chain')), auto.tcb_info_issuer_chain);
				r = await get(srv, '/sgx/certification/v4/pckcrl?ca=platform&encoding=der');
				assert.equal(r.status, 200, r.text);
				assert.equal(r.body.toString('hex'), auto.pck_crl);
				r = await get(srv, '/sgx/certification/v4/rootcacrl');
				assert.equal(r.text, auto.root_ca_crl);
				r = await get(srv, '/tdx/certification/v4/tcb?fmspc=00806F050000');
				assert.equal(r.status, 404, r.text);
				assert.match(srv.stderr(), /ignoring offline file .*00806F050000\.json: its \.issuer-chain\.pem is missing/);
				r = await get(srv, '/tdx/certification/v4/qe/identity');
				assert.equal(r.status, 404, r.text);
			} finally {
				await srv.stop();
			}
		});
	});
});
