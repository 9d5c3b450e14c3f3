// SPDX-License-Identifier: Apache-2.0
// `dstack-registry serve` with the chain backend against anvil (npm @foundry-rs/anvil) on 127.0.0.1:
// deploy the registry contracts with ethers, then CheckBoot / GetPolicy / ListEvents / Status /
// GetKmsInfo through connect-node: allow and remove a compose hash (denied within a poll plus the
// confirmations), device / TCB / KMS rules, the upgrade delay, apps registered after the fact
// (backfill), without code, and with foreign code (cross-check), CheckBoot vs eth_call over a few
// hundred random BootInfos, a reorg (evm_snapshot/evm_revert), restart from the checkpoint, and
// faults through a scripted JSON-RPC proxy: endpoint down, slow, malformed and truncated answers,
// wrong chain id, logs from another address, failover, staleness and recovery.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { JsonRpcProvider, ContractFactory, Contract, id, getAddress, ZeroAddress, ZeroHash, hexlify, randomBytes } from 'ethers';
import { fromBinary, createFileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { createClient, ConnectError, Code } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';

import { startServer, tempDir, sourceDir } from './lib/harness.mjs';
import { startAnvil, loadArtifact } from './lib/anvil.mjs';

const BIN = process.env.DS_REGISTRY_BIN || join(sourceDir, 'build', 'services', 'registry', 'dstack-registry');
const DESCRIPTORS = process.env.DS_DESCRIPTORS || join(sourceDir, 'build', 'proto', 'all.pb');
const registryService = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTORS)))
	.getService('dstack.registry.v1.Registry');

const KIND = { APP: 1, KMS: 2 };
const EV = { APP_REGISTERED: 2, OS_IMAGE_ADDED: 9, COMPOSE_HASH_ADDED: 14, COMPOSE_HASH_REMOVED: 15 };
const POLL_MS = 100;
const CONFIRMATIONS = 1;

const hexOf = (b) => '0x' + Buffer.from(b).toString('hex');
const bytes = (h) => Buffer.from(h.replace(/^0x/, ''), 'hex');

// ---------------------------------------------------------------------------------------------
// A scripted JSON-RPC proxy in front of anvil: each mode is one fault.

function startProxy(target) {
	const state = { mode: 'ok', requests: 0, injectFrom: null };
	const server = http.createServer((req, res) => {
		let body = '';
		req.on('data', (c) => { body += c; });
		req.on('end', async () => {
			state.requests++;
			const mode = state.mode;
			if (mode === 'down') {
				req.socket.destroy();
				return;
			}
			if (mode === 'http503') {
				res.writeHead(503).end('busy');
				return;
			}
			if (mode === 'slow')
				await sleep(1500);
			if (mode === 'malformed') {
				res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":0x12}');
				return;
			}
			let upstream;
			try {
				upstream = await (await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).text();
			} catch {
				req.socket.destroy();
				return;
			}
			if (mode === 'truncated') {
				const cut = upstream.slice(0, Math.max(1, Math.floor(upstream.length / 2)));
				res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(cut) }).end(cut);
				return;
			}
			if (mode === 'wrongchain' || mode === 'wrongaddr') {
				const reqs = JSON.parse(body);
				const resp = JSON.parse(upstream);
				const list = Array.isArray(resp) ? resp : [resp];
				const rq = Array.isArray(reqs) ? reqs : [reqs];
				for (const r of list) {
					const q = rq.find((x) => x.id === r.id);
					if (mode === 'wrongchain' && q?.method === 'eth_chainId')
						r.result = '0x1';
					if (mode === 'wrongaddr' && q?.method === 'eth_getLogs' && Array.isArray(r.result) && state.injectFrom) {
						// A well-formed OsImageHashAdded from a contract that is not the registry.
						const p = q.params[0];
						r.result.push({
							address: state.injectFrom.toLowerCase(),
							topics: [id('OsImageHashAdded(bytes32)')],
							data: id('injected-os-image'),
							blockNumber: p.toBlock, blockHash: '0x' + '11'.repeat(32),
							transactionHash: '0x' + '22'.repeat(32), transactionIndex: '0x0',
							logIndex: '0x3e8', removed: false,
						});
					}
				}
				upstream = JSON.stringify(Array.isArray(resp) ? list : list[0]);
			}
			res.writeHead(200, { 'content-type': 'application/json' }).end(upstream);
		});
	});
	return new Promise((res) => server.listen(0, '127.0.0.1', () => {
		state.url = `http://127.0.0.1:${server.address().port}`;
		state.close = () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); });
		res(state);
	}));
}

// ---------------------------------------------------------------------------------------------

async function until(what, fn, timeoutMs = 10000, stepMs = 50) {
	const deadline = Date.now() + timeoutMs;
	let last;
	for (;;) {
		last = await fn();
		if (last)
			return last;
		if (Date.now() > deadline)
			throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
		await sleep(stepMs);
	}
}

function writeConfig(dir, name, lines) {
	const p = join(dir, `${name}.conf`);
	writeFileSync(p, ['listen = tcp://127.0.0.1:0', 'log.level = info', 'timeouts.drain = 2s', ...lines, ''].join('\n'));
	return p;
}

const client = (srv) => createClient(registryService, createConnectTransport({ httpVersion: '1.1', baseUrl: `http://127.0.0.1:${srv.port}` }));

async function metric(srv, name, labels) {
	const text = await (await fetch(`http://127.0.0.1:${srv.port}/metrics`)).text();
	const want = labels ? `${name}{${labels}} ` : `${name} `;
	const line = text.split('\n').find((l) => l.startsWith(want));
	return line ? Number(line.slice(want.length)) : 0;
}

/** The BootInfo for CheckBoot (bytes) from hex fields. */
function proto(b) {
	const f = (h, n) => (h === undefined ? Buffer.alloc(0) : bytes(h));
	return {
		teeVariant: 'dstack-tdx', appId: f(b.appId), composeHash: f(b.composeHash), instanceId: f(b.instanceId),
		deviceId: f(b.deviceId), mrAggregated: f(b.mrAggregated), mrSystem: f(b.mrSystem), osImageHash: f(b.osImageHash),
		tcbStatus: b.tcbStatus ?? '', advisoryIds: b.advisoryIds ?? [],
	};
}

/** The same BootInfo as the contracts' tuple (ethers). */
function tuple(b) {
	return {
		appId: b.appId ?? ZeroAddress, composeHash: b.composeHash ?? ZeroHash, instanceId: b.instanceId ?? ZeroAddress,
		deviceId: b.deviceId ?? ZeroHash, mrAggregated: b.mrAggregated ?? ZeroHash, mrSystem: b.mrSystem ?? ZeroHash,
		osImageHash: b.osImageHash ?? ZeroHash, tcbStatus: b.tcbStatus ?? '', advisoryIds: b.advisoryIds ?? [],
	};
}

describe('dstack-registry serve: chain backend on anvil', () => {
	let anvil, provider, signer, owner, K, A, reg, regAddr, deployBlock, tmp, proxy, srv, rc, conf, ticker;
	const OS = id('os-image-1'), OS_OLD = id('os-image-old');
	const C1 = id('compose-1'), C2 = id('compose-2'), C_LATE = id('compose-late');
	const D1 = id('device-1'), D2 = id('device-2');
	const MR = id('kms-mr'), KDEV = id('kms-device');
	let app1, app2, eoaApp, foreignApp, lateApp;

	const rpc = (method, params = []) => provider.send(method, params);
	const mine = (n = 1) => rpc('anvil_mine', [`0x${n.toString(16)}`]);
	async function send(p) {
		const r = await (await p).wait();
		assert.equal(r.status, 1);
		return r;
	}
	const appContract = (addr) => new Contract(addr, A.abi, signer);
	/** Wait for the registry to have applied every block up to the current head (the ticker adds the confirmations). */
	async function synced(c = rc) {
		const head = Number(await rpc('eth_blockNumber'));  // not ethers' cached block number
		if (!ticker)
			await mine(CONFIRMATIONS);
		await until(`checkpoint >= ${head}`, async () => {
			const s = await c.status({});
			return s.checkpointBlock >= BigInt(head) && !s.stale;
		}, 15000);
	}
	const check = (b, kind = KIND.APP, extra = {}) => rc.checkBoot({ bootInfo: proto(b), kind, ...extra });

	function startTicker() {
		stopTicker();
		ticker = setInterval(() => { mine().catch(() => {}); }, 250);
	}
	function stopTicker() {
		if (ticker)
			clearInterval(ticker);
		ticker = null;
	}

	async function startRegistry(extra = [], urls = [proxy.url]) {
		conf = writeConfig(tmp.dir, 'chain', [
			...urls.map((u) => `chain.rpc_urls = ${u}`),
			'chain.id = 31337',
			`chain.kms_contract = ${regAddr}`,
			`chain.confirmations = ${CONFIRMATIONS}`,
			`chain.poll_interval = ${POLL_MS}ms`,
			`chain.start_block = ${deployBlock}`,
			'chain.log_range = 7',
			'chain.rpc_timeout = 500ms',
			'chain.max_staleness = 4s',
			`chain.checkpoint_file = ${join(tmp.dir, 'checkpoint.json')}`,
			...extra,
		]);
		srv = await startServer(BIN, ['serve', '-c', conf]);
		rc = client(srv);
	}

	before(async () => {
		assert.ok(existsSync(BIN), `dstack-registry at ${BIN} (set DS_REGISTRY_BIN)`);
		tmp = tempDir('ds-registry-chain-');
		anvil = await startAnvil();
		provider = new JsonRpcProvider(anvil.url, undefined, { staticNetwork: true, pollingInterval: 50 });
		signer = await provider.getSigner(0);
		owner = await signer.getAddress();
		K = loadArtifact('KmsRegistry');
		A = loadArtifact('App');
		reg = await new ContractFactory(K.abi, K.bytecode, signer).deploy(owner);
		await reg.waitForDeployment();
		regAddr = await reg.getAddress();
		deployBlock = (await reg.deploymentTransaction().wait()).blockNumber;
		// Some history before the watcher starts: more blocks than one log range.
		await send(reg.addOsImageHash(OS_OLD));
		await send(reg.addOsImageHash(OS));
		await send(reg.setGatewayAppId('gateway.example'));
		await mine(10);
		await send(reg.removeOsImageHash(OS_OLD));
		proxy = await startProxy(anvil.url);
		startTicker();
		await startRegistry();
	});

	after(async () => {
		stopTicker();
		if (srv?.exited())
			console.error(`dstack-registry exited early:\n${srv.stderr()}`);
		await srv?.stop();
		await proxy?.close();
		await anvil?.stop();
		tmp?.cleanup();
	});

	async function deployApp(opts = {}) {
		const { requireTcb = false, anyDevice = false, device = D1, compose = C1, delay = 0 } = opts;
		const r = await send(reg.deployAndRegisterApp(owner, requireTcb, anyDevice, device, compose, delay));
		const ev = r.logs.map((l) => { try { return reg.interface.parseLog(l); } catch { return null; } })
			.find((e) => e?.name === 'AppDeployedViaFactory');
		return ev.args[0];
	}

	test('deploy and register an app, allow a compose hash: CheckBoot allows; remove it: denied within a poll plus confirmations', async () => {
		app1 = await deployApp({ requireTcb: true });
		await synced();
		const good = { appId: app1, composeHash: C1, deviceId: D1, osImageHash: OS, tcbStatus: 'UpToDate' };
		const r = await check(good);
		assert.equal(r.allowed, true, r.reason);
		assert.equal(r.gatewayAppId, 'gateway.example');
		assert.equal(r.source, 1);
		assert.ok(r.decidedAtBlock > 0n);
		assert.equal(r.blockHash.length, 32);
		const blk = await provider.getBlock(Number(r.decidedAtBlock));
		assert.equal(hexOf(r.blockHash), blk.hash);
		assert.equal(r.blockTimeUnix, BigInt(blk.timestamp));

		await send(appContract(app1).addComposeHash(C2));
		await until('C2 allowed', async () => (await check({ ...good, composeHash: C2 })).allowed);

		const t0 = Date.now();
		const rm = await send(appContract(app1).removeComposeHash(C1));
		const denied = await until('C1 denied', async () => {
			const x = await check(good);
			return !x.allowed && x;
		}, 5000, 20);
		const took = Date.now() - t0;
		assert.equal(denied.reason, 'Compose hash not allowed');
		assert.ok(denied.decidedAtBlock >= BigInt(rm.blockNumber));
		// Confirmations arrive with the ticker's blocks (every 250 ms); a poll is 100 ms.
		assert.ok(took < POLL_MS + (CONFIRMATIONS + 1) * 250 + 1500, `denied after ${took} ms`);
	});

	test('device, TCB and OS image rules: every reason string of isAppAllowed', async () => {
		const good = { appId: app1, composeHash: C2, deviceId: D1, osImageHash: OS, tcbStatus: 'UpToDate' };
		const cases = [
			[{ appId: getAddress(hexlify(randomBytes(20))) }, 'App not registered'],
			[{ osImageHash: OS_OLD }, 'OS image is not allowed'],
			[{ tcbStatus: 'OutOfDate' }, 'TCB status is not up to date'],
			[{ composeHash: C1 }, 'Compose hash not allowed'],
			[{ deviceId: D2 }, 'Device not allowed'],
		];
		for (const [patch, reason] of cases) {
			const r = await check({ ...good, ...patch });
			assert.equal(r.allowed, false, reason);
			assert.equal(r.reason, reason);
			assert.equal(r.error, undefined);
		}
		await send(appContract(app1).addDevice(D2));
		await send(appContract(app1).setRequireTcbUpToDate(false));
		await until('D2 and OutOfDate allowed', async () => (await check({ ...good, deviceId: D2, tcbStatus: 'OutOfDate' })).allowed);
		await send(appContract(app1).setAllowAnyDevice(true));
		await until('any device', async () => (await check({ ...good, deviceId: id('whatever') })).allowed);
		await send(appContract(app1).setAllowAnyDevice(false));
		await send(appContract(app1).removeDevice(D2));
		await send(appContract(app1).setRequireTcbUpToDate(true));
		await synced();
		assert.equal((await check({ ...good, deviceId: D2 })).reason, 'Device not allowed');
		assert.equal((await check({ ...good, tcbStatus: 'OutOfDate' })).reason, 'TCB status is not up to date');
	});

	test('KMS rules: TCB, OS image, aggregated MR, device', async () => {
		await send(reg.addKmsAggregatedMr(MR));
		await send(reg.addKmsDevice(KDEV));
		await synced();
		const good = { mrAggregated: MR, deviceId: KDEV, osImageHash: OS, tcbStatus: 'UpToDate' };
		assert.equal((await check(good, KIND.KMS)).allowed, true);
		const cases = [
			[{ tcbStatus: 'SWHardeningNeeded', osImageHash: OS_OLD }, 'TCB status is not up to date'],
			[{ osImageHash: OS_OLD }, 'OS image is not allowed'],
			[{ mrAggregated: id('other'), deviceId: D1 }, 'Aggregated MR not allowed'],
			[{ deviceId: D1 }, 'KMS is not allowed to boot on this device'],
		];
		for (const [patch, reason] of cases)
			assert.equal((await check({ ...good, ...patch }, KIND.KMS)).reason, reason);
		const info = await rc.getKmsInfo({});
		assert.equal(info.source, 1);
		assert.equal(hexOf(info.kmsContractAddress), regAddr.toLowerCase());
		assert.equal(info.chainId, 31337n);
		assert.deepEqual(info.allowedOsImages.map(hexOf), [OS]);
		assert.deepEqual(info.allowedKmsMrAggregated.map(hexOf), [MR]);
		assert.deepEqual(info.allowedKmsDeviceIds.map(hexOf), [KDEV]);
		assert.deepEqual(info.allowedTcbStatuses, ['UpToDate']);
		assert.equal(info.gatewayAppId, 'gateway.example');
		// kmsInfo: the root keys and bootstrap attestation.
		const k256 = hexlify(randomBytes(33)), ca = hexlify(randomBytes(91)), quote = hexlify(randomBytes(5000));
		await send(reg.setKmsInfo({ k256Pubkey: k256, caPubkey: ca, quote, eventlog: '0x' }));
		await synced();
		const info2 = await rc.getKmsInfo({});
		assert.equal(hexOf(info2.k256Pubkey), k256);
		assert.equal(hexOf(info2.caPubkey), ca);
		assert.equal(hexOf(info2.quote), quote);
		assert.equal(info2.eventlog.length, 0);
	});

	test('upgrade delay: a new compose hash is denied until its effective time, by block time', async () => {
		app2 = await deployApp({ anyDevice: true, compose: C1, delay: 3600 });
		await send(appContract(app2).addComposeHash(C_LATE));
		await synced();
		const b = { appId: app2, composeHash: C_LATE, deviceId: D2, osImageHash: OS, tcbStatus: 'UpToDate' };
		const r = await check(b);
		assert.equal(r.reason, 'Compose hash not allowed');
		assert.equal((await check({ ...b, composeHash: C1 })).allowed, true, 'the initial hash is effective at once');
		const pol = await rc.getPolicy({ appId: bytes(app2) });
		const late = pol.policy.composeHashes.find((e) => hexOf(e.composeHash) === C_LATE);
		assert.equal(late.effective, false);
		assert.equal(pol.policy.upgradeDelaySeconds, 3600n);
		assert.equal(pol.policy.contractVersion, 2);
		assert.equal(hexOf(pol.policy.owner), owner.toLowerCase());
		const eff = Number(late.effectiveAtUnix);
		// One second short of the delay: still denied; then past it.
		await rpc('evm_setNextBlockTimestamp', [eff - 1]);
		await mine();
		await mine();
		await synced();
		await sleep(POLL_MS * 3);
		const at = await rc.checkBoot({ bootInfo: proto(b), kind: KIND.APP });
		if (at.blockTimeUnix < BigInt(eff))
			assert.equal(at.reason, 'Compose hash not allowed');
		await rpc('evm_setNextBlockTimestamp', [eff + 1]);
		await mine();
		await until('C_LATE effective', async () => (await check(b)).allowed, 10000);
		const ok = await check(b);
		assert.ok(ok.blockTimeUnix >= BigInt(eff));
		const [cAllowed] = await reg.isAppAllowed(tuple(b), { blockTag: Number(ok.decidedAtBlock) });
		assert.equal(cAllowed, true);
	});

	test('apps registered after the fact: backfilled history, no code, foreign code (cross-check decides)', async () => {
		// An App deployed directly, governed for a while, registered later: its earlier events count.
		const direct = await new ContractFactory(A.abi, A.bytecode, signer).deploy(owner, false, true, ZeroHash, ZeroHash, 0);
		await direct.waitForDeployment();
		lateApp = await direct.getAddress();
		await send(direct.addComposeHash(C2));
		await mine(12);
		await send(direct.addComposeHash(C_LATE));
		await send(direct.removeComposeHash(C_LATE));
		await mine(3);
		await send(reg.registerApp(lateApp));
		// An address without code, and a contract that is not an App (another registry).
		eoaApp = getAddress(hexlify(randomBytes(20)));
		await send(reg.registerApp(eoaApp));
		const other = await new ContractFactory(K.abi, K.bytecode, signer).deploy(owner);
		await other.waitForDeployment();
		foreignApp = await other.getAddress();
		await send(reg.registerApp(foreignApp));
		await synced();

		const b = { appId: lateApp, composeHash: C2, deviceId: D1, osImageHash: OS, tcbStatus: 'UpToDate' };
		assert.equal((await check(b)).allowed, true, 'a hash added before registration');
		assert.equal((await check({ ...b, composeHash: C_LATE })).reason, 'Compose hash not allowed');
		const ev = await rc.listEvents({ appId: bytes(lateApp) });
		assert.deepEqual(ev.events.map((e) => e.eventName),
			['OwnershipTransferred', 'TcbRequirementSet', 'AllowAnyDeviceSet', 'UpgradeDelaySet', 'ComposeHashAdded',
				'ComposeHashAdded', 'ComposeHashRemoved', 'AppRegistered']);
		const regEv = ev.events.at(-1);
		assert.equal(regEv.fields.find((f) => f.name === 'codeHash').value.length, 66);
		for (let i = 1; i < ev.events.length; i++)
			assert.ok(ev.events[i - 1].blockNumber < ev.events[i].blockNumber ||
				(ev.events[i - 1].blockNumber === ev.events[i].blockNumber && ev.events[i - 1].logIndex < ev.events[i].logIndex));

		const noCode = await check({ ...b, appId: eoaApp });
		assert.equal(noCode.reason, 'App not deployed or invalid address');
		assert.equal(noCode.error, undefined);

		const foreign = await check({ ...b, appId: foreignApp });
		assert.equal(foreign.allowed, false);
		assert.equal(foreign.error.name, 'ERR_FAILED_PRECONDITION');
		const xc = await check({ ...b, appId: foreignApp }, KIND.APP, { crossCheck: true });
		const [ok, reason] = await reg.isAppAllowed(tuple({ ...b, appId: foreignApp }), { blockTag: Number(xc.decidedAtBlock) });
		assert.equal(xc.crossChecked, true);
		assert.equal(xc.error, undefined);
		assert.equal(xc.allowed, ok);
		assert.equal(xc.reason, reason);
		assert.equal(reason, 'App not registered', 'the other registry does not know itself');
	});

	test('CheckBoot equals eth_call isAppAllowed / isKmsAllowed at the decision block for 300 random BootInfos', async () => {
		const pick = (a) => a[Math.floor(Math.random() * a.length)];
		const apps = [app1, app2, lateApp, eoaApp, getAddress(hexlify(randomBytes(20)))];
		const hashes = [C1, C2, C_LATE, id('never')];
		const devices = [D1, D2, KDEV, id('no-device')];
		let allowed = 0, xchecked = 0;
		const reasons = new Set();
		for (let i = 0; i < 300; i++) {
			const kind = Math.random() < 0.75 ? KIND.APP : KIND.KMS;
			const b = {
				appId: pick(apps), composeHash: pick(hashes), deviceId: pick(devices), osImageHash: pick([OS, OS, OS_OLD]),
				mrAggregated: pick([MR, MR, id('mr-x')]), mrSystem: id(`sys-${i}`), instanceId: getAddress(hexlify(randomBytes(20))),
				tcbStatus: pick(['UpToDate', 'UpToDate', 'OutOfDate', '', 'uptodate']),
				advisoryIds: pick([[], ['INTEL-SA-00837']]),
			};
			const crossCheck = i % 10 === 0;
			const got = await check(b, kind, { crossCheck });
			assert.equal(got.error, undefined, JSON.stringify(got.error));
			const fn = kind === KIND.APP ? reg.isAppAllowed : reg.isKmsAllowed;
			const [ok, reason] = await fn(tuple(b), { blockTag: Number(got.decidedAtBlock) });
			assert.equal(got.allowed, ok, `case ${i} ${JSON.stringify(b)} kind ${kind}: ${got.reason} vs ${reason}`);
			assert.equal(got.reason, reason, `case ${i}`);
			allowed += got.allowed;
			xchecked += got.crossChecked;
			reasons.add(reason);
		}
		assert.ok(allowed >= 10, `allowed ${allowed}`);
		assert.equal(xchecked, 30);
		assert.ok(reasons.size >= 8, [...reasons].join(' | '));
		assert.equal(await metric(srv, 'registry_crosscheck_total', 'result="disagree"'), 0);
	});

	test('ListEvents: the audit trail with tx hashes, filters, pages; Status', async () => {
		const all = [];
		let page = await rc.listEvents({ limit: 7 });
		for (;;) {
			all.push(...page.events);
			if (!page.nextPageToken)
				break;
			page = await rc.listEvents({ limit: 7, pageToken: page.nextPageToken });
		}
		const logs = [];
		for (const addr of [regAddr, app1, app2, lateApp])
			logs.push(...await provider.getLogs({ address: addr, fromBlock: deployBlock, toBlock: Number(page.checkpointBlock) }));
		assert.equal(all.length, logs.length, 'one audit event per log of the watched contracts');
		const key = (b, i) => `${b}/${i}`;
		const logKeys = new Set(logs.map((l) => key(l.blockNumber, l.index)));
		for (const e of all) {
			assert.ok(logKeys.has(key(Number(e.blockNumber), e.logIndex)), `${e.eventName} ${e.blockNumber}/${e.logIndex}`);
			const l = logs.find((x) => x.blockNumber === Number(e.blockNumber) && x.index === e.logIndex);
			assert.equal(hexOf(e.txHash), l.transactionHash);
			assert.equal(hexOf(e.blockHash), l.blockHash);
			assert.equal(hexOf(e.contractAddress), l.address.toLowerCase());
			assert.ok(e.timeUnix > 0n);
		}
		const removed = await rc.listEvents({ kinds: [EV.COMPOSE_HASH_REMOVED], appId: bytes(app1) });
		assert.equal(removed.events.length, 1);
		assert.equal(removed.events[0].fields[0].value, C1);
		const desc = await rc.listEvents({ descending: true, limit: 3 });
		assert.deepEqual(desc.events.map((e) => e.logIndex), all.slice(-3).reverse().map((e) => e.logIndex));
		const os = await rc.listEvents({ kinds: [EV.OS_IMAGE_ADDED], fromBlock: BigInt(deployBlock), toBlock: BigInt(deployBlock + 2) });
		assert.deepEqual(os.events.map((e) => e.fields[0].value), [OS_OLD, OS]);

		const s = await rc.status({});
		assert.equal(s.backend, 1);
		assert.equal(s.chainId, 31337n);
		assert.equal(s.confirmations, CONFIRMATIONS);
		assert.ok(s.headBlock >= s.checkpointBlock);
		assert.equal(s.lagBlocks, s.headBlock - s.checkpointBlock);
		assert.equal(s.stale, false);
		assert.equal(s.staleAfterSeconds, 4);
		assert.equal(s.endpoints.length, 1);
		assert.equal(s.endpoints[0].url, proxy.url);
		assert.equal(s.endpoints[0].healthy, true);
		assert.equal(s.endpoints[0].active, true);
		assert.equal(s.appCount, 5);
		assert.equal(s.eventsApplied, BigInt(all.length));
		assert.equal((await fetch(`http://127.0.0.1:${srv.port}/readyz`)).status, 200);
	});

	test('reorg (evm_snapshot / evm_revert): a reorged-out hash is no longer allowed and nothing is applied twice', async () => {
		stopTicker();
		try {
			await reorgScenario();
		} finally {
			startTicker();
		}
	});

	async function reorgScenario() {
		await synced();
		const b = { appId: app1, composeHash: id('reorged'), deviceId: D1, osImageHash: OS, tcbStatus: 'UpToDate' };
		const snap = await rpc('evm_snapshot');
		await send(appContract(app1).addComposeHash(b.composeHash));
		await mine(2);
		await until('the hash allowed', async () => (await check(b)).allowed);
		const reorgs0 = (await rc.status({})).reorgsDetected;
		assert.equal(await rpc('evm_revert', [snap]), true);
		await mine(4);  // a longer, different chain without the transaction
		await until('the reorged-out hash denied', async () => (await check(b)).reason === 'Compose hash not allowed', 10000);
		const s = await rc.status({});
		assert.ok(s.reorgsDetected > reorgs0);
		assert.ok(s.lastReorgBlock > 0n);
		let added = await rc.listEvents({ kinds: [EV.COMPOSE_HASH_ADDED], appId: bytes(app1) });
		assert.equal(added.events.filter((e) => e.fields[0].value === b.composeHash).length, 0);
		// Added again on the new chain: exactly one event for it.
		await send(appContract(app1).addComposeHash(b.composeHash));
		await mine(2);
		await until('allowed again', async () => (await check(b)).allowed);
		added = await rc.listEvents({ kinds: [EV.COMPOSE_HASH_ADDED], appId: bytes(app1) });
		assert.equal(added.events.filter((e) => e.fields[0].value === b.composeHash).length, 1);
		const keys = (await rc.listEvents({ limit: 1000 })).events.map((e) => `${e.blockNumber}/${e.logIndex}`);
		assert.equal(new Set(keys).size, keys.length, 'no event twice');
	}

	test('restart: resumes from the checkpoint (no resync) and applies what happened while down', async () => {
		await synced();
		const before = await rc.status({});
		await srv.stop();
		const C_RESTART = id('while-down');
		await send(appContract(app1).addComposeHash(C_RESTART));
		await mine(2);
		await startRegistry();
		assert.match(srv.stderr(), /resuming from checkpoint block (\d+)/);
		const resumed = Number(/resuming from checkpoint block (\d+)/.exec(srv.stderr())[1]);
		assert.ok(resumed >= Number(before.checkpointBlock));
		await until('the new hash', async () => (await check({ appId: app1, composeHash: C_RESTART, deviceId: D1, osImageHash: OS,
			tcbStatus: 'UpToDate' })).allowed);
		const s = await rc.status({});
		assert.ok(s.eventsApplied > before.eventsApplied);
		const keys = (await rc.listEvents({ limit: 1000 })).events.map((e) => `${e.blockNumber}/${e.logIndex}`);
		assert.equal(new Set(keys).size, keys.length, 'no event twice across the restart');
		// A checkpoint for another registry is refused, not silently mixed.
		const bad = writeConfig(tmp.dir, 'bad', [`chain.rpc_urls = ${anvil.url}`, 'chain.id = 31337',
			`chain.kms_contract = ${foreignApp}`, `chain.start_block = ${deployBlock}`,
			`chain.checkpoint_file = ${join(tmp.dir, 'checkpoint.json')}`]);
		const r = spawnSync(BIN, ['serve', '-c', bad], { encoding: 'utf8', timeout: 20000 });
		assert.notEqual(r.status, 0);
		assert.match(r.stderr, /not this config/);
	});

	/** With the proxy in `mode`: the last good snapshot keeps answering, errors are reported, the view goes stale, recovery. */
	async function fault(mode, { expectError, staleAfter = true } = {}) {
		await synced();
		const b = { appId: app1, composeHash: C2, deviceId: D1, osImageHash: OS, tcbStatus: 'UpToDate' };
		assert.equal((await check(b)).allowed, true);
		const errors0 = await metric(srv, 'registry_chain_errors_total');
		proxy.mode = mode;
		const t0 = Date.now();
		const st = await until(`an error in mode ${mode}`, async () => {
			const s = await rc.status({});
			return s.lastError && s;
		}, 8000);
		if (expectError)
			assert.match(`${st.lastError.name} ${st.lastError.detail}`, expectError);
		assert.ok(await metric(srv, 'registry_chain_errors_total') > errors0);
		// The last good snapshot still answers, until the staleness bound.
		if (Date.now() - t0 < 2500) {
			const r = await check(b);
			assert.equal(r.allowed, true, `mode ${mode}: ${r.reason}`);
		}
		if (staleAfter) {
			const stale = await until(`stale in mode ${mode}`, async () => {
				const r = await check(b);
				return !r.allowed && r;
			}, 10000, 200);
			assert.match(stale.reason, /^registry view is stale: no new block for \d+ s$/);
			assert.equal(stale.error.name, 'ERR_POLICY_STALE');
			const s = await rc.status({});
			assert.equal(s.stale, true);
			assert.ok(s.lagBlocks > 0n || mode === 'down' || mode === 'slow' || mode === 'malformed' || mode === 'truncated' ||
				mode === 'http503' || mode === 'wrongchain');
			const rz = await fetch(`http://127.0.0.1:${srv.port}/readyz`);
			assert.equal(rz.status, 503);
		}
		proxy.mode = 'ok';
		await until(`recovery from ${mode}`, async () => (await check(b)).allowed, 10000);
		await until('ready again', async () => (await fetch(`http://127.0.0.1:${srv.port}/readyz`)).status === 200, 5000);
		assert.equal((await rc.status({})).stale, false);
	}

	test('fault: endpoint down', () => fault('down', { expectError: /ERR_IO|ERR_UNAVAILABLE|connect|closed|reset/i }));
	test('fault: endpoint answers 503', () => fault('http503'));
	test('fault: slow endpoint (past the RPC timeout)', () => fault('slow', { expectError: /TIMEOUT|timed out/i }));
	test('fault: malformed JSON', () => fault('malformed', { expectError: /ERR_PROTO|malformed|JSON/i }));
	test('fault: truncated responses', () => fault('truncated', { expectError: /ERR_PROTO|JSON/i }));
	test('fault: wrong chain id (not ready at once, stale later)', async () => {
		proxy.mode = 'wrongchain';
		await until('not ready', async () => (await fetch(`http://127.0.0.1:${srv.port}/readyz`)).status === 503, 5000);
		const rz = await (await fetch(`http://127.0.0.1:${srv.port}/readyz`)).text();
		assert.match(rz, /another chain/);
		proxy.mode = 'ok';
		await until('ready', async () => (await fetch(`http://127.0.0.1:${srv.port}/readyz`)).status === 200, 5000);
		await fault('wrongchain', { expectError: /chain 1, want 31337/ });
	});

	test('fault: logs from another address are ignored', async () => {
		await synced();
		const ignored0 = await metric(srv, 'registry_chain_ignored_logs_total');
		proxy.injectFrom = foreignApp;
		proxy.mode = 'wrongaddr';
		await mine(3);
		await until('injected logs seen and ignored', async () => (await metric(srv, 'registry_chain_ignored_logs_total')) > ignored0);
		await synced();
		const info = await rc.getKmsInfo({});
		assert.deepEqual(info.allowedOsImages.map(hexOf), [OS], 'the injected OsImageHashAdded changed nothing');
		const k = await check({ mrAggregated: MR, deviceId: KDEV, osImageHash: id('injected-os-image'), tcbStatus: 'UpToDate' }, KIND.KMS);
		assert.equal(k.reason, 'OS image is not allowed');
		proxy.mode = 'ok';
	});

	test('failover: the first endpoint down, the second serves; Status shows which', async () => {
		await srv.stop();
		proxy.mode = 'down';
		await startRegistry([], [proxy.url, anvil.url]);
		await synced();
		const b = { appId: app1, composeHash: C2, deviceId: D1, osImageHash: OS, tcbStatus: 'UpToDate' };
		assert.equal((await check(b)).allowed, true);
		const s = await rc.status({});
		assert.equal(s.endpoints.length, 2);
		assert.equal(s.endpoints[0].healthy, false);
		assert.ok(s.endpoints[0].consecutiveFailures > 0 || s.endpoints[0].lastError);
		assert.equal(s.endpoints[1].healthy, true);
		assert.equal(s.endpoints[1].active, true);
		proxy.mode = 'ok';
	});
});
