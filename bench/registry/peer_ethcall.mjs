// SPDX-License-Identifier: Apache-2.0
// The CheckBoot peer: one `eth_call KmsRegistry.isAppAllowed(bootInfo)` per decision against the node,
// through ethers (what dstack's KMS effectively does per boot through its auth-eth webhook), one at a
// time, for --seconds. The BootInfos alternate between allowed and each denial reason the registry
// state from gen_events.mjs gives; every answer is checked.
//
// usage: node peer_ethcall.mjs --rpc URL --state GEN.json --contracts DIR [--seconds S]
// (GEN.json: gen_events.mjs's output line: registry, app, os, device, and allowed compose hashes)
// Output: one line "peer ops=N seconds=S cpu_seconds=C ops_per_s=X us_per_op=U".
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'tests', 'node', 'package.json'));
const { JsonRpcProvider, Contract, id, ZeroAddress, ZeroHash } = require('ethers');

const { values: opt } = parseArgs({
	options: {
		rpc: { type: 'string' },
		state: { type: 'string' },
		contracts: { type: 'string' },
		seconds: { type: 'string', default: '3' },
	},
});
for (const k of ['rpc', 'state', 'contracts'])
	if (!opt[k]) {
		console.error(`peer_ethcall.mjs: --${k} is required`);
		process.exit(2);
	}
const K = JSON.parse(readFileSync(join(opt.contracts, 'KmsRegistry.json'), 'utf8'));
const provider = new JsonRpcProvider(opt.rpc, undefined, { staticNetwork: true, batchMaxCount: 1 });
const st = JSON.parse(readFileSync(opt.state, 'utf8'));
const reg = new Contract(st.registry, K.abi, provider);

const base = {
	appId: st.app, composeHash: ZeroHash, instanceId: ZeroAddress, deviceId: st.device, mrAggregated: ZeroHash,
	mrSystem: ZeroHash, osImageHash: st.os, tcbStatus: 'UpToDate', advisoryIds: [],
};
// Half allowed (compose hashes gen_events.mjs left allowed), half denied, spread over the reasons.
const probes = [];
for (let i = 0; i < 64; i++) {
	const h = st.allowed[(i * 7919) % st.allowed.length];
	const k = i % 8;
	if (k % 2 === 0)
		probes.push([{ ...base, composeHash: h }, true, '']);
	else if (k === 1)
		probes.push([{ ...base, composeHash: h, appId: '0x' + '11'.repeat(20) }, false, 'App not registered']);
	else if (k === 3)
		probes.push([{ ...base, composeHash: h, osImageHash: id('other-os') }, false, 'OS image is not allowed']);
	else if (k === 5)
		probes.push([{ ...base, composeHash: id('not-added') }, false, 'Compose hash not allowed']);
	else
		probes.push([{ ...base, composeHash: h, deviceId: id('other-device') }, false, 'Device not allowed']);
}

async function one(i) {
	const [b, allowed, reason] = probes[i % probes.length];
	const r = await reg.isAppAllowed(b);
	if (r[0] !== allowed || r[1] !== reason)
		throw new Error(`probe ${i % probes.length}: got ${r[0]} "${r[1]}", want ${allowed} "${reason}"`);
}

for (let i = 0; i < probes.length; i++)   // warm-up and check every probe once
	await one(i);
const secs = Number(opt.seconds);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let ops = 0;
while (performance.now() - t0 < secs * 1000)
	await one(ops++);
const el = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
provider.destroy();
console.log(`peer ops=${ops} seconds=${el.toFixed(3)} cpu_seconds=${((cpu.user + cpu.system) / 1e6).toFixed(3)} ` +
	`ops_per_s=${(ops / el).toFixed(1)} us_per_op=${(el * 1e6 / ops).toFixed(0)}`);
