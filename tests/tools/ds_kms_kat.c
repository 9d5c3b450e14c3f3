/* SPDX-License-Identifier: Apache-2.0 */
/* ds_kms_kat: every dstack KMS / guest-agent derivation from given root keys, as JSON, for cross-checks in Node. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "crypto.h"
#include "dkdf.h"
#include "dstack_keys.h"
#include "enc.h"
#include "json.h"
#include "k256.h"
#include "x25519.h"

/*
 * A test tool: it prints secret keys on purpose, so the Node tests can
 * recompute and check every value with independent libraries (ethers,
 * @noble/curves, @phala/dstack-sdk). Never point it at real root keys.
 *
 * Exit codes: 0 success, 1 a cryptographic check failed (the JSON says which
 * error), 2 usage or I/O.
 */

#define FILE_MAX (1u << 20)
#define ID_MAX DSTACK_MAX_ID_LEN

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ds_kms_kat derive --root-ca HEX|--root-ca-pem FILE --root-k256 HEX --app-id HEX\n"
		"                         --instance-id HEX [--timestamp N] [--path S] [--purpose S] [--seed HEX]\n"
		"       ds_kms_kat decrypt (--env-key HEX | --root-ca HEX --app-id HEX) (--hex HEX | --in FILE)\n"
		"       ds_kms_kat encrypt --env-pubkey HEX --plaintext S\n"
		"       ds_kms_kat verify-chain --pubkey HEX --purpose S --app-id HEX --sig0 HEX --sig1 HEX\n"
		"                         --root-pubkey HEX\n"
		"Prints one JSON object. derive: every key, public key, signature and address dstack's KMS\n"
		"(GetAppKey, GetAppEnvEncryptPubKey, Bootstrap) and guest agent (GetKey, both algorithms)\n"
		"derive from the given root material; decrypt/encrypt: dstack's .encrypted-env format;\n"
		"verify-chain: the GetKey signature-chain verifier. Test use only: it prints secrets.\n");
}

struct opts {
	const char *root_ca_hex, *root_ca_pem, *root_k256, *app_id, *instance_id, *path, *purpose, *seed;
	const char *env_key, *env_pubkey, *hex, *in, *plaintext, *pubkey, *sig0, *sig1, *root_pubkey;
	uint64_t timestamp;
	int have_timestamp;
};

/* Exactly `want` bytes of hex (0x allowed), or any 1..cap bytes when want is 0. */
static int hex_arg(const char *name, const char *s, uint8_t *out, size_t cap, size_t want, size_t *got)
{
	size_t n = 0;

	if (!s) {
		fprintf(stderr, "ds_kms_kat: --%s is required\n", name);
		return -1;
	}
	if (hex_decode(out, cap, &n, s, strlen(s), 1) != ERR_OK || n == 0 || (want && n != want)) {
		fprintf(stderr, "ds_kms_kat: --%s: expected %zu bytes of hex\n", name, want);
		return -1;
	}
	if (got)
		*got = n;
	return 0;
}

/* Whole file, NUL-terminated (caller frees); NULL on error or above FILE_MAX. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f) {
		fprintf(stderr, "ds_kms_kat: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || (size_t)n > FILE_MAX || fseek(f, 0, SEEK_SET) != 0)
		goto out;
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = 0;
	*len = (size_t)n;
out:
	if (!buf)
		fprintf(stderr, "ds_kms_kat: cannot read %s\n", path);
	fclose(f);
	return buf;
}

static void put_hex(struct buf_writer *w, const char *key, const uint8_t *p, size_t n, int comma)
{
	char *h = malloc(2 * n + 1);

	if (!h)
		abort();
	hex_encode(h, p, n);
	buf_printf(w, "%s\"%s\":\"%s\"", comma ? "," : "", key, h);
	OPENSSL_cleanse(h, 2 * n);
	free(h);
}

static void put_addr(struct buf_writer *w, const char *key, const uint8_t addr[K256_ADDRESS_LEN])
{
	char h[2 * K256_ADDRESS_LEN + 1];

	hex_encode(h, addr, K256_ADDRESS_LEN);
	buf_printf(w, ",\"%s\":\"0x%s\"", key, h);
}

/* Print and free the writer (which wipes: it holds keys). */
static int emit(struct buf_writer *w)
{
	int rc = 0;

	if (buf_writer_status(w) != ERR_OK || fwrite(w->p, 1, w->len, stdout) != w->len || fflush(stdout) != 0)
		rc = 2;
	buf_writer_free(w);
	return rc;
}

static int fail_json(const char *what, err_t e)
{
	printf("{\"ok\":false,\"step\":\"%s\",\"error\":\"%s\"}\n", what, err_name(e));
	return 1;
}

static int load_root_ca(const struct opts *o, uint8_t ca[P256_SCALAR_LEN])
{
	size_t n = 0;
	char *pem;
	err_t e;

	if (o->root_ca_pem) {
		if (!(pem = read_file(o->root_ca_pem, &n)))
			return -1;
		e = p256_scalar_from_pem(pem, n, ca);
		OPENSSL_cleanse(pem, n);
		free(pem);
		if (e != ERR_OK) {
			fprintf(stderr, "ds_kms_kat: %s: %s\n", o->root_ca_pem, err_name(e));
			return -1;
		}
		return 0;
	}
	return hex_arg("root-ca", o->root_ca_hex, ca, P256_SCALAR_LEN, P256_SCALAR_LEN, NULL);
}

/* One GetKey result as {"algorithm":..,"key":..,"pubkey":..,"signature_chain":[sig0,sig1]}. */
static err_t put_getkey(struct buf_writer *w, const char *name, const uint8_t app_k256[K256_SECRET_LEN],
			enum dstack_key_alg alg, const struct opts *o, const uint8_t k256_sig[K256_SIG_LEN])
{
	struct dstack_derived_key dk;
	char s0[2 * K256_SIG_LEN + 1], s1[2 * K256_SIG_LEN + 1];
	err_t e;

	if ((e = dstack_getkey(app_k256, alg, o->path, strlen(o->path), o->purpose, strlen(o->purpose), &dk)) != ERR_OK)
		return e;
	buf_printf(w, ",\"%s\":{\"algorithm\":\"%s\"", name, alg == DSTACK_KEY_ED25519 ? "ed25519" : "secp256k1");
	put_hex(w, "key", dk.key, sizeof(dk.key), 1);
	put_hex(w, "pubkey", dk.pub, dk.pub_len, 1);
	if (alg == DSTACK_KEY_SECP256K1) {
		uint8_t addr[K256_ADDRESS_LEN];

		if ((e = k256_address(dk.pub, dk.pub_len, addr)) != ERR_OK)
			goto out;
		put_addr(w, "address", addr);
	}
	hex_encode(s0, dk.sig, K256_SIG_LEN);
	hex_encode(s1, k256_sig, K256_SIG_LEN);
	buf_printf(w, ",\"signature_chain\":[\"%s\",\"%s\"]}", s0, s1);
out:
	OPENSSL_cleanse(&dk, sizeof(dk));
	return e;
}

static int cmd_derive(const struct opts *o)
{
	struct dstack_root_keys root;
	struct dstack_app_keys app;
	struct dstack_seed_keys sk;
	struct buf_writer w;
	uint8_t app_id[ID_MAX], inst[ID_MAX], seed[64];
	uint8_t spki[P256_SPKI_LEN], p256pub[P256_PUB_LEN], pkcs8[P256_PKCS8_LEN], rd[DSTACK_REPORT_DATA_LEN];
	uint8_t k256pub[K256_PUB_LEN], k256full[K256_PUB_FULL_LEN], addr[K256_ADDRESS_LEN];
	uint8_t envpub[X25519_KEY_LEN], sig[K256_SIG_LEN];
	size_t app_id_len = 0, inst_len = 0, seed_len = 0;
	uint64_t ts = o->have_timestamp ? o->timestamp : wall_s();
	const char *step = "";
	err_t e = ERR_OK;
	int rc = 2;

	memset(&root, 0, sizeof(root));
	memset(&app, 0, sizeof(app));
	memset(&sk, 0, sizeof(sk));
	buf_writer_init(&w, 1u << 20);
	w.wipe = 1;
	if (load_root_ca(o, root.ca) != 0 ||
	    hex_arg("root-k256", o->root_k256, root.k256, K256_SECRET_LEN, K256_SECRET_LEN, NULL) != 0 ||
	    hex_arg("app-id", o->app_id, app_id, sizeof(app_id), 0, &app_id_len) != 0 ||
	    hex_arg("instance-id", o->instance_id, inst, sizeof(inst), 0, &inst_len) != 0 ||
	    (o->seed && hex_arg("seed", o->seed, seed, sizeof(seed), 0, &seed_len) != 0))
		goto out;
	rc = 1;

#define STEP(name, call)                  \
	do {                              \
		step = (name);            \
		if ((e = (call)) != ERR_OK) \
			goto out;         \
	} while (0)

	/* Root material and the bootstrap binding. */
	STEP("root_ca", p256_spki_der(root.ca, spki));
	STEP("root_ca", p256_pubkey(root.ca, p256pub));
	STEP("root_ca", p256_pkcs8_der(root.ca, pkcs8));
	STEP("root_k256", k256_pubkey(root.k256, k256pub));
	STEP("root_k256", k256_pubkey_full(root.k256, k256full));
	STEP("root_k256", k256_address_of_secret(root.k256, addr));
	STEP("bootstrap", dstack_bootstrap_report_data(spki, sizeof(spki), k256pub, rd));
	buf_put_str(&w, "{\"ok\":true,\"root\":{");
	put_hex(&w, "ca_key", root.ca, sizeof(root.ca), 0);
	put_hex(&w, "ca_pkcs8", pkcs8, sizeof(pkcs8), 1);
	put_hex(&w, "ca_pubkey", p256pub, sizeof(p256pub), 1);
	put_hex(&w, "ca_spki", spki, sizeof(spki), 1);
	put_hex(&w, "k256_key", root.k256, sizeof(root.k256), 1);
	put_hex(&w, "k256_pubkey", k256pub, sizeof(k256pub), 1);
	put_hex(&w, "k256_pubkey_full", k256full, sizeof(k256full), 1);
	put_addr(&w, "k256_address", addr);
	put_hex(&w, "bootstrap_report_data", rd, sizeof(rd), 1);
	buf_put_str(&w, "}");

	/* GetAppKey. */
	put_hex(&w, "app_id", app_id, app_id_len, 1);
	put_hex(&w, "instance_id", inst, inst_len, 1);
	STEP("app_keys", dstack_app_keys_derive(&root, app_id, app_id_len, inst, inst_len, &app));
	STEP("app_k256", k256_pubkey(app.k256_key, k256pub));
	STEP("app_k256", k256_address_of_secret(app.k256_key, addr));
	put_hex(&w, "disk_crypt_key", app.disk_crypt_key, sizeof(app.disk_crypt_key), 1);
	put_hex(&w, "env_crypt_key", app.env_crypt_key, sizeof(app.env_crypt_key), 1);
	put_hex(&w, "k256_key", app.k256_key, sizeof(app.k256_key), 1);
	put_hex(&w, "k256_pubkey", k256pub, sizeof(k256pub), 1);
	put_addr(&w, "k256_address", addr);
	put_hex(&w, "k256_signature", app.k256_signature, sizeof(app.k256_signature), 1);
	STEP("app_ca", p256_pubkey(app.app_ca, p256pub));
	STEP("app_ca", p256_pkcs8_der(app.app_ca, pkcs8));
	put_hex(&w, "app_ca_key", app.app_ca, sizeof(app.app_ca), 1);
	put_hex(&w, "app_ca_pubkey", p256pub, sizeof(p256pub), 1);
	put_hex(&w, "app_ca_pkcs8", pkcs8, sizeof(pkcs8), 1);

	/* GetAppEnvEncryptPubKey. */
	STEP("env_pubkey", x25519_public_key(app.env_crypt_key, envpub));
	put_hex(&w, "env_pubkey", envpub, sizeof(envpub), 1);
	STEP("env_signature", dstack_env_pubkey_sign(root.k256, app_id, app_id_len, envpub, sig));
	put_hex(&w, "env_signature", sig, sizeof(sig), 1);
	STEP("env_signature_v1", dstack_env_pubkey_sign_v1(root.k256, app_id, app_id_len, ts, envpub, sig));
	put_hex(&w, "env_signature_v1", sig, sizeof(sig), 1);
	buf_printf(&w, ",\"timestamp\":%llu", (unsigned long long)ts);

	/* Guest agent GetKey, both algorithms, with the KMS's k256_signature as chain[1]. */
	buf_put_str(&w, ",\"path\":");
	json_put_string(&w, o->path, strlen(o->path));
	buf_put_str(&w, ",\"purpose\":");
	json_put_string(&w, o->purpose, strlen(o->purpose));
	STEP("getkey", put_getkey(&w, "getkey_secp256k1", app.k256_key, DSTACK_KEY_SECP256K1, o, app.k256_signature));
	STEP("getkey", put_getkey(&w, "getkey_ed25519", app.k256_key, DSTACK_KEY_ED25519, o, app.k256_signature));

	if (seed_len) {
		STEP("seed", dstack_seed_keys_derive(seed, seed_len, &sk));
		buf_put_str(&w, ",\"seed_keys\":{");
		put_hex(&w, "app_ca_key", sk.app_ca, sizeof(sk.app_ca), 0);
		put_hex(&w, "disk_crypt_key", sk.disk_crypt_key, sizeof(sk.disk_crypt_key), 1);
		put_hex(&w, "k256_key", sk.k256_key, sizeof(sk.k256_key), 1);
		buf_put_str(&w, "}");
	}
#undef STEP
	buf_put_str(&w, "}\n");
	rc = emit(&w);
out:
	buf_writer_free(&w);   /* a no-op after emit */
	if (rc == 1)
		fail_json(step, e);
	OPENSSL_cleanse(&root, sizeof(root));
	dstack_app_keys_wipe(&app);
	OPENSSL_cleanse(&sk, sizeof(sk));
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(pkcs8, sizeof(pkcs8));
	return rc;
}

static int cmd_decrypt(const struct opts *o)
{
	uint8_t key[X25519_KEY_LEN], ca[P256_SCALAR_LEN], app_id[ID_MAX];
	uint8_t *blob = NULL, *pt = NULL;
	char *text = NULL, *hex = NULL;
	size_t app_id_len = 0, tlen = 0, blen = 0, plen = 0;
	struct buf_writer w;
	err_t e;
	int rc = 2;

	buf_writer_init(&w, 4u << 20);
	w.wipe = 1;
	if (o->env_key) {
		if (hex_arg("env-key", o->env_key, key, sizeof(key), sizeof(key), NULL) != 0)
			goto out;
	} else {
		if (load_root_ca(o, ca) != 0 || hex_arg("app-id", o->app_id, app_id, sizeof(app_id), 0, &app_id_len) != 0)
			goto out;
		e = dstack_env_crypt_key(ca, app_id, app_id_len, key);
		OPENSSL_cleanse(ca, sizeof(ca));
		if (e != ERR_OK) {
			rc = fail_json("env_crypt_key", e);
			goto out;
		}
	}
	if (o->in) {
		if (!(text = read_file(o->in, &tlen)))
			goto out;
	} else if (o->hex) {
		tlen = strlen(o->hex);
		if (!(text = malloc(tlen + 1)))
			goto out;
		memcpy(text, o->hex, tlen + 1);
	} else {
		fprintf(stderr, "ds_kms_kat: decrypt needs --hex or --in\n");
		goto out;
	}
	/* Hex text (what encryptEnvVars returns), trailing whitespace allowed. */
	while (tlen && (text[tlen - 1] == '\n' || text[tlen - 1] == '\r' || text[tlen - 1] == ' '))
		tlen--;
	if (!(blob = malloc(tlen / 2 + 1)) || hex_decode(blob, tlen / 2 + 1, &blen, text, tlen, 1) != ERR_OK) {
		fprintf(stderr, "ds_kms_kat: input is not hex\n");
		goto out;
	}
	if (!(pt = malloc(blen + 1)) || !(hex = malloc(2 * blen + 1)))
		goto out;
	if ((e = dstack_env_decrypt(key, blob, blen, pt, blen, &plen)) != ERR_OK) {
		rc = fail_json("decrypt", e);
		goto out;
	}
	hex_encode(hex, pt, plen);
	buf_printf(&w, "{\"ok\":true,\"plaintext_hex\":\"%s\"}\n", hex);
	rc = emit(&w);
out:
	buf_writer_free(&w);
	OPENSSL_cleanse(key, sizeof(key));
	if (pt)
		OPENSSL_cleanse(pt, blen);
	if (hex)
		OPENSSL_cleanse(hex, 2 * blen);
	free(pt);
	free(hex);
	free(blob);
	free(text);
	return rc;
}

static int cmd_encrypt(const struct opts *o)
{
	uint8_t pub[X25519_KEY_LEN], *out = NULL;
	char *hex = NULL;
	size_t len, cap, n = 0;
	err_t e;
	int rc = 2;

	if (hex_arg("env-pubkey", o->env_pubkey, pub, sizeof(pub), sizeof(pub), NULL) != 0 || !o->plaintext) {
		usage(stderr);
		return 2;
	}
	len = strlen(o->plaintext);
	cap = len + DSTACK_ENV_OVERHEAD;
	if (!(out = malloc(cap)) || !(hex = malloc(2 * cap + 1)))
		goto out;
	if ((e = dstack_env_encrypt(pub, o->plaintext, len, out, cap, &n)) != ERR_OK) {
		rc = fail_json("encrypt", e);
		goto out;
	}
	hex_encode(hex, out, n);
	printf("{\"ok\":true,\"encrypted_hex\":\"%s\"}\n", hex);
	rc = fflush(stdout) == 0 ? 0 : 2;
out:
	free(out);
	free(hex);
	return rc;
}

static int cmd_verify_chain(const struct opts *o)
{
	uint8_t pub[64], app_id[ID_MAX], s0[K256_SIG_LEN], s1[K256_SIG_LEN], root[K256_PUB_LEN], app[K256_PUB_LEN];
	size_t pub_len = 0, app_id_len = 0;
	char h[2 * K256_PUB_LEN + 1];
	err_t e;

	if (hex_arg("pubkey", o->pubkey, pub, sizeof(pub), 0, &pub_len) != 0 ||
	    hex_arg("app-id", o->app_id, app_id, sizeof(app_id), 0, &app_id_len) != 0 ||
	    hex_arg("sig0", o->sig0, s0, sizeof(s0), sizeof(s0), NULL) != 0 ||
	    hex_arg("sig1", o->sig1, s1, sizeof(s1), sizeof(s1), NULL) != 0 ||
	    hex_arg("root-pubkey", o->root_pubkey, root, sizeof(root), sizeof(root), NULL) != 0 || !o->purpose)
		return 2;
	e = dstack_verify_key_chain(pub, pub_len, o->purpose, strlen(o->purpose), app_id, app_id_len, s0, s1, root,
				    app);
	if (e != ERR_OK)
		return fail_json("verify", e);
	hex_encode(h, app, sizeof(app));
	printf("{\"ok\":true,\"app_pubkey\":\"%s\"}\n", h);
	return fflush(stdout) == 0 ? 0 : 2;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum {
		O_ROOT_CA = 1, O_ROOT_CA_PEM, O_ROOT_K256, O_APP_ID, O_INSTANCE_ID, O_TIMESTAMP, O_PATH, O_PURPOSE,
		O_SEED, O_ENV_KEY, O_ENV_PUBKEY, O_HEX, O_IN, O_PLAINTEXT, O_PUBKEY, O_SIG0, O_SIG1, O_ROOT_PUBKEY,
	};
	static const struct option longopts[] = {
		{ "root-ca", required_argument, NULL, O_ROOT_CA },
		{ "root-ca-pem", required_argument, NULL, O_ROOT_CA_PEM },
		{ "root-k256", required_argument, NULL, O_ROOT_K256 },
		{ "app-id", required_argument, NULL, O_APP_ID },
		{ "instance-id", required_argument, NULL, O_INSTANCE_ID },
		{ "timestamp", required_argument, NULL, O_TIMESTAMP },
		{ "path", required_argument, NULL, O_PATH },
		{ "purpose", required_argument, NULL, O_PURPOSE },
		{ "seed", required_argument, NULL, O_SEED },
		{ "env-key", required_argument, NULL, O_ENV_KEY },
		{ "env-pubkey", required_argument, NULL, O_ENV_PUBKEY },
		{ "hex", required_argument, NULL, O_HEX },
		{ "in", required_argument, NULL, O_IN },
		{ "plaintext", required_argument, NULL, O_PLAINTEXT },
		{ "pubkey", required_argument, NULL, O_PUBKEY },
		{ "sig0", required_argument, NULL, O_SIG0 },
		{ "sig1", required_argument, NULL, O_SIG1 },
		{ "root-pubkey", required_argument, NULL, O_ROOT_PUBKEY },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case O_ROOT_CA:
			o->root_ca_hex = optarg;
			break;
		case O_ROOT_CA_PEM:
			o->root_ca_pem = optarg;
			break;
		case O_ROOT_K256:
			o->root_k256 = optarg;
			break;
		case O_APP_ID:
			o->app_id = optarg;
			break;
		case O_INSTANCE_ID:
			o->instance_id = optarg;
			break;
		case O_PATH:
			o->path = optarg;
			break;
		case O_PURPOSE:
			o->purpose = optarg;
			break;
		case O_SEED:
			o->seed = optarg;
			break;
		case O_ENV_KEY:
			o->env_key = optarg;
			break;
		case O_ENV_PUBKEY:
			o->env_pubkey = optarg;
			break;
		case O_HEX:
			o->hex = optarg;
			break;
		case O_IN:
			o->in = optarg;
			break;
		case O_PLAINTEXT:
			o->plaintext = optarg;
			break;
		case O_PUBKEY:
			o->pubkey = optarg;
			break;
		case O_SIG0:
			o->sig0 = optarg;
			break;
		case O_SIG1:
			o->sig1 = optarg;
			break;
		case O_ROOT_PUBKEY:
			o->root_pubkey = optarg;
			break;
		case O_TIMESTAMP: {
			char *end = NULL;

			errno = 0;
			o->timestamp = strtoull(optarg, &end, 10);
			if (errno || !end || *end || end == optarg || optarg[0] == '-')
				return fprintf(stderr, "ds_kms_kat: bad --timestamp\n"), -1;
			o->have_timestamp = 1;
			break;
		}
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;

	memset(&o, 0, sizeof(o));
	o.path = "/";
	o.purpose = "signing";
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (parse_args(argc - 1, argv + 1, &o) != 0)
		return 2;
	if (strcmp(argv[1], "derive") == 0)
		return cmd_derive(&o);
	if (strcmp(argv[1], "decrypt") == 0)
		return cmd_decrypt(&o);
	if (strcmp(argv[1], "encrypt") == 0)
		return cmd_encrypt(&o);
	if (strcmp(argv[1], "verify-chain") == 0)
		return cmd_verify_chain(&o);
	usage(stderr);
	return 2;
}
