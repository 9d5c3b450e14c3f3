// SPDX-License-Identifier: Apache-2.0
// `dstack-registry serve` with the policy-file backend, through @connectrpc/connect-node (descriptor
// set; JSON and binary) and @grpc/grpc-js: CheckBoot against a line-for-line JS port of dstack's
// auth-simple checkBoot over a few hundred random BootInfos, every reason string, reload on change
// (a bad file keeps the last good policy), GetPolicy, GetKmsInfo, ListEvents paging and filters,
// Status, /readyz, the audit log across a restart, and argument errors. Everything on 127.0.0.1.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, renameSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { fromBinary, createFileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { createClient, ConnectError, Code } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';

import { startServer, tempDir, sourceDir } from './lib/harness.mjs';

const BIN = process.env.DS_REGISTRY_BIN || join(sourceDir, 'build', 'services', 'registry', 'dstack-registry');
const DESCRIPTORS = process.env.DS_DESCRIPTORS || join(sourceDir, 'build', 'proto', 'all.pb');

const KIND = { APP: 1, KMS: 2 };
const SOURCE_FILE = 2;
const EV_POLICY_FILE_LOADED = 24;

const hex = (b) => Buffer.from(b).toString('hex');
const sha256 = (b) => createHash('sha256').update(b).digest();

const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTORS)));
const registryService = registry.getService('dstack.registry.v1.Registry');

const grpcDef = protoLoader.loadSync(join(sourceDir, 'proto/dstack/registry/v1/registry.proto'), {
	includeDirs: [join(sourceDir, 'proto'), '/usr/include'],
	keepCase: true,
	longs: String,
	enums: String,
	defaults: true,
	oneofs: true,
});
const RegistryGrpc = grpc.loadPackageDefinition(grpcDef).dstack.registry.v1.Registry;

/** camelCase keys to the proto's snake_case, for grpc-js with keepCase. */
const snake = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()), v]));

function grpcCall(client, method, req) {
	return new Promise((res, rej) => {
		client[method](req, { deadline: Date.now() + 10000 }, (err, resp) => (err ? rej(err) : res(resp)));
	});
}

// --- auth-simple, ported from dstack kms/auth-simple/index.ts (ConfigBackend.checkBoot) ---

function normalizeHex(h) {
	h = h.toLowerCase();
	return h.startsWith('0x') ? h : '0x' + h;
}

/** The config with zod's defaults applied, as auth-simple's AuthConfigSchema.parse does. */
function withDefaults(c) {
	return {
		gatewayAppId: c.gatewayAppId ?? '',
		osImages: c.osImages ?? [],
		allowedTcbStatuses: c.allowedTcbStatuses ?? ['UpToDate'],
		allowedAdvisoryIds: c.allowedAdvisoryIds ?? [],
		kms: { mrAggregated: [], devices: [], allowAnyDevice: false, ...(c.kms ?? {}) },
		apps: Object.fromEntries(Object.entries(c.apps ?? {}).map(([k, v]) =>
			[k, { composeHashes: [], devices: [], allowAnyDevice: false, ...v }])),
	};
}

/** bootInfo: the webhook's camelCase JSON (hex without 0x, as the KMS sends it). */
function authSimpleCheck(config, bootInfo, isKms) {
	const c = withDefaults(config);
	const deny = (reason) => ({ isAllowed: false, reason, gatewayAppId: c.gatewayAppId });
	const osImageHash = normalizeHex(bootInfo.osImageHash);
	const deviceId = normalizeHex(bootInfo.deviceId);
	if (!c.allowedTcbStatuses.includes(bootInfo.tcbStatus))
		return deny('TCB status is not allowed');
	for (const a of bootInfo.advisoryIds)
		if (!c.allowedAdvisoryIds.includes(a))
			return deny('advisory ID is not allowed');
	if (!c.osImages.map(normalizeHex).includes(osImageHash))
		return deny('OS image is not allowed');
	if (isKms) {
		if (!c.kms.mrAggregated.map(normalizeHex).includes(normalizeHex(bootInfo.mrAggregated)))
			return deny('aggregated MR not allowed');
		if (!c.kms.allowAnyDevice) {
			const devs = c.kms.devices.map(normalizeHex);
			if (devs.length > 0 && !devs.includes(deviceId))
				return deny('KMS is not allowed to boot on this device');
		}
		return { isAllowed: true, reason: '', gatewayAppId: c.gatewayAppId };
	}
	const appId = normalizeHex(bootInfo.appId);
	const app = Object.entries(c.apps).find(([id]) => normalizeHex(id) === appId)?.[1];
	if (!app)
		return deny('app not registered');
	if (!app.composeHashes.map(normalizeHex).includes(normalizeHex(bootInfo.composeHash)))
		return deny('compose hash not allowed');
	if (!app.allowAnyDevice) {
		const devs = app.devices.map(normalizeHex);
		if (devs.length > 0 && !devs.includes(deviceId))
			return deny('app is not allowed to boot on this device');
	}
	return { isAllowed: true, reason: '', gatewayAppId: c.gatewayAppId };
}

// --- fixture ---

const h32 = (n) => '0x' + sha256(`value-${n}`).toString('hex');
const a20 = (n) => sha256(`app-${n}`).subarray(0, 20).toString('hex');

const OS = [h32('os1'), h32('os2')];
const KMS_MR = [h32('mr1')];
const KMS_DEV = [h32('kdev1')];
const APP1 = a20(1), APP2 = a20(2), APP3 = a20(3);
const C1 = h32('c1'), C2 = h32('c2'), C3 = h32('c3');
const D1 = h32('d1'), D2 = h32('d2');

const POLICY = {
	gatewayAppId: 'gateway-app',
	kmsContractAddr: '0x' + 'ab'.repeat(20),
	chainId: 31337,
	appImplementation: '0x' + 'cd'.repeat(20),
	osImages: [OS[0], OS[1].toUpperCase().replace('0X', '0x')],
	allowedTcbStatuses: ['UpToDate', 'SWHardeningNeeded'],
	allowedAdvisoryIds: ['INTEL-SA-00837', 'INTEL-SA-00615'],
	kms: { mrAggregated: KMS_MR, devices: KMS_DEV, allowAnyDevice: false },
	apps: {
		['0x' + APP1.toUpperCase()]: { composeHashes: [C1, C2], devices: [D1], allowAnyDevice: false },
		[APP2]: { composeHashes: [C3], devices: [D1], allowAnyDevice: true },
		[APP3]: { composeHashes: [C1] },
	},
};

function writePolicy(path, obj, { inPlace = false } = {}) {
	const text = typeof obj === 'string' ? obj : JSON.stringify(obj, null, 2);
	if (inPlace) {
		writeFileSync(path, text);
	} else {
		writeFileSync(path + '.tmp', text);
		renameSync(path + '.tmp', path);
	}
	return sha256(Buffer.from(text));
}

function writeConfig(dir, name, lines) {
	const p = join(dir, `${name}.conf`);
	writeFileSync(p, ['listen = tcp://127.0.0.1:0', 'log.level = info', 'timeouts.drain = 2s', ...lines, ''].join('\n'));
	return p;
}

const base = (srv) => `http://127.0.0.1:${srv.port}`;

async function metric(srv, name, labels) {
	const text = await (await fetch(base(srv) + '/metrics')).text();
	const want = labels ? `${name}{${labels}} ` : `${name} `;
	const line = text.split('\n').find((l) => l.startsWith(want));
	return line ? Number(line.slice(want.length)) : 0;
}

/** Both forms of one BootInfo: proto (bytes) for the service, webhook JSON (hex) for auth-simple. */
function bootInfo(f) {
	const b = (h) => Buffer.from((h ?? '').replace(/^0x/i, ''), 'hex');
	return {
		proto: {
			teeVariant: 'dstack-tdx', appId: b(f.appId), composeHash: b(f.composeHash), instanceId: b(f.instanceId),
			deviceId: b(f.deviceId), mrAggregated: b(f.mrAggregated), mrSystem: b(f.mrSystem),
			osImageHash: b(f.osImageHash), tcbStatus: f.tcbStatus ?? '', advisoryIds: f.advisoryIds ?? [],
		},
		webhook: {
			appId: hex(b(f.appId)), composeHash: hex(b(f.composeHash)), instanceId: hex(b(f.instanceId)),
			deviceId: hex(b(f.deviceId)), mrAggregated: hex(b(f.mrAggregated)), mrSystem: hex(b(f.mrSystem)),
			osImageHash: hex(b(f.osImageHash)), tcbStatus: f.tcbStatus ?? '', advisoryIds: f.advisoryIds ?? [],
		},
	};
}

const GOOD_APP = { appId: APP1, composeHash: C1, deviceId: D1, osImageHash: OS[0], mrAggregated: h32('x'),
	mrSystem: h32('sys'), instanceId: a20('inst'), tcbStatus: 'UpToDate', advisoryIds: [] };
const GOOD_KMS = { ...GOOD_APP, appId: '', mrAggregated: KMS_MR[0], deviceId: KMS_DEV[0] };

/** A random BootInfo drawn mostly from the policy's own values, so every branch is taken. */
function randomBoot(rnd) {
	const pick = (good, bad) => (rnd() < 0.75 ? good[Math.floor(rnd() * good.length)] : bad());
	const fresh32 = () => '0x' + randomBytes(32).toString('hex');
	return {
		appId: pick([APP1, APP2, APP3, '0x' + APP1.toUpperCase()], () => randomBytes(rnd() < 0.5 ? 20 : 19).toString('hex')),
		composeHash: pick([C1, C2, C3], fresh32),
		deviceId: pick([D1, D2, KMS_DEV[0]], () => (rnd() < 0.5 ? '' : fresh32())),
		osImageHash: pick(OS, () => (rnd() < 0.5 ? randomBytes(31).toString('hex') : fresh32())),
		mrAggregated: pick(KMS_MR, fresh32),
		mrSystem: fresh32(),
		instanceId: randomBytes(20).toString('hex'),
		tcbStatus: pick(['UpToDate', 'SWHardeningNeeded'], () => ['OutOfDate', '', 'uptodate', 'Revoked'][Math.floor(rnd() * 4)]),
		advisoryIds: rnd() < 0.6 ? [] : pick([['INTEL-SA-00837'], ['INTEL-SA-00615', 'INTEL-SA-00837']],
			() => ['INTEL-SA-00837', 'INTEL-SA-99999']),
	};
}

function mulberry32(seed) {
	return () => {
		seed = (seed + 0x6d2b79f5) | 0;
		let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

async function until(what, fn, timeoutMs = 5000) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const v = await fn();
		if (v)
			return v;
		if (Date.now() > deadline)
			throw new Error(`timed out waiting for ${what}`);
		await sleep(50);
	}
}

describe('dstack-registry serve: policy-file backend', () => {
	let tmp, policyPath, auditPath, conf, srv, connectJson, connectBin, grpcClient, policySha;

	before(async () => {
		assert.ok(existsSync(BIN), `dstack-registry at ${BIN} (set DS_REGISTRY_BIN)`);
		tmp = tempDir('ds-registry-file-');
		policyPath = join(tmp.dir, 'policy.json');
		auditPath = join(tmp.dir, 'audit.jsonl');
		policySha = writePolicy(policyPath, POLICY);
		conf = writeConfig(tmp.dir, 'registry', [`policy_file = ${policyPath}`, 'policy_poll_interval = 200ms',
			`audit_log = ${auditPath}`]);
		srv = await startServer(BIN, ['serve', '-c', conf]);
		connectJson = createClient(registryService, createConnectTransport({ httpVersion: '1.1', baseUrl: base(srv) }));
		connectBin = createClient(registryService,
			createConnectTransport({ httpVersion: '1.1', baseUrl: base(srv), useBinaryFormat: true }));
		grpcClient = new RegistryGrpc(`127.0.0.1:${srv.port}`, grpc.credentials.createInsecure());
	});

	after(async () => {
		grpcClient?.close();
		await srv?.stop();
		tmp?.cleanup();
	});

	test('CheckBoot: allowed app and KMS boots, with the gateway app id and the policy hash (connect JSON, binary, grpc-js)', async () => {
		for (const c of [connectJson, connectBin]) {
			const r = await c.checkBoot({ bootInfo: bootInfo(GOOD_APP).proto, kind: KIND.APP });
			assert.equal(r.allowed, true, r.reason);
			assert.equal(r.reason, '');
			assert.equal(r.gatewayAppId, 'gateway-app');
			assert.equal(r.source, SOURCE_FILE);
			assert.equal(r.decidedAtBlock, 0n);
			assert.equal(r.blockHash.length, 0);
			assert.deepEqual(Buffer.from(r.policySha256), policySha);
			assert.equal(r.error, undefined);
			assert.ok(Math.abs(Number(r.decidedAtUnix) - Date.now() / 1000) < 60);
			const k = await c.checkBoot({ bootInfo: bootInfo(GOOD_KMS).proto, kind: KIND.KMS });
			assert.equal(k.allowed, true, k.reason);
		}
		const g = await grpcCall(grpcClient, 'CheckBoot', { boot_info: snake(bootInfo(GOOD_APP).proto), kind: 'BOOT_KIND_APP' });
		assert.equal(g.allowed, true, g.reason);
		assert.equal(g.gateway_app_id, 'gateway-app');
		const gd = await grpcCall(grpcClient, 'CheckBoot', { boot_info: snake(bootInfo({ ...GOOD_APP, deviceId: D2 }).proto),
			kind: 'BOOT_KIND_APP' });
		assert.equal(gd.reason, 'app is not allowed to boot on this device');
		assert.equal(g.source, 'POLICY_SOURCE_POLICY_FILE');
	});

	test('CheckBoot: every auth-simple reason string', async () => {
		const cases = [
			[KIND.APP, { tcbStatus: 'OutOfDate' }, 'TCB status is not allowed'],
			[KIND.APP, { advisoryIds: ['INTEL-SA-00837', 'INTEL-SA-00001'] }, 'advisory ID is not allowed'],
			[KIND.APP, { osImageHash: h32('nope') }, 'OS image is not allowed'],
			[KIND.APP, { appId: a20(99) }, 'app not registered'],
			[KIND.APP, { composeHash: C3 }, 'compose hash not allowed'],
			[KIND.APP, { deviceId: D2 }, 'app is not allowed to boot on this device'],
			[KIND.KMS, { ...GOOD_KMS, mrAggregated: h32('other') }, 'aggregated MR not allowed'],
			[KIND.KMS, { ...GOOD_KMS, deviceId: D1 }, 'KMS is not allowed to boot on this device'],
		];
		for (const [kind, patch, reason] of cases) {
			const r = await connectJson.checkBoot({ bootInfo: bootInfo({ ...GOOD_APP, ...patch }).proto, kind });
			assert.equal(r.allowed, false, reason);
			assert.equal(r.reason, reason);
			assert.equal(r.error, undefined, 'a policy denial is not an error');
		}
		// App 2 allows any device; app 3 lists none (auth-simple: an empty list lets any device in).
		for (const appId of [APP2, APP3]) {
			const composeHash = appId === APP2 ? C3 : C1;
			const r = await connectJson.checkBoot({ bootInfo: bootInfo({ ...GOOD_APP, appId, composeHash, deviceId: D2 }).proto,
				kind: KIND.APP });
			assert.equal(r.allowed, true, r.reason);
		}
	});

	test('CheckBoot agrees with auth-simple on 400 random BootInfos', async () => {
		const rnd = mulberry32(20240601);
		let allowed = 0;
		const reasons = new Set();
		for (let i = 0; i < 400; i++) {
			const f = randomBoot(rnd);
			const kind = rnd() < 0.7 ? KIND.APP : KIND.KMS;
			const { proto, webhook } = bootInfo(f);
			const want = authSimpleCheck(POLICY, webhook, kind === KIND.KMS);
			const got = await (i % 2 ? connectBin : connectJson).checkBoot({ bootInfo: proto, kind });
			assert.equal(got.allowed, want.isAllowed, `case ${i}: ${JSON.stringify(f)} kind ${kind}: ${got.reason} vs ${want.reason}`);
			assert.equal(got.reason, want.reason, `case ${i}: ${JSON.stringify(f)}`);
			assert.equal(got.gatewayAppId, want.gatewayAppId);
			allowed += got.allowed;
			reasons.add(got.reason);
		}
		assert.ok(allowed > 20, `enough allowed cases (${allowed})`);
		assert.ok(reasons.size >= 8, `most reasons covered: ${[...reasons].join(' | ')}`);
	});

	test('CheckBoot: argument errors are INVALID_ARGUMENT, not denials', async () => {
		const bad = [
			{ bootInfo: bootInfo(GOOD_APP).proto },
			{ bootInfo: bootInfo(GOOD_APP).proto, kind: 3 },
			{ kind: KIND.APP },
			{ bootInfo: { ...bootInfo(GOOD_APP).proto, appId: randomBytes(21) }, kind: KIND.APP },
			{ bootInfo: { ...bootInfo(GOOD_APP).proto, composeHash: randomBytes(33) }, kind: KIND.APP },
			{ bootInfo: { ...bootInfo(GOOD_APP).proto, tcbStatus: 'x'.repeat(65) }, kind: KIND.APP },
			{ bootInfo: { ...bootInfo(GOOD_APP).proto, advisoryIds: Array(257).fill('INTEL-SA-00837') }, kind: KIND.APP },
		];
		for (const req of bad) {
			await assert.rejects(connectJson.checkBoot(req), (e) => e instanceof ConnectError && e.code === Code.InvalidArgument,
				JSON.stringify(Object.keys(req)));
		}
		await assert.rejects(grpcCall(grpcClient, 'CheckBoot', { boot_info: {}, kind: 'BOOT_KIND_UNSPECIFIED' }),
			(e) => e.code === grpc.status.INVALID_ARGUMENT);
	});

	test('GetPolicy: the listed app, NOT_FOUND for others, INVALID_ARGUMENT for a bad id', async () => {
		const r = await connectJson.getPolicy({ appId: Buffer.from(APP1, 'hex') });
		assert.equal(r.source, SOURCE_FILE);
		assert.equal(r.stale, false);
		assert.equal(hex(r.policy.appId), APP1);
		assert.equal(r.policy.owner.length, 0);
		assert.deepEqual(r.policy.composeHashes.map((e) => '0x' + hex(e.composeHash)).sort(), [C1, C2].sort());
		assert.ok(r.policy.composeHashes.every((e) => e.effective && e.effectiveAtUnix === 0n && e.addedAtBlock === 0n));
		assert.deepEqual(r.policy.allowedDeviceIds.map((d) => '0x' + hex(d)), [D1]);
		assert.equal(r.policy.allowAnyDevice, false);
		assert.equal((await connectJson.getPolicy({ appId: Buffer.from(APP2, 'hex') })).policy.allowAnyDevice, true);
		await assert.rejects(connectJson.getPolicy({ appId: Buffer.from(a20(77), 'hex') }),
			(e) => e instanceof ConnectError && e.code === Code.NotFound);
		await assert.rejects(connectJson.getPolicy({ appId: Buffer.alloc(19) }),
			(e) => e instanceof ConnectError && e.code === Code.InvalidArgument);
		const g = await grpcCall(grpcClient, 'GetPolicy', { app_id: Buffer.from(APP3, 'hex') });
		assert.equal(g.policy.compose_hashes.length, 1);
	});

	test('GetKmsInfo: the file\'s KMS-wide lists', async () => {
		const k = await connectJson.getKmsInfo({});
		assert.equal(k.source, SOURCE_FILE);
		assert.equal(k.gatewayAppId, 'gateway-app');
		assert.equal(k.chainId, 31337n);
		assert.equal(hex(k.kmsContractAddress), 'ab'.repeat(20));
		assert.equal(hex(k.appImplementation), 'cd'.repeat(20));
		assert.deepEqual(k.allowedOsImages.map((x) => '0x' + hex(x)).sort(), OS.sort());
		assert.deepEqual(k.allowedKmsMrAggregated.map((x) => '0x' + hex(x)), KMS_MR);
		assert.deepEqual(k.allowedKmsDeviceIds.map((x) => '0x' + hex(x)), KMS_DEV);
		assert.deepEqual(k.allowedTcbStatuses, ['UpToDate', 'SWHardeningNeeded']);
		assert.deepEqual([...k.allowedAdvisoryIds].sort(), ['INTEL-SA-00615', 'INTEL-SA-00837']);
		assert.equal(k.kmsAllowAnyDevice, false);
	});

	test('Status and /readyz: the file in force', async () => {
		const s = await connectJson.status({});
		assert.equal(s.service.name, 'dstack-registry');
		assert.equal(s.backend, SOURCE_FILE);
		assert.equal(s.policyFilePath, policyPath);
		assert.deepEqual(Buffer.from(s.policySha256), policySha);
		assert.ok(s.policyLoadedAtUnix > 0n);
		assert.equal(s.appCount, 3);
		assert.equal(s.composeHashCount, 4n);
		assert.equal(s.stale, false);
		assert.equal(s.lastError, undefined);
		const rz = await fetch(base(srv) + '/readyz');
		assert.equal(rz.status, 200);
	});

	test('reload: a removed compose hash is denied after the next poll; a bad file keeps the last good policy', async () => {
		const errors0 = await metric(srv, 'registry_policy_reloads_total', 'result="error"');
		const ok0 = await metric(srv, 'registry_policy_reloads_total', 'result="ok"');
		const req = { bootInfo: bootInfo({ ...GOOD_APP, composeHash: C2 }).proto, kind: KIND.APP };
		assert.equal((await connectJson.checkBoot(req)).allowed, true);

		const p2 = structuredClone(POLICY);
		p2.apps['0x' + APP1.toUpperCase()].composeHashes = [C1];
		const sha2 = writePolicy(policyPath, p2, { inPlace: true });
		const denied = await until('the new policy', async () => {
			const r = await connectJson.checkBoot(req);
			return !r.allowed && r;
		}, 3000);
		assert.equal(denied.reason, 'compose hash not allowed');
		assert.deepEqual(Buffer.from(denied.policySha256), sha2);
		assert.equal(await metric(srv, 'registry_policy_reloads_total', 'result="ok"'), ok0 + 1);

		// Unknown key: rejected with its path, the previous policy stays in force.
		writePolicy(policyPath, { ...p2, osImage: [] });
		const st = await until('the rejection', async () => {
			const s = await connectJson.status({});
			return s.lastError && s;
		}, 3000);
		assert.equal(st.lastError.name, 'ERR_PROTO_UNKNOWN_FIELD');
		assert.match(st.lastError.detail, /osImage: unknown key/);
		assert.deepEqual(Buffer.from(st.policySha256), sha2);
		assert.equal((await connectJson.checkBoot({ bootInfo: bootInfo(GOOD_APP).proto, kind: KIND.APP })).allowed, true);
		assert.equal(await metric(srv, 'registry_policy_reloads_total', 'result="error"'), errors0 + 1);
		assert.equal((await fetch(base(srv) + '/readyz')).status, 200, 'still ready on the last good policy');
		// Bad hex, then garbage: still the same policy.
		writePolicy(policyPath, { ...p2, osImages: ['0x12'] });
		await until('the second rejection', async () =>
			(await metric(srv, 'registry_policy_reloads_total', 'result="error"')) === errors0 + 2, 3000);
		writePolicy(policyPath, '{"osImages": [');
		await until('the third rejection', async () =>
			(await metric(srv, 'registry_policy_reloads_total', 'result="error"')) === errors0 + 3, 3000);
		assert.equal((await connectJson.checkBoot(req)).reason, 'compose hash not allowed');

		// Back to the original policy.
		writePolicy(policyPath, POLICY);
		await until('the original policy again', async () => (await connectJson.checkBoot(req)).allowed, 3000);
		const s = await connectJson.status({});
		assert.equal(s.lastError, undefined);
		assert.deepEqual(Buffer.from(s.policySha256), policySha);
	});

	test('ListEvents: one PolicyFileLoaded per load, paged both ways, filtered', async () => {
		const all = await connectJson.listEvents({});
		assert.equal(all.events.length, 3, 'initial load, the edit, the revert');
		assert.equal(all.nextPageToken, '');
		assert.equal(all.checkpointBlock, 0n);
		for (const e of all.events) {
			assert.equal(e.kind, EV_POLICY_FILE_LOADED);
			assert.equal(e.eventName, 'PolicyFileLoaded');
			assert.equal(e.source, SOURCE_FILE);
			assert.equal(e.blockNumber, 0n);
			assert.equal(e.txHash.length, 0);
			assert.deepEqual(e.fields.map((f) => f.name), ['path', 'sha256', 'apps', 'composeHashes', 'osImages']);
			assert.equal(e.fields[0].value, policyPath);
		}
		assert.deepEqual(all.events.map((e) => e.logIndex), [0, 1, 2]);
		assert.equal(all.events[0].fields[1].value, '0x' + hex(policySha));
		assert.deepEqual(all.events.map((e) => e.fields[3].value), ['4', '3', '4']);

		// Pages of one, ascending then descending; the tokens are direction-bound.
		let page = await connectJson.listEvents({ limit: 1 });
		const seen = [];
		for (;;) {
			seen.push(page.events[0].logIndex);
			if (!page.nextPageToken)
				break;
			page = await connectJson.listEvents({ limit: 1, pageToken: page.nextPageToken });
		}
		assert.deepEqual(seen, [0, 1, 2]);
		const d1 = await connectBin.listEvents({ limit: 2, descending: true });
		assert.deepEqual(d1.events.map((e) => e.logIndex), [2, 1]);
		const d2 = await connectBin.listEvents({ limit: 2, descending: true, pageToken: d1.nextPageToken });
		assert.deepEqual(d2.events.map((e) => e.logIndex), [0]);
		assert.equal(d2.nextPageToken, '');
		await assert.rejects(connectJson.listEvents({ limit: 1, pageToken: d1.nextPageToken }),
			(e) => e instanceof ConnectError && e.code === Code.InvalidArgument);
		await assert.rejects(connectJson.listEvents({ pageToken: 'garbage' }),
			(e) => e instanceof ConnectError && e.code === Code.InvalidArgument);

		// Filters: kinds, app id (file events concern no app), block range.
		assert.equal((await connectJson.listEvents({ kinds: [EV_POLICY_FILE_LOADED] })).events.length, 3);
		assert.equal((await connectJson.listEvents({ kinds: [14] })).events.length, 0);
		assert.equal((await connectJson.listEvents({ appId: Buffer.from(APP1, 'hex') })).events.length, 0);
		assert.equal((await connectJson.listEvents({ fromBlock: 1n })).events.length, 0);
		for (const req of [{ kinds: [0] }, { limit: 1001 }, { appId: Buffer.alloc(5) }, { fromBlock: 5n, toBlock: 4n }])
			await assert.rejects(connectJson.listEvents(req), (e) => e instanceof ConnectError && e.code === Code.InvalidArgument);
		const g = await grpcCall(grpcClient, 'ListEvents', { limit: 2 });
		assert.equal(g.events.length, 2);
		assert.equal(g.events[0].kind, 'GOVERNANCE_EVENT_KIND_POLICY_FILE_LOADED');
	});

	test('restart: the audit log on disk keeps the load history', async () => {
		await srv.stop();
		srv = await startServer(BIN, ['serve', '-c', conf]);
		connectJson = createClient(registryService, createConnectTransport({ httpVersion: '1.1', baseUrl: base(srv) }));
		connectBin = createClient(registryService,
			createConnectTransport({ httpVersion: '1.1', baseUrl: base(srv), useBinaryFormat: true }));
		grpcClient.close();
		grpcClient = new RegistryGrpc(`127.0.0.1:${srv.port}`, grpc.credentials.createInsecure());
		const all = await connectJson.listEvents({});
		assert.deepEqual(all.events.map((e) => e.logIndex), [0, 1, 2, 3]);
		assert.equal(readFileSync(auditPath, 'utf8').trim().split('\n').length, 4);
		assert.equal((await connectJson.checkBoot({ bootInfo: bootInfo(GOOD_APP).proto, kind: KIND.APP })).allowed, true);
	});
});

describe('dstack-registry serve: without a usable policy', () => {
	test('no policy configured: CheckBoot denies with an error, /readyz is 503', async () => {
		const tmp = tempDir('ds-registry-none-');
		const srv = await startServer(BIN, ['serve', '-c', writeConfig(tmp.dir, 'none', [])]);
		try {
			const c = createClient(registryService, createConnectTransport({ httpVersion: '1.1', baseUrl: base(srv) }));
			const r = await c.checkBoot({ bootInfo: bootInfo(GOOD_APP).proto, kind: KIND.APP });
			assert.equal(r.allowed, false);
			assert.equal(r.error.name, 'ERR_UNAVAILABLE');
			assert.match(r.reason, /no policy configured/);
			const rz = await fetch(base(srv) + '/readyz');
			assert.equal(rz.status, 503);
			assert.match(await rz.text(), /no policy configured/);
			await assert.rejects(c.getKmsInfo({}), (e) => e instanceof ConnectError && e.code === Code.Unavailable);
		} finally {
			await srv.stop();
			tmp.cleanup();
		}
	});

	test('a policy file that does not parse at start: the service refuses to start', () => {
		const tmp = tempDir('ds-registry-bad-');
		try {
			const p = join(tmp.dir, 'policy.json');
			writeFileSync(p, '{"apps": {"0x12": {}}}');
			const conf = writeConfig(tmp.dir, 'bad', [`policy_file = ${p}`]);
			const r = spawnSync(BIN, ['serve', '-c', conf], { encoding: 'utf8', timeout: 20000 });
			assert.notEqual(r.status, 0);
			assert.match(r.stderr, /app id is not 20-byte hex/);
			const chk = spawnSync(BIN, ['check-config', '-c', conf], { encoding: 'utf8', timeout: 20000 });
			assert.equal(chk.status, 0, 'check-config validates the config file, not the policy');
		} finally {
			tmp.cleanup();
		}
	});
});
