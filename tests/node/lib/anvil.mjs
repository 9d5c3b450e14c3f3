// SPDX-License-Identifier: Apache-2.0
// Helpers for tests on a real EVM node: start anvil (the prebuilt binary from @foundry-rs/anvil's
// platform package) on 127.0.0.1 with an OS-chosen port, stop it by PID, and load the registry
// contracts' build output (DS_CONTRACTS_DIR, or compile them on the fly with build.mjs).
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

import { sourceDir, tempDir } from './harness.mjs';

const require = createRequire(import.meta.url);

/**
 * Path of the anvil binary: DS_ANVIL, or the platform package @foundry-rs/anvil installs as an
 * optional dependency (spawned directly, not through the bin.mjs wrapper, so the PID is anvil's).
 */
export function anvilPath() {
	if (process.env.DS_ANVIL)
		return process.env.DS_ANVIL;
	const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch];
	const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`;
	let dir;
	try {
		dir = dirname(require.resolve(`${pkg}/package.json`));
	} catch {
		throw new Error(`${pkg} is not installed (npm ci in tests/node), or set DS_ANVIL`);
	}
	const bin = join(dir, 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil');
	if (!existsSync(bin))
		throw new Error(`anvil binary missing at ${bin}`);
	return bin;
}

const OUT_KEEP = 256 * 1024;

/**
 * Start anvil on 127.0.0.1 with port 0 (the kernel picks a free one; anvil prints it), instant
 * mining unless `args` say otherwise. Returns { url, port, pid, output(), stop() }.
 */
export async function startAnvil(args = [], { readyTimeoutMs = 20000 } = {}) {
	const proc = spawn(anvilPath(), ['--host', '127.0.0.1', '--port', '0', ...args], {
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	let out = '';
	const keep = (chunk) => {
		out += chunk.toString('utf8');
		if (out.length > OUT_KEEP)
			out = out.slice(out.length - OUT_KEEP);
	};
	proc.stdout.on('data', keep);
	proc.stderr.on('data', keep);
	let exited = null;
	const exitPromise = new Promise((res) => proc.on('exit', (code, signal) => res(exited = { code, signal })));
	let spawnError = null;
	proc.on('error', (e) => { spawnError = e; });

	const deadline = Date.now() + readyTimeoutMs;
	let port = null;
	while (Date.now() < deadline && !exited && !spawnError) {
		const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(out);
		if (m) {
			port = Number(m[1]);
			break;
		}
		await sleep(20);
	}
	if (!port) {
		if (!exited && proc.pid) {
			try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ }
			await exitPromise;
		}
		throw new Error(`anvil did not start: ${spawnError?.message ?? (exited ? `exited ${JSON.stringify(exited)}` : 'timeout')}\n${out}`);
	}
	let stopped = false;
	return {
		url: `http://127.0.0.1:${port}`,
		port,
		pid: proc.pid,
		output: () => out,
		async stop(timeoutMs = 10000) {
			if (stopped)
				return;
			stopped = true;
			if (!exited) {
				process.kill(proc.pid, 'SIGTERM');
				const t = setTimeout(() => { try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
				await exitPromise;
				clearTimeout(t);
			}
		},
	};
}

let builtDir = null;

/**
 * The directory with the registry contracts' build output (App.json, KmsRegistry.json,
 * contracts_bytecode.h): DS_CONTRACTS_DIR, the default build tree, or a fresh compile into a
 * temporary directory (removed at exit).
 */
export function contractsDir() {
	if (process.env.DS_CONTRACTS_DIR)
		return process.env.DS_CONTRACTS_DIR;
	const def = join(sourceDir, 'build', 'services', 'registry', 'contracts');
	if (existsSync(join(def, 'KmsRegistry.json')))
		return def;
	if (!builtDir) {
		const t = tempDir('ds-contracts-');
		process.on('exit', t.cleanup);
		execFileSync(process.execPath, [join(sourceDir, 'services', 'registry', 'contracts', 'build.mjs'), t.dir],
			{ stdio: ['ignore', 'ignore', 'inherit'] });
		builtDir = t.dir;
	}
	return builtDir;
}

/** { abi, bytecode, deployedBytecode } of a built contract. */
export function loadArtifact(name) {
	return JSON.parse(readFileSync(join(contractsDir(), `${name}.json`), 'utf8'));
}
