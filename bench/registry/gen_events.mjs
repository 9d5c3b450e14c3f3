// SPDX-License-Identifier: Apache-2.0
// bench/registry: deploy the registry contracts on a running anvil and generate N governance events
// (ComposeHashAdded / ComposeHashRemoved on one App, the registry's factory-deployed app), fast: raw
// eth_sendTransaction from anvil's unlocked account 0 with explicit nonces and gas, sent in JSON-RPC
// batches with automine off, then anvil_mine with a block gas limit that fits exactly --per-block
// transactions per block. Checks that every transaction landed and emitted its event. Prints one line:
//   {"registry","app","owner","deployBlock","head","events","mix","perBlock","totalEvents","liveHashes","allowed",
//    "os","device","mr","kmsDevice","seconds"}
// Usage: node gen_events.mjs --rpc URL --contracts DIR [--events N] [--per-block K] [--mix churn|add]
// (DIR: the build's services/registry/contracts, with KmsRegistry.json and App.json)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'tests', 'node', 'package.json'));
const { JsonRpcProvider, ContractFactory, Interface, id } = require('ethers');

function arg(name, dflt) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const rpcUrl = arg('rpc');
const N = Number(arg('events', '10000'));
const perBlock = Number(arg('per-block', '1'));
// add: N x addComposeHash (the app ends with N + 1 hashes; anvil slows down as its state grows).
// churn: addComposeHash(h_j) then removeComposeHash(h_(j-4)) alternately: N events, a few live hashes.
const mix = arg('mix', 'churn');
const dir = arg('contracts', process.env.DS_CONTRACTS_DIR);
if (!rpcUrl || !dir || !(N > 0) || !(perBlock > 0) || !['add', 'churn'].includes(mix)) {
	console.error('usage: node gen_events.mjs --rpc URL --contracts DIR [--events N] [--per-block K] [--mix churn|add]');
	process.exit(2);
}
const load = (name) => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));

/** The compose hash of event i (peer_ethcall.mjs derives the same values). */
const composeHash = (i) => id(`bench-compose-${i}`);

let rpcId = 1;
async function batch(calls) {
	const body = calls.map(([method, params]) => ({ jsonrpc: '2.0', id: rpcId++, method, params }));
	const res = await fetch(rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
	const out = await res.json();
	const list = Array.isArray(out) ? out : [out];
	for (const r of list)
		if (r.error)
			throw new Error(`${JSON.stringify(r.error)}`);
	return list;
}
const call1 = async (method, params = []) => (await batch([[method, params]]))[0].result;

const t0 = performance.now();
const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true, pollingInterval: 20 });
const signer = await provider.getSigner(0);
const owner = await signer.getAddress();
const K = load('KmsRegistry');
const A = load('App');

const OS = id('bench-os-image'), DEV = id('bench-device'), MR = id('bench-kms-mr'), KDEV = id('bench-kms-device');
const reg = await new ContractFactory(K.abi, K.bytecode, signer).deploy(owner);
await reg.waitForDeployment();
const regAddr = await reg.getAddress();
const deployBlock = (await reg.deploymentTransaction().wait()).blockNumber;
const wait = async (p) => { const r = await (await p).wait(); if (r.status !== 1) throw new Error('tx failed'); return r; };
await wait(reg.addOsImageHash(OS));
await wait(reg.addKmsAggregatedMr(MR));
await wait(reg.addKmsDevice(KDEV));
await wait(reg.setGatewayAppId('gateway.bench'));
const rc = await wait(reg.deployAndRegisterApp(owner, false, false, DEV, id('bench-compose-initial'), 0));
const appAddr = rc.logs.map((l) => { try { return reg.interface.parseLog(l); } catch { return null; } })
	.find((e) => e?.name === 'AppDeployedViaFactory').args[0];

// N transactions with explicit nonce and gas, so anvil neither estimates nor reorders, sent in
// batches with automine off. One per block: the block gas limit is lowered below two transactions'
// gas limits (a transaction is included only if its whole gas limit still fits), and anvil_mine makes
// one block per transaction. K per block: K transactions, then evm_mine.
const iface = new Interface(A.abi);
const live = new Set([id('bench-compose-initial')]);
function txData(i) {
	if (mix === 'add' || i % 2 === 0 || (i >> 1) < 4) {
		const h = composeHash(mix === 'add' || i % 2 === 0 ? i : N + i);
		live.add(h);
		return iface.encodeFunctionData('addComposeHash', [h]);
	}
	const h = composeHash(i - 1 - 8);   // the hash added four pairs ago
	live.delete(h);
	return iface.encodeFunctionData('removeComposeHash', [h]);
}
const TX_GAS = 100000;
let nonce = Number(await call1('eth_getTransactionCount', [owner, 'latest']));
const gasLimit0 = (await call1('eth_getBlockByNumber', ['latest', false])).gasLimit;
const BATCH = perBlock === 1 ? 500 : perBlock;
await call1('evm_setAutomine', [false]);
if (perBlock === 1)
	await call1('anvil_setBlockGasLimit', [`0x${(TX_GAS + 10000).toString(16)}`]);
for (let i = 0; i < N;) {
	const n = Math.min(BATCH, N - i);
	const calls = [];
	for (let k = 0; k < n; k++, i++) {
		calls.push(['eth_sendTransaction', [{
			from: owner, to: appAddr, nonce: `0x${(nonce++).toString(16)}`, gas: `0x${TX_GAS.toString(16)}`,
			maxFeePerGas: '0x3b9aca000', maxPriorityFeePerGas: '0x1',
			data: txData(i),
		}]]);
	}
	await batch(calls);
	if (perBlock === 1)
		await call1('anvil_mine', [`0x${n.toString(16)}`]);
	else
		await call1('evm_mine');
}
await call1('anvil_setBlockGasLimit', [gasLimit0]);
await call1('evm_setAutomine', [true]);
const head = Number(await call1('eth_blockNumber'));
const firstGenBlock = rc.blockNumber + 1;
if (head - firstGenBlock + 1 !== Math.ceil(N / perBlock))
	throw new Error(`${head - firstGenBlock + 1} blocks for ${N} transactions, want ${Math.ceil(N / perBlock)}`);
// Every transaction must have landed, one event each (a dropped or reverted one would make the count wrong).
const finalNonce = Number(await call1('eth_getTransactionCount', [owner, 'latest']));
if (finalNonce !== nonce)
	throw new Error(`only ${finalNonce} of ${nonce} transactions mined`);
const logs = await call1('eth_getLogs', [{ address: appAddr, fromBlock: '0x0', toBlock: 'latest' }]);
const appCtorEvents = 6;   // OwnershipTransferred, TcbRequirementSet, AllowAnyDeviceSet, UpgradeDelaySet, DeviceAdded, ComposeHashAdded
if (logs.length !== N + appCtorEvents)
	throw new Error(`${logs.length} App logs, want ${N + appCtorEvents}`);
provider.destroy();
console.log(JSON.stringify({
	registry: regAddr, app: appAddr, owner, deployBlock, head, events: N, mix, perBlock,
	// Every governance event from block 0: the registry's 7 (OwnershipTransferred, 4 setters, AppRegistered,
	// AppDeployedViaFactory), the App constructor's 6, and the N generated.
	totalEvents: 7 + appCtorEvents + N, liveHashes: live.size, allowed: [...live].slice(0, 64),
	os: OS, device: DEV, mr: MR, kmsDevice: KDEV, seconds: (performance.now() - t0) / 1000,
}));
