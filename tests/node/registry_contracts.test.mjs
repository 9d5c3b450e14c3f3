// SPDX-License-Identifier: Apache-2.0
// The registry contracts (services/registry/contracts) on a real node: anvil from npm on 127.0.0.1,
// driven with ethers. Checks EVENTS.md against the compiled ABI, every decision and reason string,
// the device / TCB / KMS rules, the upgrade delay, owner-only functions, two-step ownership to a
// contract owner, the exact logs of every change, and that a fold of the logs alone (EVENTS.md's
// rules, as the C watcher will do it) gives the same decisions as eth_call.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

import {
	JsonRpcProvider, ContractFactory, Contract, AbiCoder, Interface,
	id, keccak256, zeroPadValue, hexlify, randomBytes, getAddress, ZeroAddress, ZeroHash,
} from 'ethers';

import { sourceDir } from './lib/harness.mjs';
import { startAnvil, loadArtifact, contractsDir } from './lib/anvil.mjs';

const require = createRequire(import.meta.url);
const solc = require('solc');
const coder = AbiCoder.defaultAbiCoder();

const EVENTS_MD = join(sourceDir, 'services', 'registry', 'contracts', 'EVENTS.md');

// --- EVENTS.md, parsed: the tables are the contract with the C watcher

/** { events: Map(name -> {sig, topic0, indexed, table}), functions: [{sig, selector, contract}] } */
function parseEventsDoc() {
	const text = readFileSync(EVENTS_MD, 'utf8');
	const events = new Map();
	const functions = [];
	let table = null;
	for (const line of text.split('\n')) {
		if (line.startsWith('## '))
			table = line.slice(3).trim();
		const ev = /^\| `(\w+)\(([^)]*)\)` \| `(0x[0-9a-f]{64})` \| ([^|]+) \|/.exec(line);
		if (ev) {
			const [, name, params, topic0, idx] = ev;
			const sig = `${name}(${params})`;
			const indexed = idx.trim() === '—' ? [] : idx.split(',').map((s) => s.trim());
			const prev = events.get(name);
			if (prev)
				assert.deepEqual({ sig: prev.sig, topic0: prev.topic0, indexed: prev.indexed }, { sig, topic0, indexed },
					`${name} documented twice, differently`);
			events.set(name, { sig, name, types: params ? params.split(',') : [], topic0, indexed, tables: [...(prev?.tables ?? []), table] });
			continue;
		}
		const fn = /^\| `(\w+\([^`]*\))` \| `(0x[0-9a-f]{8})` \| (\w+) \|/.exec(line);
		if (fn)
			functions.push({ sig: fn[1], selector: fn[2], contract: fn[3] });
	}
	return { events, functions };
}

const DOC = parseEventsDoc();

// --- chain helpers

const hash = (s) => id(s);                      // a bytes32 from a label, readable in failures
const rnd32 = () => hexlify(randomBytes(32));
const rndAddr = () => getAddress(hexlify(randomBytes(20)));

function bootInfo(over = {}) {
	return {
		appId: ZeroAddress,
		composeHash: ZeroHash,
		instanceId: ZeroAddress,
		deviceId: ZeroHash,
		mrAggregated: ZeroHash,
		mrSystem: ZeroHash,
		osImageHash: ZeroHash,
		tcbStatus: 'UpToDate',
		advisoryIds: [],
		...over,
	};
}

/** Decision as a plain pair, so assert.deepEqual shows both fields on failure. */
async function decide(fn, b, blockTag) {
	const [ok, reason] = await fn(b, blockTag === undefined ? {} : { blockTag });
	return [ok, reason];
}

/**
 * Assert a receipt holds exactly `expected` logs, in order: [address, eventName, ...args]. Topics and
 * data are checked byte for byte against EVENTS.md's signature, topic0 and indexing rule.
 */
function expectLogs(receipt, expected) {
	const got = receipt.logs.map((l) => `${l.address} ${l.topics[0]}`);
	assert.equal(receipt.logs.length, expected.length, `log count; got:\n${got.join('\n')}`);
	expected.forEach(([address, name, ...args], i) => {
		const log = receipt.logs[i];
		const ev = DOC.events.get(name);
		assert.ok(ev, `${name} is not documented in EVENTS.md`);
		assert.equal(log.address, getAddress(address), `log ${i} (${name}) address`);
		assert.equal(log.topics[0], ev.topic0, `log ${i} topic0 is ${name}`);
		assert.equal(log.index, receipt.logs[0].index + i);
		if (ev.indexed.length) {
			// Only the ownership events index anything, and they index every parameter (two addresses).
			assert.deepEqual(log.topics.slice(1), args.map((a) => zeroPadValue(a, 32)), `${name} topics`);
			assert.equal(log.data, '0x', `${name} data`);
		} else {
			assert.equal(log.topics.length, 1, `${name}: no indexed parameters`);
			assert.equal(log.data, coder.encode(ev.types, args), `${name} data`);
		}
	});
}

/** Run a state-changing call and return its receipt. */
async function send(p) {
	const tx = await p;
	const r = await tx.wait();
	assert.equal(r.status, 1);
	return r;
}

/** The call must revert (at estimateGas) with the contract's custom error `name(args)`. */
async function expectRevert(p, iface, name, args = []) {
	await assert.rejects(p, (e) => {
		assert.ok(e.data && e.data.length >= 10, `revert data: ${e.shortMessage ?? e.message}`);
		const err = iface.parseError(e.data);
		assert.equal(err?.name, name);
		assert.deepEqual([...err.args], args);
		return true;
	});
}

// A two-of-two wallet standing in for a multisig / DAO owner. Test-only; compiled here.
const TWO_OF_TWO = `// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;
contract TwoOfTwo {
    address public immutable a;
    address public immutable b;
    mapping(bytes32 => uint8) public approvals;
    constructor(address a_, address b_) { a = a_; b = b_; }
    function approve(address target, bytes calldata data, uint256 nonce) external returns (bool executed) {
        uint8 bit = msg.sender == a ? 1 : (msg.sender == b ? 2 : 0);
        require(bit != 0, "not a signer");
        bytes32 k = keccak256(abi.encode(target, data, nonce));
        uint8 m = approvals[k] | bit;
        approvals[k] = m;
        if (m != 3) return false;
        approvals[k] = 4;
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) assembly { revert(add(ret, 32), mload(ret)) }
        return true;
    }
}`;

function compileTwoOfTwo() {
	const out = JSON.parse(solc.compile(JSON.stringify({
		language: 'Solidity',
		sources: { 'TwoOfTwo.sol': { content: TWO_OF_TWO } },
		settings: { evmVersion: 'cancun', outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
	})));
	const errs = (out.errors || []).filter((e) => e.severity === 'error');
	assert.deepEqual(errs, []);
	const c = out.contracts['TwoOfTwo.sol'].TwoOfTwo;
	return { abi: c.abi, bytecode: '0x' + c.evm.bytecode.object };
}

// --- the log fold: EVENTS.md's rules, as a watcher applies them (reference model for the C side)

function decodeLog(log) {
	for (const ev of DOC.events.values()) {
		if (ev.topic0 !== log.topics[0])
			continue;
		const args = ev.indexed.length
			? log.topics.slice(1).map((t) => getAddress('0x' + t.slice(26)))
			: [...coder.decode(ev.types, log.data)];
		return { name: ev.name, args };
	}
	throw new Error(`undocumented log ${log.topics[0]} from ${log.address}`);
}

async function foldPolicy(provider, registryAddr, toBlock) {
	const reg = { registered: new Set(), os: new Set(), mrs: new Set(), devices: new Set(), gateway: '', kmsInfo: null, owner: null };
	const apps = new Map();
	// Pass 1: which apps the registry knows. Pass 2: every log of the registry and those apps, in
	// chain order (a factory App's constructor logs precede AppRegistered in the same transaction,
	// and an App registered later has history from before: EVENTS.md "Following apps").
	const regLogs = await provider.getLogs({ address: registryAddr, fromBlock: 0, toBlock });
	for (const l of regLogs) {
		const d = decodeLog(l);
		if (d.name === 'AppRegistered')
			reg.registered.add(getAddress(d.args[0]));
	}
	const logs = await provider.getLogs({ address: [registryAddr, ...reg.registered], fromBlock: 0, toBlock });
	logs.sort((x, y) => x.blockNumber - y.blockNumber || x.index - y.index);
	const appOf = (a) => {
		if (!apps.has(a))
			apps.set(a, { hashes: new Map(), devices: new Set(), any: false, tcb: false, delay: null, owner: null });
		return apps.get(a);
	};
	for (const l of logs) {
		const { name, args } = decodeLog(l);
		if (l.address === getAddress(registryAddr)) {
			switch (name) {
			case 'OwnershipTransferred': reg.owner = args[1]; break;
			case 'OwnershipTransferStarted': case 'AppRegistered': case 'AppDeployedViaFactory': break;
			case 'KmsInfoSet': reg.kmsInfo = args; break;
			case 'KmsAggregatedMrAdded': reg.mrs.add(args[0]); break;
			case 'KmsAggregatedMrRemoved': reg.mrs.delete(args[0]); break;
			case 'KmsDeviceAdded': reg.devices.add(args[0]); break;
			case 'KmsDeviceRemoved': reg.devices.delete(args[0]); break;
			case 'OsImageHashAdded': reg.os.add(args[0]); break;
			case 'OsImageHashRemoved': reg.os.delete(args[0]); break;
			case 'GatewayAppIdSet': reg.gateway = args[0]; break;
			default: throw new Error(`${name} from the registry`);
			}
			continue;
		}
		const app = appOf(l.address);
		switch (name) {
		case 'OwnershipTransferred': app.owner = args[1]; break;
		case 'OwnershipTransferStarted': break;
		case 'ComposeHashAdded': app.hashes.set(args[0], Number(args[1])); break;
		case 'ComposeHashRemoved': app.hashes.delete(args[0]); break;
		case 'DeviceAdded': app.devices.add(args[0]); break;
		case 'DeviceRemoved': app.devices.delete(args[0]); break;
		case 'AllowAnyDeviceSet': app.any = args[0]; break;
		case 'TcbRequirementSet': app.tcb = args[0]; break;
		case 'UpgradeDelaySet': app.delay = [Number(args[0]), Number(args[1])]; break;
		default: throw new Error(`${name} from an app`);
		}
	}
	return { reg, apps };
}

function modelIsAppAllowed({ reg, apps }, b, ts) {
	const appId = getAddress(b.appId);
	if (!reg.registered.has(appId)) return [false, 'App not registered'];
	if (!reg.os.has(b.osImageHash)) return [false, 'OS image is not allowed'];
	const app = apps.get(appId);
	if (!app) return [false, 'App not deployed or invalid address'];
	if (app.tcb && b.tcbStatus !== 'UpToDate') return [false, 'TCB status is not up to date'];
	const at = app.hashes.get(b.composeHash);
	if (at === undefined || ts < at) return [false, 'Compose hash not allowed'];
	if (!app.any && !app.devices.has(b.deviceId)) return [false, 'Device not allowed'];
	return [true, ''];
}

function modelIsKmsAllowed({ reg }, b) {
	if (b.tcbStatus !== 'UpToDate') return [false, 'TCB status is not up to date'];
	if (!reg.os.has(b.osImageHash)) return [false, 'OS image is not allowed'];
	if (!reg.mrs.has(b.mrAggregated)) return [false, 'Aggregated MR not allowed'];
	if (!reg.devices.has(b.deviceId)) return [false, 'KMS is not allowed to boot on this device'];
	return [true, ''];
}

// --- the tests

describe('registry contracts on anvil', () => {
	let anvil, provider;
	let owner, other, appOwner, signerA, signerB;   // JsonRpcSigners (anvil's unlocked dev accounts)
	let appArt, kmsArt, appIface, kmsIface;
	let kms, kmsAddr;
	const OS = hash('os-image-1');
	const OS2 = hash('os-image-2');
	const MR = hash('kms-mr-1');
	const KDEV = hash('kms-device-1');
	const DEV1 = hash('device-1');
	const DEV2 = hash('device-2');
	const H1 = hash('compose-1');
	const H2 = hash('compose-2');

	const now = async (blockTag = 'latest') => (await provider.getBlock(blockTag)).timestamp;
	const deployApp = async (from, args) => {
		const r = await send(kms.connect(from).deployAndRegisterApp(...args));
		const reg = r.logs.find((l) => l.topics[0] === DOC.events.get('AppRegistered').topic0);
		const addr = getAddress(coder.decode(['address'], reg.data)[0]);
		return { app: new Contract(addr, appArt.abi, provider), addr, receipt: r };
	};

	before(async () => {
		appArt = loadArtifact('App');
		kmsArt = loadArtifact('KmsRegistry');
		appIface = new Interface(appArt.abi);
		kmsIface = new Interface(kmsArt.abi);
		anvil = await startAnvil();
		provider = new JsonRpcProvider(anvil.url, undefined, { pollingInterval: 20, staticNetwork: true, cacheTimeout: -1 });
		[owner, other, appOwner, signerA, signerB] = await Promise.all([0, 1, 2, 3, 4].map((i) => provider.getSigner(i)));
	});

	after(async () => {
		provider?.destroy();
		await anvil?.stop();
	});

	test('EVENTS.md matches the compiled ABI (signatures, topic0, indexing, selectors, errors)', () => {
		const abiEvents = new Map();
		for (const [art, contract] of [[appArt, 'App'], [kmsArt, 'KmsRegistry']]) {
			for (const e of new Interface(art.abi).fragments.filter((f) => f.type === 'event')) {
				const doc = DOC.events.get(e.name);
				assert.ok(doc, `${contract}.${e.name} missing from EVENTS.md`);
				assert.equal(doc.sig, e.format('sighash'));
				assert.equal(doc.topic0, id(doc.sig));
				assert.equal(doc.topic0, e.topicHash);
				const indexed = e.inputs.filter((i) => i.indexed).map((i) => i.name);
				assert.deepEqual(doc.indexed, indexed, `${e.name} indexed fields`);
				assert.ok(doc.tables.some((t) => t.includes(contract === 'App' ? 'App (' : 'KmsRegistry (')),
					`${e.name} listed under ${contract}`);
				abiEvents.set(`${contract}.${e.name}`, true);
			}
		}
		for (const [name, doc] of DOC.events)
			for (const t of doc.tables) {
				const contract = t.startsWith('App') ? 'App' : 'KmsRegistry';
				assert.ok(abiEvents.has(`${contract}.${name}`), `EVENTS.md lists ${name} under ${contract}, ABI does not`);
			}
		assert.equal(DOC.events.size, 19);

		assert.ok(DOC.functions.length >= 30);
		for (const f of DOC.functions) {
			assert.equal(f.selector, id(f.sig).slice(0, 10), f.sig);
			const where = f.contract === 'both' ? [appIface, kmsIface] : [f.contract === 'App' ? appIface : kmsIface];
			for (const iface of where) {
				const frag = iface.getFunction(f.sig);
				assert.ok(frag, `${f.sig} not in ${f.contract}`);
				assert.equal(frag.selector, f.selector);
			}
		}
		// dstack compatibility of the decision interface.
		assert.equal(appIface.getFunction('isAppAllowed').selector, '0x1e079198');
		const text = readFileSync(EVENTS_MD, 'utf8');
		for (const [iface, name] of [[appIface, 'NotOwner'], [appIface, 'NotPendingOwner'], [appIface, 'ZeroAddress'],
			[appIface, 'UpgradeDelayTooLong']]) {
			const e = iface.getError(name);
			assert.ok(text.includes(`\`${e.format('sighash')}\` \`${e.selector}\``), `${name} in EVENTS.md`);
		}
	});

	test('contracts_bytecode.h carries the compiled creation code and the App runtime code hash', () => {
		const h = readFileSync(join(contractsDir(), 'contracts_bytecode.h'), 'utf8');
		const lit = (name) => {
			const m = new RegExp(`static const char ${name}\\[\\] =\\n((?:\\s*"[0-9a-f]*"\\n?)+);`).exec(h);
			assert.ok(m, `${name} in the header`);
			return [...m[1].matchAll(/"([0-9a-f]*)"/g)].map((x) => x[1]).join('');
		};
		assert.equal('0x' + lit('registry_kms_bytecode_hex'), kmsArt.bytecode);
		assert.equal('0x' + lit('registry_app_bytecode_hex'), appArt.bytecode);
		assert.equal('0x' + lit('registry_app_runtime_codehash_hex'), keccak256(appArt.deployedBytecode));
	});

	test('deploy the registry: owner set, initial policy empty, one OwnershipTransferred', async () => {
		const f = new ContractFactory(kmsArt.abi, kmsArt.bytecode, owner);
		await expectRevert(f.deploy(ZeroAddress), kmsIface, 'ZeroAddress');
		const c = await f.deploy(owner.address);
		const r = await c.deploymentTransaction().wait();
		kmsAddr = await c.getAddress();
		kms = new Contract(kmsAddr, kmsArt.abi, provider);
		expectLogs(r, [[kmsAddr, 'OwnershipTransferred', ZeroAddress, owner.address]]);
		assert.equal(await kms.owner(), owner.address);
		assert.equal(await kms.pendingOwner(), ZeroAddress);
		assert.equal(await kms.gatewayAppId(), '');
		assert.deepEqual([...await kms.kmsInfo()], ['0x', '0x', '0x', '0x']);
		assert.equal(await kms.supportsInterface('0x01ffc9a7'), true);
		assert.equal(await kms.supportsInterface('0x1e079198'), true);
		assert.equal(await kms.supportsInterface('0x8fd37527'), false);
		assert.equal(await kms.supportsInterface('0xffffffff'), false);
	});

	test('registry admin: every change emits its event, no-ops emit nothing, non-owners revert', async () => {
		const k = kms.connect(owner);
		const info = ['0x02' + '11'.repeat(32), '0x04' + '22'.repeat(64), '0x' + 'ab'.repeat(300), '0x' + 'cd'.repeat(40)];
		expectLogs(await send(k.setKmsInfo(info)), [[kmsAddr, 'KmsInfoSet', ...info]]);
		assert.deepEqual([...await kms.kmsInfo()], info);
		const quote2 = '0x' + 'ef'.repeat(10);
		expectLogs(await send(k.setKmsQuote(quote2)), [[kmsAddr, 'KmsInfoSet', info[0], info[1], quote2, info[3]]]);
		const ev2 = '0x' + '99'.repeat(5);
		expectLogs(await send(k.setKmsEventlog(ev2)), [[kmsAddr, 'KmsInfoSet', info[0], info[1], quote2, ev2]]);
		assert.deepEqual([...await kms.kmsInfo()], [info[0], info[1], quote2, ev2]);

		expectLogs(await send(k.setGatewayAppId('gateway-app-0123')), [[kmsAddr, 'GatewayAppIdSet', 'gateway-app-0123']]);
		expectLogs(await send(k.setGatewayAppId('gateway-app-0123')), []);
		assert.equal(await kms.gatewayAppId(), 'gateway-app-0123');

		for (const [add, rm, addEv, rmEv, getter] of [
			['addOsImageHash', 'removeOsImageHash', 'OsImageHashAdded', 'OsImageHashRemoved', 'allowedOsImages'],
			['addKmsAggregatedMr', 'removeKmsAggregatedMr', 'KmsAggregatedMrAdded', 'KmsAggregatedMrRemoved', 'kmsAllowedAggregatedMrs'],
			['addKmsDevice', 'removeKmsDevice', 'KmsDeviceAdded', 'KmsDeviceRemoved', 'kmsAllowedDeviceIds'],
		]) {
			const v = rnd32();
			expectLogs(await send(k[add](v)), [[kmsAddr, addEv, v]]);
			assert.equal(await kms[getter](v), true);
			expectLogs(await send(k[add](v)), []);
			expectLogs(await send(k[rm](v)), [[kmsAddr, rmEv, v]]);
			assert.equal(await kms[getter](v), false);
			expectLogs(await send(k[rm](v)), []);
			await expectRevert(kms.connect(other)[add](v), kmsIface, 'NotOwner', [other.address]);
			await expectRevert(kms.connect(other)[rm](v), kmsIface, 'NotOwner', [other.address]);
		}
		const o = kms.connect(other);
		await expectRevert(o.setKmsInfo(info), kmsIface, 'NotOwner', [other.address]);
		await expectRevert(o.setKmsQuote('0x'), kmsIface, 'NotOwner', [other.address]);
		await expectRevert(o.setKmsEventlog('0x'), kmsIface, 'NotOwner', [other.address]);
		await expectRevert(o.setGatewayAppId('x'), kmsIface, 'NotOwner', [other.address]);
		await expectRevert(o.transferOwnership(other.address), kmsIface, 'NotOwner', [other.address]);

		// The policy the rest of the tests use.
		expectLogs(await send(k.addOsImageHash(OS)), [[kmsAddr, 'OsImageHashAdded', OS]]);
		expectLogs(await send(k.addKmsAggregatedMr(MR)), [[kmsAddr, 'KmsAggregatedMrAdded', MR]]);
		expectLogs(await send(k.addKmsDevice(KDEV)), [[kmsAddr, 'KmsDeviceAdded', KDEV]]);
	});

	test('isKmsAllowed: each rule in dstack order with its exact reason', async () => {
		const ok = bootInfo({ osImageHash: OS, mrAggregated: MR, deviceId: KDEV });
		const d = (b) => decide(kms.isKmsAllowed, b);
		assert.deepEqual(await d(ok), [true, '']);
		assert.deepEqual(await d({ ...ok, tcbStatus: 'OutOfDate' }), [false, 'TCB status is not up to date']);
		assert.deepEqual(await d({ ...ok, tcbStatus: 'uptodate' }), [false, 'TCB status is not up to date']);
		assert.deepEqual(await d({ ...ok, tcbStatus: '' }), [false, 'TCB status is not up to date']);
		assert.deepEqual(await d({ ...ok, osImageHash: OS2 }), [false, 'OS image is not allowed']);
		assert.deepEqual(await d({ ...ok, mrAggregated: rnd32() }), [false, 'Aggregated MR not allowed']);
		assert.deepEqual(await d({ ...ok, deviceId: rnd32() }), [false, 'KMS is not allowed to boot on this device']);
		// First failing check wins.
		assert.deepEqual(await d({ ...ok, tcbStatus: 'OutOfDate', osImageHash: OS2, mrAggregated: rnd32() }),
			[false, 'TCB status is not up to date']);
		assert.deepEqual(await d({ ...ok, osImageHash: OS2, mrAggregated: rnd32(), deviceId: rnd32() }),
			[false, 'OS image is not allowed']);
		assert.deepEqual(await d({ ...ok, mrAggregated: rnd32(), deviceId: rnd32() }), [false, 'Aggregated MR not allowed']);
		// Not checked (as in dstack): mrSystem, instanceId, advisories, appId.
		assert.deepEqual(await d({ ...ok, mrSystem: rnd32(), instanceId: rndAddr(), appId: rndAddr(), advisoryIds: ['INTEL-SA-00001'] }),
			[true, '']);
		// Removal is immediate.
		await send(kms.connect(owner).removeKmsDevice(KDEV));
		assert.deepEqual(await d(ok), [false, 'KMS is not allowed to boot on this device']);
		await send(kms.connect(owner).addKmsDevice(KDEV));
		assert.deepEqual(await d(ok), [true, '']);
	});

	let app1, app1Addr;

	test('factory: deployAndRegisterApp (permissionless) emits the full initial state, then registration', async () => {
		await expectRevert(kms.connect(other).deployAndRegisterApp(ZeroAddress, false, false, ZeroHash, ZeroHash, 0), appIface, 'ZeroAddress');
		await expectRevert(kms.connect(other).deployAndRegisterApp(appOwner.address, false, false, ZeroHash, ZeroHash, 315360001n),
			appIface, 'UpgradeDelayTooLong', [315360001n]);
		// Called by `other`, owned by `appOwner`: whoever pays for the deployment, only the owner governs.
		const { app, addr, receipt } = await deployApp(other, [appOwner.address, false, false, DEV1, H1, 0]);
		app1 = app;
		app1Addr = addr;
		const ts = await now(receipt.blockNumber);
		expectLogs(receipt, [
			[addr, 'OwnershipTransferred', ZeroAddress, appOwner.address],
			[addr, 'TcbRequirementSet', false],
			[addr, 'AllowAnyDeviceSet', false],
			[addr, 'UpgradeDelaySet', 0, ts],
			[addr, 'DeviceAdded', DEV1],
			[addr, 'ComposeHashAdded', H1, ts],
			[kmsAddr, 'AppRegistered', addr],
			[kmsAddr, 'AppDeployedViaFactory', addr, appOwner.address],
		]);
		assert.equal(await kms.registeredApps(addr), true);
		assert.equal(await app.owner(), appOwner.address);
		assert.equal(await app.version(), 2n);
		assert.equal(await app.createdAtBlock(), BigInt(receipt.blockNumber));
		assert.equal(await app.upgradeDelay(), 0n);
		assert.equal(await app.allowedComposeHashes(H1), true);
		assert.equal(await app.composeHashEffectiveAt(H1), BigInt(ts));
		assert.equal(await app.allowedDeviceIds(DEV1), true);
		assert.equal(await app.supportsInterface('0x01ffc9a7'), true);
		assert.equal(await app.supportsInterface('0x1e079198'), true);
		assert.equal(await app.supportsInterface('0x8fd37527'), true);
		assert.equal(await app.supportsInterface('0xffffffff'), false);
		// Same runtime code for every App: the watcher's recognition rule.
		assert.equal(keccak256(await provider.getCode(addr)), keccak256(appArt.deployedBytecode));

		// No initial device / hash: those events are simply absent.
		const bare = await deployApp(other, [appOwner.address, true, true, ZeroHash, ZeroHash, 60]);
		const ts2 = await now(bare.receipt.blockNumber);
		expectLogs(bare.receipt, [
			[bare.addr, 'OwnershipTransferred', ZeroAddress, appOwner.address],
			[bare.addr, 'TcbRequirementSet', true],
			[bare.addr, 'AllowAnyDeviceSet', true],
			[bare.addr, 'UpgradeDelaySet', 60, ts2],
			[kmsAddr, 'AppRegistered', bare.addr],
			[kmsAddr, 'AppDeployedViaFactory', bare.addr, appOwner.address],
		]);
		assert.equal(keccak256(await provider.getCode(bare.addr)), keccak256(appArt.deployedBytecode));
	});

	test('registerApp: permissionless, idempotent, rejects address 0', async () => {
		// An App deployed directly (not via the factory), registered later by anyone.
		const f = new ContractFactory(appArt.abi, appArt.bytecode, appOwner);
		const c = await f.deploy(appOwner.address, false, true, ZeroHash, H2, 0);
		await c.deploymentTransaction().wait();
		const addr = await c.getAddress();
		const b = bootInfo({ appId: addr, osImageHash: OS, composeHash: H2 });
		assert.deepEqual(await decide(kms.isAppAllowed, b), [false, 'App not registered']);
		assert.deepEqual(await decide(c.isAppAllowed, b), [true, '']);   // the app's own view is independent
		expectLogs(await send(kms.connect(other).registerApp(addr)), [[kmsAddr, 'AppRegistered', addr]]);
		expectLogs(await send(kms.connect(other).registerApp(addr)), []);
		assert.deepEqual(await decide(kms.isAppAllowed, b), [true, '']);
		await expectRevert(kms.connect(other).registerApp(ZeroAddress), kmsIface, 'ZeroAddress');
	});

	test('isAppAllowed: registry rules then the app rules, each exact reason', async () => {
		const ok = bootInfo({ appId: app1Addr, composeHash: H1, deviceId: DEV1, osImageHash: OS, tcbStatus: 'OutOfDate' });
		const d = (b) => decide(kms.isAppAllowed, b);
		assert.deepEqual(await d(ok), [true, '']);                     // TCB not required by this app
		assert.deepEqual(await decide(app1.isAppAllowed, ok), [true, '']);
		assert.deepEqual(await d({ ...ok, appId: rndAddr() }), [false, 'App not registered']);
		assert.deepEqual(await d({ ...ok, osImageHash: OS2 }), [false, 'OS image is not allowed']);
		assert.deepEqual(await d({ ...ok, composeHash: H2 }), [false, 'Compose hash not allowed']);
		assert.deepEqual(await d({ ...ok, deviceId: DEV2 }), [false, 'Device not allowed']);
		// The registry's OS rule is not the app's business: the app alone still allows it.
		assert.deepEqual(await decide(app1.isAppAllowed, { ...ok, osImageHash: OS2 }), [true, '']);
		// A registered address without code.
		const eoa = rndAddr();
		await send(kms.connect(other).registerApp(eoa));
		assert.deepEqual(await d({ ...ok, appId: eoa }), [false, 'App not deployed or invalid address']);
		assert.deepEqual(await d({ ...ok, appId: eoa, osImageHash: OS2 }), [false, 'OS image is not allowed']);
		// Order: registered before OS.
		assert.deepEqual(await d({ ...ok, appId: rndAddr(), osImageHash: OS2 }), [false, 'App not registered']);
		// Not checked: mrAggregated, mrSystem, instanceId, advisories.
		assert.deepEqual(await d({ ...ok, mrAggregated: rnd32(), mrSystem: rnd32(), instanceId: rndAddr(), advisoryIds: ['a', 'b'] }),
			[true, '']);
	});

	test('a registered contract that is not an App makes isAppAllowed revert (fails closed)', async () => {
		// The registry itself has no isAppAllowed with this meaning... use a contract with no such function.
		const tt = compileTwoOfTwo();
		const w = await new ContractFactory(tt.abi, tt.bytecode, other).deploy(signerA.address, signerB.address);
		await w.deploymentTransaction().wait();
		const waddr = await w.getAddress();
		await send(kms.connect(other).registerApp(waddr));
		await assert.rejects(kms.isAppAllowed(bootInfo({ appId: waddr, osImageHash: OS })), (e) => e.code === 'CALL_EXCEPTION');
	});

	test('device rules: list vs allowAnyDevice; add/remove devices', async () => {
		const a = app1.connect(appOwner);
		const b = bootInfo({ appId: app1Addr, composeHash: H1, deviceId: DEV2, osImageHash: OS });
		const d = () => decide(kms.isAppAllowed, b);
		assert.deepEqual(await d(), [false, 'Device not allowed']);
		expectLogs(await send(a.addDevice(DEV2)), [[app1Addr, 'DeviceAdded', DEV2]]);
		expectLogs(await send(a.addDevice(DEV2)), []);
		assert.deepEqual(await d(), [true, '']);
		expectLogs(await send(a.removeDevice(DEV2)), [[app1Addr, 'DeviceRemoved', DEV2]]);
		expectLogs(await send(a.removeDevice(DEV2)), []);
		assert.deepEqual(await d(), [false, 'Device not allowed']);
		expectLogs(await send(a.setAllowAnyDevice(true)), [[app1Addr, 'AllowAnyDeviceSet', true]]);
		expectLogs(await send(a.setAllowAnyDevice(true)), []);
		assert.deepEqual(await d(), [true, '']);
		assert.deepEqual(await decide(kms.isAppAllowed, { ...b, deviceId: rnd32() }), [true, '']);
		expectLogs(await send(a.setAllowAnyDevice(false)), [[app1Addr, 'AllowAnyDeviceSet', false]]);
		assert.deepEqual(await d(), [false, 'Device not allowed']);
		assert.deepEqual(await decide(kms.isAppAllowed, { ...b, deviceId: DEV1 }), [true, '']);
	});

	test('TCB rule: off allows any status; on requires exactly "UpToDate" and is checked first', async () => {
		const a = app1.connect(appOwner);
		const b = bootInfo({ appId: app1Addr, composeHash: H1, deviceId: DEV1, osImageHash: OS, tcbStatus: 'SWHardeningNeeded' });
		assert.deepEqual(await decide(kms.isAppAllowed, b), [true, '']);
		expectLogs(await send(a.setRequireTcbUpToDate(true)), [[app1Addr, 'TcbRequirementSet', true]]);
		expectLogs(await send(a.setRequireTcbUpToDate(true)), []);
		assert.deepEqual(await decide(kms.isAppAllowed, b), [false, 'TCB status is not up to date']);
		assert.deepEqual(await decide(kms.isAppAllowed, { ...b, tcbStatus: 'UpToDate' }), [true, '']);
		assert.deepEqual(await decide(kms.isAppAllowed, { ...b, tcbStatus: 'UpToDate ' }), [false, 'TCB status is not up to date']);
		// TCB before compose hash before device.
		assert.deepEqual(await decide(kms.isAppAllowed, { ...b, composeHash: H2, deviceId: DEV2 }), [false, 'TCB status is not up to date']);
		assert.deepEqual(await decide(kms.isAppAllowed, { ...b, tcbStatus: 'UpToDate', composeHash: H2, deviceId: DEV2 }),
			[false, 'Compose hash not allowed']);
		expectLogs(await send(a.setRequireTcbUpToDate(false)), [[app1Addr, 'TcbRequirementSet', false]]);
		assert.deepEqual(await decide(kms.isAppAllowed, b), [true, '']);
	});

	test('compose hashes without delay: add is effective in its own block, removal is immediate', async () => {
		const a = app1.connect(appOwner);
		const b = bootInfo({ appId: app1Addr, composeHash: H2, deviceId: DEV1, osImageHash: OS });
		assert.deepEqual(await decide(kms.isAppAllowed, b), [false, 'Compose hash not allowed']);
		const r = await send(a.addComposeHash(H2));
		expectLogs(r, [[app1Addr, 'ComposeHashAdded', H2, await now(r.blockNumber)]]);
		assert.deepEqual(await decide(kms.isAppAllowed, b, r.blockNumber), [true, '']);
		assert.deepEqual(await decide(kms.isAppAllowed, b, r.blockNumber - 1), [false, 'Compose hash not allowed']);
		const r2 = await send(a.removeComposeHash(H2));
		expectLogs(r2, [[app1Addr, 'ComposeHashRemoved', H2]]);
		expectLogs(await send(a.removeComposeHash(H2)), []);
		assert.deepEqual(await decide(kms.isAppAllowed, b, r2.blockNumber), [false, 'Compose hash not allowed']);
		assert.equal(await app1.composeHashEffectiveAt(H2), 0n);
	});

	test('upgrade delay: a new hash waits N seconds; removal does not wait; delay changes', async () => {
		const DELAY = 3600;
		const { app, addr } = await deployApp(other, [appOwner.address, false, true, ZeroHash, H1, DELAY]);
		const a = app.connect(appOwner);
		const H3 = hash('compose-3');
		const b = bootInfo({ appId: addr, composeHash: H3, osImageHash: OS });
		const d = (tag) => decide(kms.isAppAllowed, b, tag);
		assert.deepEqual(await decide(kms.isAppAllowed, { ...b, composeHash: H1 }), [true, '']);   // initial: at once

		const r = await send(a.addComposeHash(H3));
		const t0 = await now(r.blockNumber);
		expectLogs(r, [[addr, 'ComposeHashAdded', H3, t0 + DELAY]]);
		assert.equal(await app.composeHashEffectiveAt(H3), BigInt(t0 + DELAY));
		assert.deepEqual(await d(r.blockNumber), [false, 'Compose hash not allowed']);
		// One second before: still not allowed.
		await provider.send('evm_mine', [t0 + DELAY - 1]);
		let blk = await provider.getBlockNumber();
		assert.equal(await now(blk), t0 + DELAY - 1);
		assert.deepEqual(await d(blk), [false, 'Compose hash not allowed']);
		assert.equal(await app.allowedComposeHashes(H3, { blockTag: blk }), false);
		// At effectiveAt: allowed.
		await provider.send('evm_mine', [t0 + DELAY]);
		blk = await provider.getBlockNumber();
		assert.deepEqual(await d(blk), [true, '']);
		assert.equal(await app.allowedComposeHashes(H3, { blockTag: blk }), true);
		// Removal is immediate.
		const rr = await send(a.removeComposeHash(H3));
		expectLogs(rr, [[addr, 'ComposeHashRemoved', H3]]);
		assert.deepEqual(await d(rr.blockNumber), [false, 'Compose hash not allowed']);
		// Removing a pending (not yet effective) hash works too.
		const H4 = hash('compose-4');
		await send(a.addComposeHash(H4));
		expectLogs(await send(a.removeComposeHash(H4)), [[addr, 'ComposeHashRemoved', H4]]);
		// Re-adding an effective hash reschedules it (latest event wins).
		await send(a.addComposeHash(H3));
		await provider.send('evm_increaseTime', [DELAY]);
		await provider.send('evm_mine', []);
		assert.deepEqual(await d('latest'), [true, '']);
		const rs = await send(a.addComposeHash(H3));
		const ts = await now(rs.blockNumber);
		expectLogs(rs, [[addr, 'ComposeHashAdded', H3, ts + DELAY]]);
		assert.deepEqual(await d(rs.blockNumber), [false, 'Compose hash not allowed']);

		// An increase applies at once.
		const ri = await send(a.setUpgradeDelay(7200));
		expectLogs(ri, [[addr, 'UpgradeDelaySet', 7200, await now(ri.blockNumber)]]);
		assert.equal(await app.upgradeDelay(), 7200n);
		expectLogs(await send(a.setUpgradeDelay(7200)), []);
		// A decrease waits for the delay in force, and hashes added meanwhile still use the old one.
		const rd = await send(a.setUpgradeDelay(60));
		const td = await now(rd.blockNumber);
		expectLogs(rd, [[addr, 'UpgradeDelaySet', 60, td + 7200]]);
		assert.equal(await app.upgradeDelay(), 7200n);
		const H5 = hash('compose-5');
		const r5 = await send(a.addComposeHash(H5));
		expectLogs(r5, [[addr, 'ComposeHashAdded', H5, (await now(r5.blockNumber)) + 7200]]);
		await provider.send('evm_mine', [td + 7200]);
		assert.equal(await app.upgradeDelay(), 60n);
		const H6 = hash('compose-6');
		const r6 = await send(a.addComposeHash(H6));
		expectLogs(r6, [[addr, 'ComposeHashAdded', H6, (await now(r6.blockNumber)) + 60]]);
		// A pending decrease is replaced by a later increase.
		await send(a.setUpgradeDelay(10));
		assert.equal(await app.upgradeDelay(), 60n);
		const rx = await send(a.setUpgradeDelay(120));
		expectLogs(rx, [[addr, 'UpgradeDelaySet', 120, await now(rx.blockNumber)]]);
		await provider.send('evm_increaseTime', [100]);
		await provider.send('evm_mine', []);
		assert.equal(await app.upgradeDelay(), 120n);
		// To zero (a decrease: waits 120 s).
		const rz = await send(a.setUpgradeDelay(0));
		expectLogs(rz, [[addr, 'UpgradeDelaySet', 0, (await now(rz.blockNumber)) + 120]]);
		await expectRevert(a.setUpgradeDelay(315360001n), appIface, 'UpgradeDelayTooLong', [315360001n]);
		assert.equal(await app.MAX_UPGRADE_DELAY(), 315360000n);
	});

	test('App admin functions revert for non-owners (and leave no logs)', async () => {
		const o = app1.connect(other);
		const x = rnd32();
		for (const [fn, args] of [['addComposeHash', [x]], ['removeComposeHash', [H1]], ['addDevice', [x]], ['removeDevice', [DEV1]],
			['setAllowAnyDevice', [true]], ['setRequireTcbUpToDate', [true]], ['setUpgradeDelay', [5]], ['transferOwnership', [other.address]]])
			await expectRevert(o[fn](...args), appIface, 'NotOwner', [other.address]);
		// The registry owner has no power over an app either.
		await expectRevert(app1.connect(owner).addComposeHash(x), appIface, 'NotOwner', [owner.address]);
		await expectRevert(app1.connect(other).acceptOwnership(), appIface, 'NotPendingOwner', [other.address]);
	});

	test('two-step ownership: an app handed to a 2-of-2 contract wallet, the registry to another EOA', async () => {
		const tt = compileTwoOfTwo();
		const wallet = await new ContractFactory(tt.abi, tt.bytecode, other).deploy(signerA.address, signerB.address);
		await wallet.deploymentTransaction().wait();
		const wAddr = await wallet.getAddress();
		let nonce = 0;
		const viaWallet = async (target, data) => {
			const n = nonce++;
			const r1 = await send(wallet.connect(signerA).approve(target, data, n));
			assert.equal(r1.logs.length, 0);                     // one approval does nothing
			return send(wallet.connect(signerB).approve(target, data, n));
		};

		const a = app1.connect(appOwner);
		expectLogs(await send(a.transferOwnership(wAddr)), [[app1Addr, 'OwnershipTransferStarted', appOwner.address, wAddr]]);
		expectLogs(await send(a.transferOwnership(wAddr)), []);
		assert.equal(await app1.owner(), appOwner.address);         // nothing changes until accepted
		assert.equal(await app1.pendingOwner(), wAddr);
		await expectRevert(app1.connect(signerA).acceptOwnership(), appIface, 'NotPendingOwner', [signerA.address]);
		// Cancel and restart: naming address(0) clears the pending owner.
		expectLogs(await send(a.transferOwnership(ZeroAddress)), [[app1Addr, 'OwnershipTransferStarted', appOwner.address, ZeroAddress]]);
		await expectRevert(app1.connect(signerA).acceptOwnership(), appIface, 'NotPendingOwner', [signerA.address]);
		await send(a.transferOwnership(wAddr));

		const ra = await viaWallet(app1Addr, appIface.encodeFunctionData('acceptOwnership'));
		expectLogs(ra, [[app1Addr, 'OwnershipTransferred', appOwner.address, wAddr]]);
		assert.equal(await app1.owner(), wAddr);
		assert.equal(await app1.pendingOwner(), ZeroAddress);
		await expectRevert(a.addComposeHash(rnd32()), appIface, 'NotOwner', [appOwner.address]);

		// The wallet governs: a compose hash added by its 2-of-2.
		const H7 = hash('compose-7');
		const rh = await viaWallet(app1Addr, appIface.encodeFunctionData('addComposeHash', [H7]));
		expectLogs(rh, [[app1Addr, 'ComposeHashAdded', H7, await now(rh.blockNumber)]]);
		assert.deepEqual(await decide(kms.isAppAllowed, bootInfo({ appId: app1Addr, composeHash: H7, deviceId: DEV1, osImageHash: OS })),
			[true, '']);

		// Registry: to another EOA and back.
		expectLogs(await send(kms.connect(owner).transferOwnership(signerA.address)),
			[[kmsAddr, 'OwnershipTransferStarted', owner.address, signerA.address]]);
		expectLogs(await send(kms.connect(signerA).acceptOwnership()), [[kmsAddr, 'OwnershipTransferred', owner.address, signerA.address]]);
		await expectRevert(kms.connect(owner).addOsImageHash(OS2), kmsIface, 'NotOwner', [owner.address]);
		await send(kms.connect(signerA).transferOwnership(owner.address));
		expectLogs(await send(kms.connect(owner).acceptOwnership()), [[kmsAddr, 'OwnershipTransferred', signerA.address, owner.address]]);
		assert.equal(await kms.owner(), owner.address);
	});

	test('the logs alone rebuild the policy: a fold of EVENTS.md rules agrees with eth_call on random BootInfos', async () => {
		// Some more history so the fold has removals and re-adds to get right.
		const k = kms.connect(owner);
		await send(k.addOsImageHash(OS2));
		await send(k.removeOsImageHash(OS2));
		await send(k.addKmsAggregatedMr(hash('kms-mr-2')));
		const late = await deployApp(other, [appOwner.address, true, false, DEV2, H2, 1000]);
		await send(late.app.connect(appOwner).addComposeHash(hash('compose-late')));   // pending 1000 s
		await send(late.app.connect(appOwner).addDevice(DEV1));

		const blk = await provider.getBlockNumber();
		const ts = await now(blk);
		const model = await foldPolicy(provider, kmsAddr, blk);

		// The fold's view of the registry matches the getters.
		assert.equal(model.reg.gateway, await kms.gatewayAppId({ blockTag: blk }));
		assert.deepEqual([...model.reg.kmsInfo], [...await kms.kmsInfo({ blockTag: blk })]);
		assert.equal(model.reg.owner, await kms.owner({ blockTag: blk }));
		for (const [addr, st] of model.apps) {
			const c = new Contract(addr, appArt.abi, provider);
			assert.equal(st.owner, await c.owner({ blockTag: blk }));
			assert.equal(st.any, await c.allowAnyDevice({ blockTag: blk }));
			assert.equal(st.tcb, await c.requireTcbUpToDate({ blockTag: blk }));
			for (const [h, at] of st.hashes)
				assert.equal(BigInt(at), await c.composeHashEffectiveAt(h, { blockTag: blk }));
		}

		const apps = [...model.apps.keys()];
		const appIds = [...apps, rndAddr(), ...[...model.reg.registered].filter((x) => !model.apps.has(x))];
		// Leave out the registered non-App contract: eth_call reverts for it by design (tested above).
		const code = await Promise.all(appIds.map((x) => provider.getCode(x, blk)));
		const usable = appIds.filter((x, i) => model.apps.has(x) || code[i] === '0x');
		const hashes = [...new Set([...model.apps.values()].flatMap((s) => [...s.hashes.keys()])), rnd32()];
		const devices = [DEV1, DEV2, KDEV, rnd32()];
		const oses = [OS, OS2];
		const mrs = [...model.reg.mrs, rnd32()];
		const tcbs = ['UpToDate', 'OutOfDate', 'ConfigurationNeeded'];
		const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];
		const seen = new Map();
		const N = 300;
		for (let i = 0; i < N; i++) {
			const b = bootInfo({
				appId: pick(usable), composeHash: pick(hashes), deviceId: pick(devices), osImageHash: pick(oses),
				mrAggregated: pick(mrs), mrSystem: rnd32(), instanceId: rndAddr(), tcbStatus: pick(tcbs),
				advisoryIds: i % 7 === 0 ? ['INTEL-SA-00837'] : [],
			});
			const want = modelIsAppAllowed(model, b, ts);
			assert.deepEqual(await decide(kms.isAppAllowed, b, blk), want, JSON.stringify(b));
			const wantKms = modelIsKmsAllowed(model, b);
			assert.deepEqual(await decide(kms.isKmsAllowed, b, blk), wantKms, JSON.stringify(b));
			seen.set(want[1], (seen.get(want[1]) ?? 0) + 1);
			seen.set(`kms:${wantKms[1]}`, (seen.get(`kms:${wantKms[1]}`) ?? 0) + 1);
		}
		// The random sample exercised most outcomes (not a property of the contracts; guards the test).
		assert.ok(seen.size >= 8, `outcomes seen: ${JSON.stringify([...seen])}`);
	});
});
