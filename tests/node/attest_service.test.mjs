// SPDX-License-Identifier: Apache-2.0
// `dstack-attest serve`: Verify, VerifyBatch, Inspect and GetInfo through @connectrpc/connect-node
// (descriptor set, JSON and binary) and @grpc/grpc-js (proto-loader on attest.proto). Simulator
// evidence against an offline collateral directory and the configured dev roots, the real P01 quote
// with request-supplied collateral at its evaluation time, SEV-SNP from the cache and from
// cert_chain, the verdict cache (metric), a mixed batch, and collateral fetched asynchronously from
// a fake PCCS (one fetch for concurrent requests, deadlines). Everything on 127.0.0.1.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { fromBinary, createFileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { createClient, ConnectError, Code } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';

import { startServer, tempDir, sourceDir } from './lib/harness.mjs';

const BIN = process.env.DS_ATTEST_BIN || join(sourceDir, 'build', 'services', 'attest', 'dstack-attest');
const SIM_GEN = process.env.DS_SIM_GEN || join(sourceDir, 'build', 'tests', 'tools', 'ds_sim_gen');
const DESCRIPTORS = process.env.DS_DESCRIPTORS || join(sourceDir, 'build', 'proto', 'all.pb');
const DATA = process.env.DS_ATTEST_TESTDATA || join(sourceDir, '..', 'shared', 'testdata', 'attestation');
const EXPECTED = JSON.parse(readFileSync(join(DATA, 'expected.json'), 'utf8'));
const P01 = EXPECTED.dcap_cases.find((c) => c.id === 'P01');
const S03 = EXPECTED.snp_cases.find((c) => c.id === 'S03');

// Enum numbers (common.proto).
const KIND = { UNSPECIFIED: 0, TDX_QUOTE: 1, SGX_QUOTE: 2, SEV_SNP_REPORT: 3, DSTACK_QUOTE: 4, DSTACK_ATTESTATION: 5 };
const STATUS = { UP_TO_DATE: 1 };
const TEE = { TDX: 1, SGX: 2, SEV_SNP: 3 };

const sha256 = (...p) => createHash('sha256').update(Buffer.concat(p.map((x) => Buffer.from(x)))).digest();
const sha384 = (...p) => createHash('sha384').update(Buffer.concat(p.map((x) => Buffer.from(x)))).digest();
const hex = (b) => Buffer.from(b).toString('hex');

function run(bin, args) {
	const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 60000 });
	assert.equal(r.status, 0, `${bin} ${args.join(' ')}: ${r.stderr}`);
	return r;
}

// --- clients ---

const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTORS)));
const attestService = registry.getService('dstack.attest.v1.Attest');

const grpcDef = protoLoader.loadSync(join(sourceDir, 'proto/dstack/attest/v1/attest.proto'), {
	includeDirs: [join(sourceDir, 'proto'), '/usr/include'],
	keepCase: true,
	longs: String,
	enums: String,
	defaults: true,
	oneofs: true,
});
const AttestGrpc = grpc.loadPackageDefinition(grpcDef).dstack.attest.v1.Attest;

function grpcCall(client, method, req, deadlineMs = 20000) {
	return new Promise((res, rej) => {
		client[method](req, { deadline: Date.now() + deadlineMs }, (err, resp) => (err ? rej(err) : res(resp)));
	});
}

function base(srv) {
	return `http://127.0.0.1:${srv.port}`;
}

async function metric(srv, name, labels) {
	const text = await (await fetch(base(srv) + '/metrics')).text();
	const want = labels ? `${name}{${labels}} ` : `${name} `;
	const line = text.split('\n').find((l) => l.startsWith(want));
	return line ? Number(line.slice(want.length)) : 0;
}

// --- evidence ---

const RUNTIME = 0x08000001;
const APP_ID = Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex');
const COMPOSE = sha256('app-compose.json of the service test');
const INSTANCE = Buffer.from('ffeeddccbbaa99887766554433221100ffeeddcc', 'hex');
const KP = Buffer.from('{"name":"none","id":""}');

function digest(name, payload) {
	const t = Buffer.alloc(4);
	t.writeUInt32LE(RUNTIME);
	return sha384(t, ':', name, ':', payload);
}

function events(compose = COMPOSE) {
	return [
		['system-preparing', Buffer.alloc(0)], ['app-id', APP_ID], ['compose-hash', compose],
		['instance-id', INSTANCE], ['boot-mr-done', Buffer.alloc(0)], ['key-provider', KP],
		['system-ready', Buffer.alloc(0)],
	];
}

function eventLog(evs) {
	return JSON.stringify(evs.map(([event, p]) => ({ imr: 3, event_type: RUNTIME, digest: '', event, event_payload: hex(p) })));
}

function rtmr3(evs) {
	let mr = Buffer.alloc(48);
	for (const [n, p] of evs)
		mr = sha384(mr, digest(n, p));
	return mr;
}

/** dcap-qvl collateral JSON as IntelCollateral (connect init shape). */
function intelCollateral(c) {
	return {
		pckCrlIssuerChain: c.pck_crl_issuer_chain,
		rootCaCrl: Buffer.from(c.root_ca_crl, 'hex'),
		pckCrl: Buffer.from(c.pck_crl, 'hex'),
		tcbInfoIssuerChain: c.tcb_info_issuer_chain,
		tcbInfo: c.tcb_info,
		tcbInfoSignature: Buffer.from(c.tcb_info_signature, 'hex'),
		qeIdentityIssuerChain: c.qe_identity_issuer_chain,
		qeIdentity: c.qe_identity,
		qeIdentitySignature: Buffer.from(c.qe_identity_signature, 'hex'),
	};
}

/** The same for grpc-js (keepCase: proto field names). */
function intelCollateralGrpc(c) {
	return {
		pck_crl_issuer_chain: c.pck_crl_issuer_chain,
		root_ca_crl: Buffer.from(c.root_ca_crl, 'hex'),
		pck_crl: Buffer.from(c.pck_crl, 'hex'),
		tcb_info_issuer_chain: c.tcb_info_issuer_chain,
		tcb_info: c.tcb_info,
		tcb_info_signature: Buffer.from(c.tcb_info_signature, 'hex'),
		qe_identity_issuer_chain: c.qe_identity_issuer_chain,
		qe_identity: c.qe_identity,
		qe_identity_signature: Buffer.from(c.qe_identity_signature, 'hex'),
	};
}

function pemCerts(text) {
	return text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g).map((p) => new X509Certificate(p).raw);
}

// --- fixture: files, offline directory, the service ---

const NOW = Math.floor(Date.now() / 1000);

function makeFixture(dir) {
	const f = (n) => join(dir, n);
	const evs = events();
	// A plain sim quote, and one whose RTMR3 is the replay of our event log (same PKI, same collateral).
	run(BIN, ['sim-quote', '--now', String(NOW), '--quote', f('sim.quote'), '--collateral', f('sim.coll.json'),
		'--dev-root', f('dev-root.der'), '--report-data', 'ee'.repeat(64)]);
	run(BIN, ['sim-quote', '--now', String(NOW), '--quote', f('dstack.quote'), '--rtmr3', hex(rtmr3(evs))]);
	// SEV-SNP from the same seed (ds_sim_gen writes the AMD side).
	run(SIM_GEN, ['--now', String(NOW), '--quote', f('unused.quote'), '--collateral', f('unused.json'),
		'--root', f('unused.der'), '--snp-report', f('snp.bin'), '--snp-vcek', f('vcek.der'),
		'--snp-chain', f('amd-chain.pem'), '--snp-ark', f('dev-ark.der')]);
	const snp = readFileSync(f('snp.bin'));
	const reportedTcb = snp.readBigUInt64LE(0x180);
	const chipId = snp.subarray(0x1a0, 0x1e0);

	// Offline layout: the sim DCAP bundle as a dcap-qvl file, the AMD artefacts by product / hwid / TCB.
	const off = f('offline');
	mkdirSync(join(off, 'amd', 'Milan', 'vcek', hex(chipId)), { recursive: true });
	writeFileSync(join(off, 'sim.json'), readFileSync(f('sim.coll.json')));
	writeFileSync(join(off, 'amd', 'Milan', 'cert_chain.pem'), readFileSync(f('amd-chain.pem')));
	writeFileSync(join(off, 'amd', 'Milan', 'vcek', hex(chipId), reportedTcb.toString(16).padStart(16, '0') + '.der'),
		readFileSync(f('vcek.der')));
	return {
		simQuote: readFileSync(f('sim.quote')),
		dstackQuote: readFileSync(f('dstack.quote')),
		simColl: JSON.parse(readFileSync(f('sim.coll.json'), 'utf8')),
		eventLog: eventLog(evs),
		badEventLog: eventLog(events(sha256('tampered'))),
		snp,
		snpChain: [readFileSync(f('vcek.der')), ...pemCerts(readFileSync(f('amd-chain.pem'), 'utf8'))],
		devRoot: f('dev-root.der'),
		devArk: f('dev-ark.der'),
		offline: off,
	};
}

function writeConfig(dir, name, lines) {
	const p = join(dir, `${name}.conf`);
	writeFileSync(p, ['listen = tcp://127.0.0.1:0', 'log.level = info', 'timeouts.drain = 2s', ...lines, ''].join('\n'));
	return p;
}

describe('dstack-attest serve: Verify, VerifyBatch, Inspect, GetInfo', () => {
	let tmp, fx, srv, connectJson, connectBin, grpcClient;

	before(async () => {
		assert.ok(existsSync(BIN), `dstack-attest at ${BIN} (set DS_ATTEST_BIN)`);
		assert.ok(existsSync(SIM_GEN), `ds_sim_gen at ${SIM_GEN} (set DS_SIM_GEN)`);
		tmp = tempDir('ds-attest-svc-');
		fx = makeFixture(tmp.dir);
		const conf = writeConfig(tmp.dir, 'offline', [
			'collateral.mode = offline',
			`collateral.dir = ${fx.offline}`,
			`collateral.cache_dir = ${join(tmp.dir, 'cache')}`,
			`trust.dev_root = ${fx.devRoot}`,
			`trust.dev_ark = ${fx.devArk}`,
		]);
		srv = await startServer(BIN, ['serve', '-c', conf]);
		connectJson = createClient(attestService, createConnectTransport({ httpVersion: '1.1', baseUrl: base(srv) }));
		connectBin = createClient(attestService,
			createConnectTransport({ httpVersion: '1.1', baseUrl: base(srv), useBinaryFormat: true }));
		grpcClient = new AttestGrpc(`127.0.0.1:${srv.port}`, grpc.credentials.createInsecure());
	});

	after(async () => {
		grpcClient?.close();
		await srv?.stop();
		tmp?.cleanup();
	});

	const simReq = (extra = {}) => ({
		evidence: { kind: KIND.TDX_QUOTE, quote: fx.simQuote },
		policy: { allowDevRoot: true },
		...extra,
	});

	test('GetInfo: trust roots with the dev ones flagged, default policy, limits (connect and grpc-js)', async () => {
		const info = await connectJson.getInfo({});
		assert.equal(info.service.name, 'dstack-attest');
		assert.equal(info.devRootEnabled, true);
		const names = info.trustRoots.map((r) => r.name);
		assert.ok(names.includes('Intel SGX Root CA'));
		assert.ok(names.includes('ARK-Milan'));
		const dev = info.trustRoots.filter((r) => r.dev);
		assert.equal(dev.length, 2, 'Intel dev root and AMD dev ARK');
		assert.deepEqual(Buffer.from(dev[0].sha256), sha256(readFileSync(fx.devRoot)));
		assert.ok(info.trustRoots.filter((r) => !r.dev).every((r) => !/Development/.test(r.name)));
		assert.deepEqual(info.defaultPolicy.acceptedTcbStatuses, [STATUS.UP_TO_DATE]);
		assert.equal(info.maxBatch, 64);
		assert.ok(info.verdictCacheCapacity > 0);
		assert.deepEqual(info.evidenceKinds, [KIND.TDX_QUOTE, KIND.SGX_QUOTE, KIND.SEV_SNP_REPORT, KIND.DSTACK_QUOTE]);
		const g = await grpcCall(grpcClient, 'GetInfo', {});
		assert.equal(g.dev_root_enabled, true);
		assert.equal(g.trust_roots.filter((r) => r.dev).length, 2);
		assert.equal(g.max_batch, 64);
	});

	test('Verify: a sim quote is accepted and marked dev (connect JSON, connect binary, grpc-js)', async () => {
		for (const c of [connectJson, connectBin]) {
			const { verdict: v } = await c.verify(simReq({ bypassCache: true }));
			assert.equal(v.ok, true, JSON.stringify(v.error));
			assert.equal(v.claims.dev, true);
			assert.equal(v.claims.teeType, TEE.TDX);
			assert.equal(v.claims.tcbStatus, STATUS.UP_TO_DATE);
			assert.equal(hex(v.claims.reportData), 'ee'.repeat(64));
			assert.deepEqual(Buffer.from(v.evidenceSha256).length, 32);
			assert.ok(v.warnings.some((w) => /development/.test(w)));
			assert.ok(v.evaluatedAtUnix >= BigInt(NOW));
		}
		const g = await grpcCall(grpcClient, 'Verify', {
			evidence: { kind: 'EVIDENCE_KIND_TDX_QUOTE', quote: fx.simQuote }, policy: { allow_dev_root: true },
		});
		assert.equal(g.verdict.ok, true);
		assert.equal(g.verdict.claims.dev, true);
		assert.equal(g.verdict.claims.tcb_status, 'TCB_STATUS_UP_TO_DATE');
	});

	test('Verify: without allow_dev_root the same quote is rejected, and the claims still say dev', async () => {
		const { verdict: v } = await connectJson.verify({ evidence: { kind: KIND.TDX_QUOTE, quote: fx.simQuote } });
		assert.equal(v.ok, false);
		assert.equal(v.error.name, 'ERR_ATTEST_DEV_ROOT');
		assert.equal(v.error.code, -347);
		assert.equal(v.claims.dev, true);
	});

	test('verdict cache: a repeat is served from it (metric), bypass_cache re-verifies', async () => {
		const req = simReq({ policy: { allowDevRoot: true, allowDebug: false, minTcbEvaluationDataNumber: 1 } });
		const hits0 = await metric(srv, 'attest_verdict_cache_hits_total');
		const first = (await connectJson.verify(req)).verdict;
		assert.equal(first.ok, true);
		assert.equal(first.cached, false);
		const again = (await connectBin.verify(req)).verdict;
		assert.equal(again.cached, true);
		assert.deepEqual(again.evidenceSha256, first.evidenceSha256);
		assert.equal(again.evaluatedAtUnix, first.evaluatedAtUnix, 'the cached verdict keeps its evaluation time');
		assert.equal(await metric(srv, 'attest_verdict_cache_hits_total'), hits0 + 1);
		const bypass = (await connectJson.verify({ ...req, bypassCache: true })).verdict;
		assert.equal(bypass.cached, false);
		// Another policy is another key.
		const other = (await connectJson.verify(simReq({ policy: { allowDevRoot: true, allowAnyAdvisory: true } }))).verdict;
		assert.equal(other.cached, false);
		assert.ok(await metric(srv, 'attest_verify_total', 'result="accepted",tee="tdx"') >= 4);
		assert.ok(await metric(srv, 'attest_verify_total', 'result="rejected",tee="tdx"') >= 1);
	});

	test('Verify: the real P01 quote with request collateral at its evaluation time', async () => {
		const coll = JSON.parse(readFileSync(join(DATA, P01.collateral), 'utf8'));
		const quote = readFileSync(join(DATA, P01.quote));
		const req = { evidence: { kind: KIND.TDX_QUOTE, quote }, collateral: { intel: intelCollateral(coll) },
			evaluateAtUnix: BigInt(P01.now) };
		const { verdict: v } = await connectJson.verify(req);
		assert.equal(v.ok, true, JSON.stringify(v.error));
		assert.equal(v.claims.dev, false);
		assert.equal(v.claims.tcbStatus, STATUS.UP_TO_DATE);
		assert.equal(v.evaluatedAtUnix, BigInt(P01.now));
		assert.equal(hex(v.claims.fmspc), 'b0c06f000000');
		assert.equal((await connectJson.verify(req)).verdict.cached, true, 'explicit-time verdicts are cached too');
		// The service clock is past the collateral's nextUpdate.
		const late = (await connectJson.verify({ ...req, evaluateAtUnix: 0n })).verdict;
		assert.equal(late.ok, false);
		assert.match(late.error.name, /EXPIRED/);
		const g = await grpcCall(grpcClient, 'Verify', {
			evidence: { kind: 'EVIDENCE_KIND_TDX_QUOTE', quote }, collateral: { intel: intelCollateralGrpc(coll) },
			evaluate_at_unix: String(P01.now),
		});
		assert.equal(g.verdict.ok, true);
		assert.equal(g.verdict.claims.tcb_status, 'TCB_STATUS_UP_TO_DATE');
	});

	test('Verify: DSTACK_QUOTE evidence gives the dstack claims; a tampered event is an RTMR mismatch', async () => {
		const ev = { kind: KIND.DSTACK_QUOTE, quote: fx.dstackQuote, eventLog: fx.eventLog };
		const { verdict: v } = await connectJson.verify({ evidence: ev, policy: { allowDevRoot: true },
			includeRuntimeEvents: true });
		assert.equal(v.ok, true, JSON.stringify(v.error));
		const c = v.claims;
		assert.deepEqual(Buffer.from(c.appId), APP_ID);
		assert.deepEqual(Buffer.from(c.composeHash), COMPOSE);
		assert.deepEqual(Buffer.from(c.instanceId), INSTANCE);
		assert.deepEqual(Buffer.from(c.keyProviderInfo), KP);
		assert.equal(c.keyProviderName, 'none');
		assert.equal(c.eventLogVerified, true);
		assert.equal(c.teeVariant, 'dstack-tdx');
		assert.equal(c.runtimeEvents.length, 7);
		assert.equal(c.runtimeEvents[1].event, 'app-id');
		assert.deepEqual(Buffer.from(c.mrAggregated),
			sha256(c.mrtd, c.rtmr0, c.rtmr1, c.rtmr2, rtmr3(events())));
		// The policy can pin the identity claims.
		const pinned = (await connectJson.verify({ evidence: ev, policy: { allowDevRoot: true,
			expectedAppId: [APP_ID], expectedComposeHash: [sha256('other'), COMPOSE] } })).verdict;
		assert.equal(pinned.ok, true);
		const wrong = (await connectJson.verify({ evidence: ev, policy: { allowDevRoot: true,
			expectedComposeHash: [sha256('other')] } })).verdict;
		assert.equal(wrong.error.name, 'ERR_ATTEST_MEASUREMENT');
		const bad = (await connectJson.verify({ evidence: { ...ev, eventLog: fx.badEventLog },
			policy: { allowDevRoot: true } })).verdict;
		assert.equal(bad.ok, false);
		assert.equal(bad.error.name, 'ERR_ATTEST_RTMR_MISMATCH');
		// The structured `events` form is the same log.
		const structured = JSON.parse(fx.eventLog).map((e) => ({ imr: 3, eventType: RUNTIME, event: e.event,
			eventPayload: Buffer.from(e.event_payload, 'hex') }));
		const s = (await connectJson.verify({ evidence: { kind: KIND.DSTACK_QUOTE, quote: fx.dstackQuote,
			events: structured }, policy: { allowDevRoot: true } })).verdict;
		assert.equal(s.ok, true, JSON.stringify(s.error));
		assert.deepEqual(s.claims.appId, v.claims.appId);
		// DSTACK_QUOTE requires the log to carry the identity.
		const noId = (await connectJson.verify({ evidence: { kind: KIND.DSTACK_QUOTE, quote: fx.simQuote, eventLog: '[]' },
			policy: { allowDevRoot: true } })).verdict;
		assert.equal(noId.ok, false);
	});

	test('Inspect: claims and replay without collateral (connect and grpc-js)', async () => {
		const r = await connectJson.inspect({ evidence: { kind: KIND.DSTACK_QUOTE, quote: fx.dstackQuote,
			eventLog: fx.eventLog } });
		assert.deepEqual(Buffer.from(r.claims.appId), APP_ID);
		assert.deepEqual(Buffer.from(r.claims.composeHash), COMPOSE);
		assert.equal(r.replays.length, 1);
		assert.equal(r.replays[0].index, 3);
		assert.equal(r.replays[0].matches, true);
		assert.deepEqual(Buffer.from(r.replays[0].replayed), rtmr3(events()));
		assert.equal(r.events.length, 7);
		assert.equal(r.collateralKey.teeType, TEE.TDX);
		assert.equal(hex(r.collateralKey.fmspc), 'b0c06f000000');
		assert.equal(r.claims.tcbStatus, 0, 'no TCB status without collateral');
		const bad = await connectJson.inspect({ evidence: { kind: KIND.DSTACK_QUOTE, quote: fx.dstackQuote,
			eventLog: fx.badEventLog } });
		assert.equal(bad.replays[0].matches, false);
		assert.ok(bad.warnings.some((w) => /RTMR3/.test(w)));
		const g = await grpcCall(grpcClient, 'Inspect', { evidence: { kind: 'EVIDENCE_KIND_SEV_SNP_REPORT',
			snp_report: fx.snp } });
		assert.equal(g.claims.tee_type, 'TEE_TYPE_SEV_SNP');
		assert.equal(g.claims.snp_product, 'Milan');
		assert.equal(g.collateral_key.snp_product, 'Milan');
		await assert.rejects(connectJson.inspect({ evidence: { kind: KIND.TDX_QUOTE, quote: Buffer.from('junk') } }),
			(e) => e instanceof ConnectError && e.code === Code.InvalidArgument);
	});

	test('Verify: SEV-SNP from the offline KDS cache, from cert_chain, and the real S03 report', async () => {
		const fromCache = (await connectJson.verify({ evidence: { kind: KIND.SEV_SNP_REPORT, snpReport: fx.snp },
			policy: { allowDevRoot: true } })).verdict;
		assert.equal(fromCache.ok, true, JSON.stringify(fromCache.error));
		assert.equal(fromCache.claims.dev, true);
		assert.equal(fromCache.claims.teeType, TEE.SEV_SNP);
		assert.equal(fromCache.claims.snpProduct, 'Milan');
		const noDev = (await connectJson.verify({ evidence: { kind: KIND.SEV_SNP_REPORT, snpReport: fx.snp } })).verdict;
		assert.equal(noDev.error.name, 'ERR_ATTEST_DEV_ROOT');
		const chain = (await connectJson.verify({ evidence: { kind: KIND.SEV_SNP_REPORT, snpReport: fx.snp,
			certChain: fx.snpChain }, policy: { allowDevRoot: true } })).verdict;
		assert.equal(chain.ok, true, JSON.stringify(chain.error));
		const s03 = readFileSync(join(DATA, S03.report));
		const certs = [...pemCerts(readFileSync(join(DATA, S03.vcek), 'utf8')),
			...pemCerts(readFileSync(join(DATA, 'teekit/sev-gcp-cert-chain.pem'), 'utf8'))];
		const real = (await connectJson.verify({ evidence: { kind: KIND.SEV_SNP_REPORT, snpReport: s03, certChain: certs },
			evaluateAtUnix: BigInt(Date.parse(S03.now_iso) / 1000) })).verdict;
		assert.equal(real.ok, true, JSON.stringify(real.error));
		assert.equal(real.claims.dev, false);
		assert.equal(hex(real.claims.snpMeasurement), S03.fields.measurement);
		assert.equal(hex(real.claims.deviceId), hex(sha256(Buffer.from(S03.fields.chip_id, 'hex'))));
	});

	test('VerifyBatch: mixed results in request order, each item on its own', async () => {
		const coll = JSON.parse(readFileSync(join(DATA, P01.collateral), 'utf8'));
		const items = [
			simReq(),
			{ evidence: { kind: KIND.TDX_QUOTE, quote: fx.simQuote } },
			{ evidence: { kind: KIND.TDX_QUOTE, quote: readFileSync(join(DATA, P01.quote)) },
				collateral: { intel: intelCollateral(coll) }, evaluateAtUnix: BigInt(P01.now) },
			{ evidence: { kind: KIND.DSTACK_QUOTE, quote: fx.dstackQuote, eventLog: fx.badEventLog }, policy: { allowDevRoot: true } },
			{ evidence: { kind: KIND.UNSPECIFIED, quote: fx.simQuote } },
			{ evidence: { kind: KIND.SEV_SNP_REPORT, snpReport: fx.snp }, policy: { allowDevRoot: true } },
			{ evidence: { kind: KIND.TDX_QUOTE, quote: fx.simQuote.subarray(0, 700) }, policy: { allowDevRoot: true } },
		];
		const { verdicts } = await connectBin.verifyBatch({ requests: items });
		assert.equal(verdicts.length, items.length);
		assert.deepEqual(verdicts.map((v) => v.ok), [true, false, true, false, false, true, false]);
		assert.equal(verdicts[1].error.name, 'ERR_ATTEST_DEV_ROOT');
		assert.equal(verdicts[3].error.name, 'ERR_ATTEST_RTMR_MISMATCH');
		assert.equal(verdicts[4].error.name, 'ERR_INVALID_ARG', 'a malformed item fails alone');
		assert.equal(verdicts[6].error.name, 'ERR_ATTEST_QUOTE_FORMAT');
		const g = await grpcCall(grpcClient, 'VerifyBatch', { requests: [
			{ evidence: { kind: 'EVIDENCE_KIND_TDX_QUOTE', quote: fx.simQuote }, policy: { allow_dev_root: true } },
			{ evidence: { kind: 'EVIDENCE_KIND_TDX_QUOTE', quote: fx.simQuote } },
		] });
		assert.deepEqual(g.verdicts.map((v) => v.ok), [true, false]);
		await assert.rejects(connectJson.verifyBatch({ requests: [] }),
			(e) => e instanceof ConnectError && e.code === Code.InvalidArgument);
		await assert.rejects(connectJson.verifyBatch({ requests: Array.from({ length: 65 }, () => simReq()) }),
			(e) => e instanceof ConnectError && e.code === Code.InvalidArgument && /1\.\.64/.test(e.rawMessage));
	});

	test('malformed requests are RPC errors, not verdicts', async () => {
		const invalid = (e) => e instanceof ConnectError && e.code === Code.InvalidArgument;
		await assert.rejects(connectJson.verify({}), invalid);
		await assert.rejects(connectJson.verify({ evidence: { kind: KIND.TDX_QUOTE } }), invalid);
		await assert.rejects(connectJson.verify({ evidence: { kind: KIND.SGX_QUOTE, quote: fx.simQuote,
			eventLog: '[]' } }), invalid);
		await assert.rejects(connectJson.verify(simReq({ policy: { acceptedTcbStatuses: [9] } })), invalid);
		await assert.rejects(connectJson.verify(simReq({ policy: { expectedMrtd: [Buffer.alloc(47)] } })), invalid);
		await assert.rejects(connectJson.verify({ evidence: { kind: KIND.DSTACK_ATTESTATION, attestation: Buffer.from('x') } }),
			(e) => e instanceof ConnectError && e.code === Code.Unimplemented);
		await assert.rejects(grpcCall(grpcClient, 'Verify', { evidence: { kind: 'EVIDENCE_KIND_UNSPECIFIED' } }),
			(e) => e.code === grpc.status.INVALID_ARGUMENT);
	});
});

// --- collateral fetched on demand ------------------------------------------------------------------

/** A PCCS serving one dcap-qvl collateral bundle, counting requests; optionally slow. */
class FakePccs {
	constructor(coll) {
		this.c = coll;
		this.counts = new Map();
		this.delayMs = 0;
	}

	async handle(req, res) {
		const u = new URL(req.url, 'http://x');
		this.counts.set(u.pathname, (this.counts.get(u.pathname) || 0) + 1);
		if (this.delayMs)
			await sleep(this.delayMs);
		const c = this.c;
		const send = (body, headers) => {
			res.writeHead(200, headers);
			res.end(body);
		};
		if (/\/tdx\/certification\/v4\/tcb$/.test(u.pathname))
			send(`{"tcbInfo":${c.tcb_info},"signature":"${c.tcb_info_signature}"}`,
				{ 'content-type': 'application/json', 'TCB-Info-Issuer-Chain': encodeURIComponent(c.tcb_info_issuer_chain) });
		else if (/\/tdx\/certification\/v4\/qe\/identity$/.test(u.pathname))
			send(`{"enclaveIdentity":${c.qe_identity},"signature":"${c.qe_identity_signature}"}`,
				{ 'content-type': 'application/json',
					'SGX-Enclave-Identity-Issuer-Chain': encodeURIComponent(c.qe_identity_issuer_chain) });
		else if (/\/sgx\/certification\/v4\/pckcrl$/.test(u.pathname))
			send(Buffer.from(c.pck_crl, 'hex'), { 'content-type': 'application/pkix-crl',
				'SGX-PCK-CRL-Issuer-Chain': encodeURIComponent(c.pck_crl_issuer_chain) });
		else if (/\/sgx\/certification\/v4\/rootcacrl$/.test(u.pathname))
			send(c.root_ca_crl, { 'content-type': 'text/plain' });
		else {
			res.writeHead(404);
			res.end();
		}
	}

	total() {
		let n = 0;
		for (const v of this.counts.values())
			n += v;
		return n;
	}

	async start() {
		this.server = http.createServer((q, s) => { this.handle(q, s).catch(() => s.destroy()); });
		await new Promise((r) => this.server.listen(0, '127.0.0.1', r));
		this.url = `http://127.0.0.1:${this.server.address().port}`;
	}

	async stop() {
		this.server.closeAllConnections();
		await new Promise((r) => this.server.close(r));
	}
}

describe('dstack-attest serve: collateral fetched asynchronously (pccs mode)', () => {
	let tmp, fx, up, srv, client;

	before(async () => {
		tmp = tempDir('ds-attest-svc-pccs-');
		fx = makeFixture(tmp.dir);
		up = new FakePccs(fx.simColl);
		await up.start();
		const conf = writeConfig(tmp.dir, 'pccs', [
			'collateral.mode = pccs',
			`collateral.pccs_url = ${up.url}`,
			`collateral.amd_kds_url = ${up.url}`,
			`collateral.cache_dir = ${join(tmp.dir, 'cache-pccs')}`,
			'collateral.timeout = 5s',
			'collateral.retries = 0',
			'collateral.error_holdoff = 0',
			`trust.dev_root = ${fx.devRoot}`,
		]);
		srv = await startServer(BIN, ['serve', '-c', conf]);
		client = createClient(attestService, createConnectTransport({ httpVersion: '1.1', baseUrl: base(srv) }));
	});

	after(async () => {
		await srv?.stop();
		await up?.stop();
		tmp?.cleanup();
	});

	test('concurrent first Verifies wait for one fetch per artefact; later ones are answered from memory', async () => {
		up.delayMs = 200;
		const req = { evidence: { kind: KIND.TDX_QUOTE, quote: fx.simQuote }, policy: { allowDevRoot: true } };
		const vs = await Promise.all(Array.from({ length: 5 }, () => client.verify(req)));
		for (const { verdict } of vs) {
			assert.equal(verdict.ok, true, JSON.stringify(verdict.error));
			assert.equal(verdict.claims.dev, true);
		}
		assert.equal(up.total(), 4, 'TCB info, QE identity, PCK CRL, Root CA CRL: once each');
		up.delayMs = 0;
		const again = (await client.verify({ ...req, bypassCache: true })).verdict;
		assert.equal(again.ok, true);
		assert.equal(up.total(), 4, 'no refetch while fresh');
	});

	test('a deadline shorter than the upstream fetch is DEADLINE_EXCEEDED; the service stays healthy', async () => {
		// The SEV-SNP report's VCEK is not cached: the request waits for (slow) upstream.
		up.delayMs = 1500;
		const snp = { evidence: { kind: KIND.SEV_SNP_REPORT, snpReport: fx.snp }, policy: { allowDevRoot: true } };
		await assert.rejects(client.verify(snp, { timeoutMs: 300 }),
			(e) => e instanceof ConnectError && e.code === Code.DeadlineExceeded);
		// Meanwhile other requests are answered (cached collateral).
		const other = { evidence: { kind: KIND.DSTACK_QUOTE, quote: fx.dstackQuote, eventLog: fx.eventLog },
			policy: { allowDevRoot: true } };
		const fast = (await client.verify(other, { timeoutMs: 1000 })).verdict;
		assert.equal(fast.ok, true, JSON.stringify(fast.error));
		await sleep(1600);
		up.delayMs = 0;
		// The fake KDS has no VCEK (404): a verdict naming the missing collateral, not an RPC error.
		const missing = (await client.verify(snp)).verdict;
		assert.equal(missing.ok, false);
		assert.equal(missing.error.name, 'ERR_ATTEST_COLLATERAL_MISSING');
		assert.ok(up.counts.get('/vcek/v1/Milan/cert_chain') >= 1 || [...up.counts.keys()].some((k) => k.startsWith('/vcek/')));
	});
});
