// SPDX-License-Identifier: Apache-2.0
// The sync-rate peer: the natural ethers.js way to read the same governance events from the same node.
// Per round: provider.getLogs for the registry over [from, head] in one request, Interface.parseLog on
// each log, the apps from AppRegistered, then one getLogs for those apps over the same range and
// parseLog on each. No headers, no checkpoint, no fold, no files: a lower bound for any JS indexer.
//
// usage: node peer_getlogs.mjs --rpc URL --registry ADDRESS --head N --contracts DIR [--from N] [--rounds R]
//                              [--expect-events N]
// Output: one line per round "peer events=N seconds=S cpu_seconds=C events_per_s=X".
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'tests', 'node', 'package.json'));
const { JsonRpcProvider, Interface } = require('ethers');

const { values: opt } = parseArgs({
	options: {
		rpc: { type: 'string' },
		registry: { type: 'string' },
		head: { type: 'string' },
		from: { type: 'string', default: '0' },
		contracts: { type: 'string' },
		rounds: { type: 'string', default: '1' },
		'expect-events': { type: 'string', default: '0' },
	},
});
if (!opt.rpc || !opt.registry || !opt.head || !opt.contracts) {
	console.error('usage: node peer_getlogs.mjs --rpc URL --registry ADDRESS --head N --contracts DIR [--from N] [--rounds R]');
	process.exit(2);
}
const abi = (name) => JSON.parse(readFileSync(join(opt.contracts, `${name}.json`), 'utf8')).abi;
const K = new Interface(abi('KmsRegistry'));
const A = new Interface(abi('App'));
const from = Number(opt.from), head = Number(opt.head), expect = Number(opt['expect-events']);

async function round() {
	// A fresh provider per round: no cached network or block state carried over.
	const provider = new JsonRpcProvider(opt.rpc, undefined, { staticNetwork: true, batchMaxCount: 1 });
	const cpu0 = process.cpuUsage();
	const t0 = performance.now();
	let events = 0;
	const apps = [];
	for (const log of await provider.getLogs({ address: opt.registry, fromBlock: from, toBlock: head })) {
		const ev = K.parseLog(log);
		if (!ev)
			throw new Error(`unknown registry log at ${log.blockNumber}/${log.index}`);
		if (ev.name === 'AppRegistered')
			apps.push(ev.args[0]);
		events++;
	}
	if (apps.length) {
		for (const log of await provider.getLogs({ address: apps, fromBlock: from, toBlock: head })) {
			if (!A.parseLog(log))
				throw new Error(`unknown app log at ${log.blockNumber}/${log.index}`);
			events++;
		}
	}
	const secs = (performance.now() - t0) / 1000;
	const cpu = process.cpuUsage(cpu0);
	provider.destroy();
	if (expect && events !== expect)
		throw new Error(`${events} events, want ${expect}`);
	console.log(`peer events=${events} seconds=${secs.toFixed(3)} cpu_seconds=${((cpu.user + cpu.system) / 1e6).toFixed(3)} ` +
		`events_per_s=${(events / secs).toFixed(1)}`);
}

for (let r = 0; r < Number(opt.rounds); r++)
	await round();
