// SPDX-License-Identifier: Apache-2.0
// The operator CLI against anvil: `dstack-registry deploy` (a key file, signed locally), register-app
// (--deploy through the factory, and an existing App), compose hash / device / OS image / KMS /
// gateway commands (an unlocked account), a non-owner refused, usage errors, and `events` straight
// from the chain and from a running registry (ListEvents), which must agree with each other and with
// the contracts' own state (read with ethers). Everything on 127.0.0.1.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, chmodSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { JsonRpcProvider, Contract, ContractFactory, id, getAddress, ZeroHash } from 'ethers';

import { startServer, tempDir, sourceDir } from './lib/harness.mjs';
import { startAnvil, loadArtifact } from './lib/anvil.mjs';

const BIN = process.env.DS_REGISTRY_BIN || join(sourceDir, 'build', 'services', 'registry', 'dstack-registry');
// anvil's first two well-known development accounts.
const KEY0 = 'ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const ACC0 = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
const ACC1 = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';

function cli(args, { ok = true } = {}) {
	const r = spawnSync(BIN, args, { encoding: 'utf8', timeout: 60000 });
	if (ok)
		assert.equal(r.status, 0, `dstack-registry ${args.join(' ')}:\n${r.stderr}`);
	return r;
}
const json = (r) => JSON.parse(r.stdout);
const lines = (r) => r.stdout.trim().split('\n').filter((l) => l).map((l) => JSON.parse(l));

describe('dstack-registry CLI on anvil', () => {
	let anvil, tmp, keyFile, provider, reg, app, srv;
	const H1 = id('cli-compose-1'), H2 = id('cli-compose-2'), OS = id('cli-os'), DEV = id('cli-device'), MR = id('cli-mr');

	before(async () => {
		assert.ok(existsSync(BIN), `dstack-registry at ${BIN} (set DS_REGISTRY_BIN)`);
		tmp = tempDir('ds-registry-cli-');
		keyFile = join(tmp.dir, 'key');
		writeFileSync(keyFile, `0x${KEY0}\n`);
		chmodSync(keyFile, 0o600);
		anvil = await startAnvil();
		provider = new JsonRpcProvider(anvil.url, undefined, { staticNetwork: true });
	});

	after(async () => {
		await srv?.stop();
		await anvil?.stop();
		tmp?.cleanup();
	});

	test('deploy with a key file: the registry exists, owned by the key\'s address', async () => {
		const out = json(cli(['deploy', '--rpc', anvil.url, '--key-file', keyFile]));
		assert.equal(out.command, 'deploy');
		assert.equal(out.chainId, 31337);
		assert.equal(out.from, ACC0);
		reg = out.registry;
		const K = loadArtifact('KmsRegistry');
		const c = new Contract(reg, K.abi, provider);
		assert.equal(await c.owner(), ACC0);
		assert.equal((await provider.getTransactionReceipt(out.tx)).blockNumber, out.block);
	});

	test('register-app --deploy, then govern it: hashes, device, OS image, KMS, gateway', async () => {
		const A = loadArtifact('App');
		const out = json(cli(['register-app', '--rpc', anvil.url, '--unlocked', ACC0, '--registry', reg, '--deploy',
			'--compose-hash', H1, '--device', DEV, '--require-tcb', '--upgrade-delay', '0']));
		app = out.app;
		assert.ok(getAddress(app));
		const a = new Contract(app, A.abi, provider);
		assert.equal(await a.requireTcbUpToDate(), true);
		assert.equal(await a.allowedDeviceIds(DEV), true);
		cli(['add-compose-hash', '--rpc', anvil.url, '--key-file', keyFile, '--app', app, '--hash', H2]);
		cli(['remove-compose-hash', '--rpc', anvil.url, '--unlocked', ACC0, '--app', app, '--hash', H1]);
		cli(['set-allow-any-device', '--rpc', anvil.url, '--unlocked', ACC0, '--app', app, '--value', 'true']);
		cli(['set-upgrade-delay', '--rpc', anvil.url, '--unlocked', ACC0, '--app', app, '--value', '600']);
		assert.equal(await a.composeHashEffectiveAt(H1), 0n);
		assert.ok(await a.composeHashEffectiveAt(H2) > 0n);
		assert.equal(await a.allowAnyDevice(), true);
		assert.equal(await a.upgradeDelay(), 600n);
		const K = loadArtifact('KmsRegistry');
		const r = new Contract(reg, K.abi, provider);
		cli(['add-os-image', '--rpc', anvil.url, '--key-file', keyFile, '--registry', reg, '--hash', OS]);
		cli(['add-kms-mr', '--rpc', anvil.url, '--unlocked', ACC0, '--registry', reg, '--hash', MR]);
		cli(['add-kms-device', '--rpc', anvil.url, '--unlocked', ACC0, '--registry', reg, '--hash', DEV]);
		cli(['set-gateway-app-id', '--rpc', anvil.url, '--unlocked', ACC0, '--registry', reg, '--value', 'gw-cli']);
		assert.equal(await r.gatewayAppId(), 'gw-cli');
		// The KMS root public keys and bootstrap attestation, from the JSON `dstack-kms bootstrap` prints.
		const info = { caPubkey: Buffer.alloc(91, 0x30).toString('base64'),
			k256Pubkey: Buffer.concat([Buffer.from([2]), Buffer.alloc(32, 0x11)]).toString('base64'),
			attestation: Buffer.from('attestation bytes').toString('base64') };
		const infoFile = join(dirname(keyFile), 'bootstrap-info.json');
		writeFileSync(infoFile, JSON.stringify(info));
		cli(['set-kms-info', '--rpc', anvil.url, '--unlocked', ACC0, '--registry', reg, '--value', infoFile]);
		const ki = await r.kmsInfo();
		assert.equal(ki.k256Pubkey, '0x02' + '11'.repeat(32));
		assert.equal(ki.caPubkey, '0x' + '30'.repeat(91));
		assert.equal(Buffer.from(ki.quote.slice(2), 'hex').toString(), 'attestation bytes');
		writeFileSync(infoFile, JSON.stringify({ ...info, k256Pubkey: Buffer.alloc(20).toString('base64') }));
		assert.equal(cli(['set-kms-info', '--rpc', anvil.url, '--unlocked', ACC0, '--registry', reg, '--value', infoFile],
			{ ok: false }).status, 2);
		const [ok, reason] = await r.isAppAllowed({ appId: app, composeHash: H2, instanceId: ACC1, deviceId: ZeroHash,
			mrAggregated: ZeroHash, mrSystem: ZeroHash, osImageHash: OS, tcbStatus: 'UpToDate', advisoryIds: [] });
		assert.deepEqual([ok, reason], [true, '']);
		// An App deployed on its own, registered afterwards.
		const direct = await new ContractFactory(A.abi, A.bytecode, await provider.getSigner(0))
			.deploy(ACC0, false, true, ZeroHash, H1, 0);
		await direct.waitForDeployment();
		cli(['register-app', '--rpc', anvil.url, '--key-file', keyFile, '--registry', reg, '--app', await direct.getAddress()]);
		assert.equal(await r.registeredApps(await direct.getAddress()), true);
	});

	test('refusals: a non-owner (exit 1), bad arguments (exit 2)', () => {
		let r = cli(['add-os-image', '--rpc', anvil.url, '--unlocked', ACC1, '--registry', reg, '--hash', OS], { ok: false });
		assert.equal(r.status, 1);
		assert.match(r.stderr, /revert|eth_estimateGas|eth_sendTransaction/i);
		const bad = [
			['add-os-image', '--rpc', anvil.url, '--unlocked', ACC0, '--registry', reg, '--hash', '0x1234'],
			['add-os-image', '--rpc', anvil.url, '--registry', reg, '--hash', OS],
			['add-os-image', '--rpc', anvil.url, '--unlocked', ACC0, '--key-file', keyFile, '--registry', reg, '--hash', OS],
			['add-compose-hash', '--rpc', anvil.url, '--unlocked', ACC0, '--hash', H1],
			['register-app', '--rpc', anvil.url, '--unlocked', ACC0, '--registry', reg],
			['set-allow-any-device', '--rpc', anvil.url, '--unlocked', ACC0, '--app', app, '--value', 'maybe'],
			['deploy', '--unlocked', ACC0],
			['events', '--rpc', anvil.url],
		];
		for (const args of bad) {
			r = cli(args, { ok: false });
			assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
		}
		// A key file others can read is refused.
		const loose = join(tmp.dir, 'loose-key');
		writeFileSync(loose, KEY0);
		chmodSync(loose, 0o644);
		r = cli(['add-os-image', '--rpc', anvil.url, '--key-file', loose, '--registry', reg, '--hash', OS], { ok: false });
		assert.equal(r.status, 2);
	});

	test('events: from the chain and from a running registry, the same trail', async () => {
		const chain = lines(cli(['events', '--rpc', anvil.url, '--registry', reg]));
		const names = chain.map((e) => e.name);
		for (const n of ['OwnershipTransferred', 'AppRegistered', 'AppDeployedViaFactory', 'ComposeHashAdded',
			'ComposeHashRemoved', 'AllowAnyDeviceSet', 'UpgradeDelaySet', 'OsImageHashAdded', 'KmsAggregatedMrAdded',
			'KmsDeviceAdded', 'GatewayAppIdSet'])
			assert.ok(names.includes(n), `${n} in ${names.join(',')}`);
		assert.ok(chain.every((e) => e.time > 0 && e.tx.length === 66));
		const onlyApp = lines(cli(['events', '--rpc', anvil.url, '--registry', reg, '--app', app, '--kind', '14']));
		assert.deepEqual(onlyApp.map((e) => e.fields[0].value), [H1, H2]);

		const head = await provider.getBlockNumber();
		const conf = join(tmp.dir, 'registry.conf');
		writeFileSync(conf, ['listen = tcp://127.0.0.1:0', `chain.rpc_urls = ${anvil.url}`, 'chain.id = 31337',
			`chain.kms_contract = ${reg}`, 'chain.confirmations = 0', 'chain.poll_interval = 100ms', 'chain.start_block = 1', ''].join('\n'));
		srv = await startServer(BIN, ['serve', '-c', conf]);
		const url = `http://127.0.0.1:${srv.port}`;
		for (let i = 0; i < 100; i++) {
			const st = await (await fetch(`${url}/dstack.registry.v1.Registry/Status`, { method: 'POST',
				headers: { 'content-type': 'application/json' }, body: '{}' })).json();
			if (Number(st.checkpointBlock ?? 0) >= head)
				break;
			await new Promise((r) => setTimeout(r, 100));
		}
		const svc = lines(cli(['events', '--registry-url', url]));
		const key = (e) => `${e.block}/${e.logIndex} ${e.name} ${e.tx}`;
		assert.deepEqual(svc.map(key), chain.map(key));
		const last2 = lines(cli(['events', '--registry-url', url, '--descending', '--limit', '2']));
		assert.deepEqual(last2.map(key), chain.slice(-2).reverse().map(key));
	});
});
