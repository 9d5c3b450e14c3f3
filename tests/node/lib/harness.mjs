// SPDX-License-Identifier: Apache-2.0
// Shared helpers for the Node integration tests: start a server binary and wait
// for its ready file, stop it by PID and check it exited cleanly, make TLS
// material with the openssl CLI. Everything stays on 127.0.0.1 or unix sockets.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const here = dirname(fileURLToPath(import.meta.url));

/** The source tree root (DS_SOURCE_DIR, or two levels above tests/node/lib). */
export const sourceDir = process.env.DS_SOURCE_DIR || resolve(here, '..', '..', '..');

/** Path of ds_test_server: DS_TEST_SERVER, or the default build directory. */
export function testServerPath() {
	const p = process.env.DS_TEST_SERVER || join(sourceDir, 'build', 'tests', 'integration', 'ds_test_server');
	if (!existsSync(p))
		throw new Error(`ds_test_server not found at ${p} (set DS_TEST_SERVER)`);
	return p;
}

/** Path of the test FileDescriptorSet (DS_TEST_DESCRIPTORS, or the default build directory). */
export function descriptorSetPath() {
	const p = process.env.DS_TEST_DESCRIPTORS || join(sourceDir, 'build', 'tests', 'proto', 'test.pb');
	if (!existsSync(p))
		throw new Error(`test descriptor set not found at ${p} (set DS_TEST_DESCRIPTORS)`);
	return p;
}

/** A fresh private temporary directory; removed by the returned cleanup(). */
export function tempDir(prefix = 'ds-node-') {
	const dir = mkdtempSync(join(tmpdir(), prefix));
	return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const STDERR_KEEP = 256 * 1024;

/**
 * Start `bin` with `args` plus --ready-file, wait (polling, `readyTimeoutMs`)
 * for the ready file, and return the first listener's address and a stop().
 * The ready file has one line per listener: http://host:port, https://host:port
 * or unix:///path.
 */
export async function startServer(bin, args = [], { readyTimeoutMs = 10000, env } = {}) {
	const { dir, cleanup } = tempDir('ds-srv-');
	const readyFile = join(dir, 'ready');
	const proc = spawn(bin, [...args, '--ready-file', readyFile], {
		stdio: ['ignore', 'pipe', 'pipe'],
		env: env ? { ...process.env, ...env } : process.env,
	});
	let stderr = '';
	const keep = (chunk) => {
		stderr += chunk.toString('utf8');
		if (stderr.length > STDERR_KEEP)
			stderr = stderr.slice(stderr.length - STDERR_KEEP);
	};
	proc.stderr.on('data', keep);
	proc.stdout.on('data', keep);
	let exited = null;
	const exitPromise = new Promise((res) => {
		proc.on('exit', (code, signal) => {
			exited = { code, signal };
			res(exited);
		});
	});
	let spawnError = null;
	proc.on('error', (e) => { spawnError = e; });

	const deadline = Date.now() + readyTimeoutMs;
	let lines = null;
	while (Date.now() < deadline) {
		if (spawnError)
			break;
		if (exited)
			break;
		if (existsSync(readyFile)) {
			lines = readFileSync(readyFile, 'utf8').split('\n').filter((l) => l.length > 0);
			break;
		}
		await sleep(20);
	}
	if (!lines) {
		if (!exited && proc.pid) {
			try { process.kill(proc.pid, 'SIGKILL'); } catch { /* already gone */ }
			await exitPromise;
		}
		cleanup();
		const why = spawnError ? `spawn failed: ${spawnError.message}`
			: exited ? `exited early (code ${exited.code}, signal ${exited.signal})`
				: `no ready file within ${readyTimeoutMs} ms`;
		throw new Error(`server ${bin} ${args.join(' ')}: ${why}\n--- server stderr ---\n${stderr}`);
	}

	const first = lines[0];
	let host = null, port = null, socketPath = null;
	if (first.startsWith('unix://')) {
		socketPath = first.slice('unix://'.length);
	} else {
		const u = new URL(first);
		host = u.hostname;
		port = Number(u.port);
	}
	let stopped = false;
	const server = {
		url: first,
		urls: lines,
		host,
		port,
		socketPath,
		proc,
		pid: proc.pid,
		dir,
		stderr: () => stderr,
		exited: () => exited,
		/** SIGTERM by PID; the server must drain and exit 0 within `timeoutMs`. */
		async stop(timeoutMs = 15000) {
			if (stopped)
				return exited;
			stopped = true;
			if (!exited)
				process.kill(proc.pid, 'SIGTERM');
			let timer;
			const timeout = new Promise((res) => { timer = setTimeout(() => res(null), timeoutMs); });
			const r = await Promise.race([exitPromise, timeout]);
			clearTimeout(timer);
			if (!r) {
				try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ }
				await exitPromise;
				cleanup();
				throw new Error(`server pid ${proc.pid} did not exit within ${timeoutMs} ms of SIGTERM\n` +
					`--- server stderr ---\n${stderr}`);
			}
			cleanup();
			if (r.code !== 0 || r.signal !== null)
				throw new Error(`server pid ${proc.pid} exited with code ${r.code} signal ${r.signal} ` +
					`(want code 0)\n--- server stderr ---\n${stderr}`);
			return r;
		},
	};
	return server;
}

/** Start ds_test_server on one loopback TCP listener (plus `extra` arguments). */
export function startTestServer(extra = [], opts = {}) {
	const hasListen = extra.includes('--listen');
	return startServer(testServerPath(), [...(hasListen ? [] : ['--listen', 'tcp://127.0.0.1:0']), ...extra], opts);
}

function openssl(args, cwd) {
	try {
		return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
	} catch (e) {
		throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ? e.stderr.toString() : e.message}`);
	}
}

function makeCa(dir, name) {
	openssl(['req', '-x509', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
		'-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`,
		'-addext', 'basicConstraints=critical,CA:TRUE',
		'-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
	chmodSync(join(dir, `${name}.key`), 0o600);
}

function makeLeaf(dir, name, ca, cn, ext) {
	openssl(['req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
		'-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
	chmodSync(join(dir, `${name}.key`), 0o600);
	writeFileSync(join(dir, `${name}.ext`), ext);
	openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`,
		'-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-sha256', '-extfile', `${name}.ext`], dir);
}

/**
 * TLS material in a fresh temporary directory:
 *   ca.pem / ca.key                  the trusted CA
 *   server.pem / server.key          SAN IP:127.0.0.1, DNS:localhost, signed by ca
 *   client.pem / client.key          clientAuth, signed by ca
 *   other-ca.pem / other-ca.key      an unrelated CA
 *   other-client.pem / .key          clientAuth, signed by other-ca
 * Key files are mode 0600. Returns paths, PEM buffers and cleanup().
 */
export function makeTlsMaterial() {
	const { dir, cleanup } = tempDir('ds-tls-');
	makeCa(dir, 'ca');
	makeCa(dir, 'other-ca');
	makeLeaf(dir, 'server', 'ca', 'localhost',
		'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' +
		'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
	makeLeaf(dir, 'client', 'ca', 'test-client',
		'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
	makeLeaf(dir, 'other-client', 'other-ca', 'other-client',
		'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
	const p = (f) => join(dir, f);
	const r = (f) => readFileSync(p(f));
	return {
		dir,
		cleanup,
		caCert: p('ca.pem'),
		serverCert: p('server.pem'),
		serverKey: p('server.key'),
		clientCert: p('client.pem'),
		clientKey: p('client.key'),
		otherCaCert: p('other-ca.pem'),
		otherClientCert: p('other-client.pem'),
		otherClientKey: p('other-client.key'),
		pem: {
			ca: r('ca.pem'),
			clientCert: r('client.pem'),
			clientKey: r('client.key'),
			otherCa: r('other-ca.pem'),
			otherClientCert: r('other-client.pem'),
			otherClientKey: r('other-client.key'),
		},
	};
}

/** The soft fd limit of this process, as `ulimit -n` reports it (Infinity for unlimited). */
export function fdLimit() {
	const out = execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
	return out === 'unlimited' ? Infinity : Number(out);
}
