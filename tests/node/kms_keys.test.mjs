// SPDX-License-Identifier: Apache-2.0
// dstack KMS and guest-agent key derivations (lib/crypto dkdf/dstack_keys via ds_kms_kat) checked by
// independent code: every derived value recomputed with node:crypto (HKDF, PKCS#8/SPKI encoders),
// @noble/curves and ethers; the k256_signature and GetKey chains walked with ethers'
// SigningKey.recoverPublicKey / recoverAddress up to the root key; the env public-key signature
// checked by @phala/dstack-sdk's verifyEnvEncryptPublicKey; env blobs from the SDK's encryptEnvVars
// opened by our decrypt, and ours opened with noble + WebCrypto.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, createHash, hkdfSync, randomBytes, webcrypto } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

import { SigningKey, Signature, computeAddress, recoverAddress, keccak256, concat, hexlify,
	toUtf8Bytes } from 'ethers';
import { p256 } from '@noble/curves/p256';
import { ed25519, x25519 } from '@noble/curves/ed25519';
import { verifyEnvEncryptPublicKey, verifyEnvEncryptPublicKeyLegacy } from '@phala/dstack-sdk';
import { encryptEnvVars } from '@phala/dstack-sdk/encrypt-env-vars';

import { sourceDir, tempDir } from './lib/harness.mjs';

// The SDK's exports map hides package.json: find it next to the resolved entry point (dist/..).
const require = createRequire(import.meta.url);
const SDK_VERSION = JSON.parse(readFileSync(join(dirname(require.resolve('@phala/dstack-sdk')), '..', 'package.json'),
	'utf8')).version;
const TOOL = process.env.DS_KMS_KAT || join(sourceDir, 'build', 'tests', 'tools', 'ds_kms_kat');

// dstack's kdf.rs test vector: the root CA key as PKCS#8 DER, and derive_dh_secret with two contexts.
const KAT_ROOT_PKCS8 = '308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420'
	+ 'f57527cea4ab7ffb49af99b158cdc0e3ec06398f528349ea236b7d2afe19cec1a1440342000491f50522407ce29dce3ed7'
	+ 'd31a15d80c1c42f13a23552d2b33a0ce09ee11e47bce95936f3e7f80d195f879e28e1b144ef37ac9ab8e36a690cbf930b7'
	+ '75897b27';
const KAT_DH_SECRET = '663afd58820be8ad645f9c035e93199d114ab16f738db62393bc1d7d623e8813';

const FIXED = {
	rootCa: 'f57527cea4ab7ffb49af99b158cdc0e3ec06398f528349ea236b7d2afe19cec1',
	rootK256: '0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20',
	appId: '00112233445566778899aabbccddeeff00112233',
	instanceId: 'ffeeddccbbaa99887766554433221100ffeeddcc',
	path: '/wallet/eth',
	purpose: 'signing',
	seed: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
};

// --- the tool --------------------------------------------------------------------------------------

function tool(args) {
	assert.ok(existsSync(TOOL), `ds_kms_kat not found at ${TOOL} (set DS_KMS_KAT)`);
	const r = spawnSync(TOOL, args, { encoding: 'utf8', timeout: 30000 });
	assert.ok(r.status === 0 || r.status === 1, `ds_kms_kat ${args.join(' ')}: exit ${r.status} ${r.stderr}`);
	const v = JSON.parse(r.stdout);
	assert.equal(v.ok, r.status === 0, 'exit code and "ok" disagree');
	return v;
}

function derive(c, timestamp) {
	const args = ['derive', '--root-ca', c.rootCa, '--root-k256', c.rootK256, '--app-id', c.appId,
		'--instance-id', c.instanceId, '--path', c.path, '--purpose', c.purpose];
	if (timestamp !== undefined)
		args.push('--timestamp', String(timestamp));
	if (c.seed)
		args.push('--seed', c.seed);
	return tool(args);
}

// --- an independent implementation of dstack's derivations -----------------------------------------

const hex = (b) => Buffer.from(b).toString('hex');
const buf = (h) => Buffer.from(h.replace(/^0x/, ''), 'hex');
const b64u = (b) => Buffer.from(b).toString('base64url');

/** derive_key: HKDF-SHA256, salt "RATLS", info = the parts concatenated. */
function deriveKey(ikm, parts, n = 32) {
	return Buffer.from(hkdfSync('sha256', ikm, Buffer.from('RATLS'), Buffer.concat(parts.map((p) => Buffer.from(p))), n));
}

const P256_N = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

/** derive_p256_key_pair_from_bytes: null where dstack errors out (0 or >= n). */
function deriveP256(ikm, parts) {
	const d = deriveKey(ikm, parts);
	const v = BigInt('0x' + hex(d));
	return v === 0n || v >= P256_N ? null : d;
}

/** PKCS#8 DER of a P-256 scalar, written by OpenSSL's encoder (node:crypto), not by our code. */
function pkcs8(scalar) {
	const pub = p256.getPublicKey(scalar, false);
	const key = createPrivateKey({ key: { kty: 'EC', crv: 'P-256', d: b64u(scalar), x: b64u(pub.slice(1, 33)),
		y: b64u(pub.slice(33)) }, format: 'jwk' });
	return key.export({ type: 'pkcs8', format: 'der' });
}

function spki(scalar) {
	return createPublicKey(createPrivateKey({ key: pkcs8(scalar), format: 'der', type: 'pkcs8' }))
		.export({ type: 'spki', format: 'der' });
}

const sha256 = (b) => createHash('sha256').update(b).digest();
const dhSecret = (ikm, parts) => sha256(pkcs8(deriveP256(ikm, parts)));
const u64be = (t) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(t)); return b; };
const kmsIssuedDigest = (appId, appPub) => keccak256(concat([toUtf8Bytes('dstack-kms-issued:'), appId, appPub]));
const getKeyDigest = (purpose, pub) => keccak256(toUtf8Bytes(`${purpose}:${hex(pub)}`));
const compressed = (pub) => SigningKey.computePublicKey(pub, true);

/** Our 65-byte r||s||v (v = 0/1) as an ethers Signature. */
function sig65(h) {
	const b = buf(h);
	assert.equal(b.length, 65);
	assert.ok(b[64] === 0 || b[64] === 1, `recovery byte ${b[64]} is not 0/1`);
	return Signature.from({ r: hexlify(b.subarray(0, 32)), s: hexlify(b.subarray(32, 64)), v: 27 + b[64] });
}

/** ethers' deterministic RFC 6979 signature in the same 65-byte form (must equal ours byte for byte). */
function ethersSign(key, digest) {
	const s = new SigningKey('0x' + hex(key)).sign(digest);
	return s.r.slice(2) + s.s.slice(2) + (s.yParity ? '01' : '00');
}

function expected(c, timestamp) {
	const rootCa = buf(c.rootCa), rootK = buf(c.rootK256), appId = buf(c.appId), inst = buf(c.instanceId);
	const rootKey = new SigningKey('0x' + c.rootK256);
	const appK = deriveKey(rootK, [appId, 'app-key']);
	const appKey = new SigningKey('0x' + hex(appK));
	const envSk = dhSecret(rootCa, [appId, 'env-encrypt-key']);
	const envPub = x25519.getPublicKey(envSk);
	const appCa = deriveP256(rootCa, [appId, 'app-ca']);
	const rootSpki = spki(rootCa);
	const bootMsg = `dstack-kms-genereted-keys-v1:${hex(rootSpki)};${rootKey.compressedPublicKey.slice(2)};`;
	const gk = deriveKey(appK, [c.path]);
	const out = {
		root: {
			ca_pkcs8: hex(pkcs8(rootCa)),
			ca_pubkey: hex(p256.getPublicKey(rootCa, false)),
			ca_spki: hex(rootSpki),
			k256_pubkey: rootKey.compressedPublicKey.slice(2),
			k256_pubkey_full: rootKey.publicKey.slice(2),
			k256_address: computeAddress(rootKey).toLowerCase(),
			bootstrap_report_data: keccak256(toUtf8Bytes(bootMsg)).slice(2) + '00'.repeat(32),
		},
		disk_crypt_key: hex(dhSecret(rootCa, [appId, inst, 'app-disk-crypt-key'])),
		env_crypt_key: hex(envSk),
		env_pubkey: hex(envPub),
		k256_key: hex(appK),
		k256_pubkey: appKey.compressedPublicKey.slice(2),
		k256_address: computeAddress(appKey).toLowerCase(),
		k256_signature: ethersSign(rootK, kmsIssuedDigest(appId, appKey.compressedPublicKey)),
		app_ca_key: hex(appCa),
		app_ca_pubkey: hex(p256.getPublicKey(appCa, false)),
		app_ca_pkcs8: hex(pkcs8(appCa)),
		env_signature: ethersSign(rootK, keccak256(concat([toUtf8Bytes('dstack-env-encrypt-pubkey:'), appId, envPub]))),
		env_signature_v1: ethersSign(rootK, keccak256(concat([toUtf8Bytes('dstack-env-encrypt-pubkey:'), appId,
			u64be(timestamp), envPub]))),
		getkey_secp256k1: {
			key: hex(gk),
			pubkey: new SigningKey('0x' + hex(gk)).compressedPublicKey.slice(2),
			address: computeAddress('0x' + hex(gk)).toLowerCase(),
		},
		getkey_ed25519: { key: hex(gk), pubkey: hex(ed25519.getPublicKey(gk)) },
	};
	for (const alg of ['getkey_secp256k1', 'getkey_ed25519'])
		out[alg].signature_chain = [ethersSign(appK, getKeyDigest(c.purpose, buf(out[alg].pubkey))), out.k256_signature];
	if (c.seed) {
		const seed = buf(c.seed);
		out.seed_keys = {
			app_ca_key: hex(deriveP256(seed, ['app-key'])),
			disk_crypt_key: hex(dhSecret(seed, ['app-disk-key'])),
			k256_key: hex(deriveKey(seed, ['app-k256-key'])),
		};
	}
	return out;
}

/** Every field of `want` (recursively) equals the tool's. */
function assertSubset(got, want, where = '') {
	for (const [k, v] of Object.entries(want)) {
		if (v && typeof v === 'object' && !Array.isArray(v))
			assertSubset(got[k], v, `${where}${k}.`);
		else
			assert.deepEqual(got[k], v, `${where}${k}`);
	}
}

function randomCase() {
	return {
		rootCa: hex(p256.utils.randomPrivateKey()),
		rootK256: hex(randomBytes(32)),
		appId: hex(randomBytes(20)),
		instanceId: hex(randomBytes(20)),
		path: `/p/${hex(randomBytes(4))}`,
		purpose: `purpose ${hex(randomBytes(3))}`,
		seed: hex(randomBytes(32)),
	};
}

// --- the tests ----------------------------------------------------------------------------------------

test('kdf.rs known answer: our PKCS#8 writer and derive_dh_secret', () => {
	// Independent side first: node's encoder reproduces the Rust DER, so the JS model is sound.
	assert.equal(hex(pkcs8(buf(FIXED.rootCa))), KAT_ROOT_PKCS8);
	assert.equal(hex(dhSecret(buf(FIXED.rootCa), ['context one', 'context two'])), KAT_DH_SECRET);
	const v = derive(FIXED, 1700000000);
	assert.equal(v.root.ca_pkcs8, KAT_ROOT_PKCS8);
	assert.equal(v.root.ca_key, FIXED.rootCa);
	// The root key read from PEM (as root-ca.key is stored) derives the same.
	const { dir, cleanup } = tempDir('ds-kms-kat-');
	try {
		const pem = join(dir, 'root-ca.key');
		writeFileSync(pem, createPrivateKey({ key: buf(KAT_ROOT_PKCS8), format: 'der', type: 'pkcs8' })
			.export({ type: 'pkcs8', format: 'pem' }));
		const w = tool(['derive', '--root-ca-pem', pem, '--root-k256', FIXED.rootK256, '--app-id', FIXED.appId,
			'--instance-id', FIXED.instanceId, '--timestamp', '1700000000', '--path', FIXED.path,
			'--purpose', FIXED.purpose]);
		for (const k of ['disk_crypt_key', 'env_crypt_key', 'k256_signature', 'app_ca_key', 'env_signature_v1'])
			assert.equal(w[k], v[k], k);
		assert.deepEqual(w.root, v.root);
	} finally {
		cleanup();
	}
});

test('every derived value matches the independent implementation (fixed and random inputs)', () => {
	const cases = [FIXED, ...Array.from({ length: 6 }, randomCase)];
	for (const c of cases) {
		const ts = 1700000000 + Math.floor(Math.random() * 1e8);
		const got = derive(c, ts);
		assert.equal(got.timestamp, ts);
		assert.equal(got.path, c.path);
		assert.equal(got.purpose, c.purpose);
		assertSubset(got, expected(c, ts));
	}
});

test('k256_signature: ethers recovers the root key, and the app address matches', () => {
	const v = derive(FIXED, 1700000000);
	const digest = kmsIssuedDigest(buf(v.app_id), buf(v.k256_pubkey));
	const rootPub = SigningKey.recoverPublicKey(digest, sig65(v.k256_signature));
	assert.equal(compressed(rootPub).slice(2), v.root.k256_pubkey);
	assert.equal(recoverAddress(digest, sig65(v.k256_signature)).toLowerCase(), v.root.k256_address);
	assert.equal(computeAddress(new SigningKey('0x' + FIXED.rootK256)).toLowerCase(), v.root.k256_address);
	// ethers' own key object gives the same app address as ours.
	assert.equal(computeAddress(new SigningKey('0x' + v.k256_key)).toLowerCase(), v.k256_address);
	assert.equal(computeAddress('0x' + v.k256_pubkey).toLowerCase(), v.k256_address);
	// A different app id does not lead to the root.
	const other = kmsIssuedDigest(buf('11'.repeat(20)), buf(v.k256_pubkey));
	assert.notEqual(compressed(SigningKey.recoverPublicKey(other, sig65(v.k256_signature))).slice(2), v.root.k256_pubkey);
});

test('GetKey chain: chain[0] -> app key, chain[1] -> root key, for both algorithms (ethers)', () => {
	for (const c of [FIXED, randomCase(), randomCase()]) {
		const v = derive(c, 1700000000);
		for (const alg of ['getkey_secp256k1', 'getkey_ed25519']) {
			const gk = v[alg];
			assert.equal(gk.pubkey.length, alg === 'getkey_ed25519' ? 64 : 66);
			const appPub = SigningKey.recoverPublicKey(getKeyDigest(c.purpose, buf(gk.pubkey)), sig65(gk.signature_chain[0]));
			assert.equal(compressed(appPub).slice(2), v.k256_pubkey);
			const rootPub = SigningKey.recoverPublicKey(kmsIssuedDigest(buf(c.appId), compressed(appPub)),
				sig65(gk.signature_chain[1]));
			assert.equal(compressed(rootPub).slice(2), v.root.k256_pubkey);
			assert.equal(recoverAddress(kmsIssuedDigest(buf(c.appId), compressed(appPub)), sig65(gk.signature_chain[1]))
				.toLowerCase(), v.root.k256_address);

			// Our verifier agrees on the good chain ...
			const args = ['verify-chain', '--pubkey', gk.pubkey, '--purpose', c.purpose, '--app-id', c.appId,
				'--sig0', gk.signature_chain[0], '--sig1', gk.signature_chain[1], '--root-pubkey', v.root.k256_pubkey];
			const ok = tool(args);
			assert.equal(ok.app_pubkey, v.k256_pubkey);
			// ... and refuses a wrong root, another purpose, a flipped bit, or v = 27.
			const bad = (i, val) => { const a = [...args]; a[i] = val; return tool(a); };
			assert.equal(bad(12, compressed('0x' + hex(randomBytes(32))).slice(2)).error, 'ERR_PROTO_SIGNATURE');
			assert.equal(bad(4, c.purpose + 'x').error, 'ERR_PROTO_SIGNATURE');
			const flipped = buf(gk.signature_chain[1]); flipped[5] ^= 1;
			assert.equal(bad(10, hex(flipped)).error, 'ERR_PROTO_SIGNATURE');
			const v27 = buf(gk.signature_chain[0]); v27[64] += 27;
			assert.equal(bad(8, hex(v27)).error, 'ERR_PROTO_SIGNATURE');
		}
	}
});

test('our verifier accepts a chain made entirely by ethers', () => {
	const root = new SigningKey('0x' + hex(randomBytes(32))), app = new SigningKey('0x' + hex(randomBytes(32)));
	const appId = randomBytes(20), leaf = new SigningKey('0x' + hex(randomBytes(32)));
	const pub = buf(leaf.compressedPublicKey);
	const s0 = app.sign(getKeyDigest('js purpose', pub)), s1 = root.sign(kmsIssuedDigest(appId, app.compressedPublicKey));
	const enc = (s) => s.r.slice(2) + s.s.slice(2) + (s.yParity ? '01' : '00');
	const v = tool(['verify-chain', '--pubkey', hex(pub), '--purpose', 'js purpose', '--app-id', hex(appId),
		'--sig0', enc(s0), '--sig1', enc(s1), '--root-pubkey', root.compressedPublicKey.slice(2)]);
	assert.equal(v.app_pubkey, app.compressedPublicKey.slice(2));
});

test(`env public-key signature accepted by @phala/dstack-sdk ${SDK_VERSION} verifyEnvEncryptPublicKey`, () => {
	const now = Math.floor(Date.now() / 1000);
	for (const c of [FIXED, randomCase()]) {
		const v = derive(c, now);
		const pub = new Uint8Array(buf(v.env_pubkey)), sig = new Uint8Array(buf(v.env_signature_v1));
		const root = '0x' + v.root.k256_pubkey;
		assert.equal(verifyEnvEncryptPublicKey(pub, sig, c.appId, now), root);
		assert.equal(verifyEnvEncryptPublicKey(pub, sig, '0x' + c.appId, BigInt(now)), root);
		assert.equal(verifyEnvEncryptPublicKeyLegacy(pub, new Uint8Array(buf(v.env_signature)), c.appId), root);

		// Tampering: the SDK recovers some other key (or none), never the root.
		const notRoot = (r) => assert.notEqual(r, root);
		const sig2 = Uint8Array.from(sig); sig2[10] ^= 0x40;
		notRoot(verifyEnvEncryptPublicKey(pub, sig2, c.appId, now));
		const pub2 = Uint8Array.from(pub); pub2[0] ^= 1;
		notRoot(verifyEnvEncryptPublicKey(pub2, sig, c.appId, now));
		notRoot(verifyEnvEncryptPublicKey(pub, sig, hex(randomBytes(20)), now));
		notRoot(verifyEnvEncryptPublicKey(pub, sig, c.appId, now - 1));
		// The legacy signature is not a v1 signature and vice versa.
		notRoot(verifyEnvEncryptPublicKey(pub, new Uint8Array(buf(v.env_signature)), c.appId, now));
		notRoot(verifyEnvEncryptPublicKeyLegacy(pub, sig, c.appId));
	}
	// A stale timestamp is the SDK's own refusal (older than its 300 s window): still signed correctly by us.
	const old = derive(FIXED, 1700000000);
	assert.equal(verifyEnvEncryptPublicKey(new Uint8Array(buf(old.env_pubkey)), new Uint8Array(buf(old.env_signature_v1)),
		FIXED.appId, 1700000000, { maxAgeSeconds: 1e10 }), '0x' + old.root.k256_pubkey);
});

test('the SDK\'s encryptEnvVars output opens with our decrypt; tampering is refused with the exact error', async () => {
	const v = derive(FIXED, 1700000000);
	const envs = [{ key: 'DB_PASSWORD', value: 's3cr3t "quoted" \u00e9' }, { key: 'EMPTY', value: '' },
		{ key: 'BIG', value: 'x'.repeat(5000) }];
	const blob = await encryptEnvVars(envs, v.env_pubkey);
	const plain = JSON.stringify({ env: envs });

	let r = tool(['decrypt', '--env-key', v.env_crypt_key, '--hex', blob]);
	assert.equal(Buffer.from(r.plaintext_hex, 'hex').toString('utf8'), plain);
	// The same through the KMS derivation from the root key and app id.
	r = tool(['decrypt', '--root-ca', FIXED.rootCa, '--app-id', FIXED.appId, '--hex', blob]);
	assert.equal(Buffer.from(r.plaintext_hex, 'hex').toString('utf8'), plain);

	const b = buf(blob);
	for (const pos of [0, 31, 32, 43, 44, b.length - 17, b.length - 1]) {
		const t = Buffer.from(b); t[pos] ^= 0x01;
		const e = tool(['decrypt', '--env-key', v.env_crypt_key, '--hex', hex(t)]);
		assert.equal(e.ok, false);
		// A changed ephemeral key gives another shared key (or, rarely, a refused point).
		assert.ok(['ERR_PROTO_DECRYPT', 'ERR_CRYPTO'].includes(e.error), `byte ${pos}: ${e.error}`);
		if (pos >= 32)
			assert.equal(e.error, 'ERR_PROTO_DECRYPT', `byte ${pos}`);
	}
	assert.equal(tool(['decrypt', '--env-key', v.env_crypt_key, '--hex', hex(b.subarray(0, 59))]).error,
		'ERR_PROTO_TRUNCATED');
	assert.equal(tool(['decrypt', '--env-key', v.env_crypt_key, '--hex', hex(b.subarray(0, b.length - 1))]).error,
		'ERR_PROTO_DECRYPT');
	const other = derive({ ...FIXED, appId: 'ab'.repeat(20) }, 1700000000);
	assert.equal(tool(['decrypt', '--env-key', other.env_crypt_key, '--hex', blob]).error, 'ERR_PROTO_DECRYPT');
	// Empty plaintext is a valid 60-byte blob.
	const empty = await encryptEnvVars([], v.env_pubkey);
	assert.equal(Buffer.from(tool(['decrypt', '--env-key', v.env_crypt_key, '--hex', empty]).plaintext_hex, 'hex')
		.toString(), '{"env":[]}');
});

test('our encrypt opens with noble x25519 + WebCrypto AES-GCM (the SDK\'s primitives)', async () => {
	const v = derive(FIXED, 1700000000);
	const text = JSON.stringify({ env: [{ key: 'K', value: 'v' }] });
	const r = tool(['encrypt', '--env-pubkey', v.env_pubkey, '--plaintext', text]);
	const b = buf(r.encrypted_hex);
	assert.equal(b.length, text.length + 60);
	const shared = x25519.getSharedSecret(buf(v.env_crypt_key), b.subarray(0, 32));
	const key = await webcrypto.subtle.importKey('raw', shared, { name: 'AES-GCM' }, false, ['decrypt']);
	const pt = await webcrypto.subtle.decrypt({ name: 'AES-GCM', iv: b.subarray(32, 44) }, key, b.subarray(44));
	assert.equal(Buffer.from(pt).toString('utf8'), text);
});
