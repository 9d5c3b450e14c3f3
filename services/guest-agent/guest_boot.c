/* SPDX-License-Identifier: Apache-2.0 */
/* The measured boot: host-shared files -> identity -> RTMR3 events in dstack's order -> keys -> env -> disk -> system-ready. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "dcap.h"
#include "dstack_keys.h"
#include "enc.h"
#include "eventlog.h"
#include "file.h"
#include "guest-agent.h"
#include "kms_client.h"
#include "log.h"
#include "ratls.h"

#define BOOT "boot"
#define SEED_FILE_MAX 256
#define APP_CA_VALIDITY_S (10ull * 365 * 86400)

/* Where the boot is in dstack's event sequence, against what RTMR3 already holds. */
struct boot_ctx {
	const struct guest_config *cfg;
	struct guest_boot *b;
	struct tee *tee;
	struct arena scratch;                  /* the existing log */
	const struct attest_event **have;      /* runtime events already in RTMR3, in order */
	size_t n_have;
	size_t next;                           /* index of the next event this boot measures */
};

static void why(struct guest_boot *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void why(struct guest_boot *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b->why, sizeof(b->why), fmt, ap);
	va_end(ap);
}

static err_t shared_path(const struct guest_config *cfg, const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", cfg->host_shared_dir, name);

	return n > 0 && (size_t)n < cap ? ERR_OK : ERR_CONFIG;
}

/* Read a host-shared file into the boot arena, NUL-terminated. *text NULL (ERR_OK) when absent and optional. */
static err_t read_shared(struct boot_ctx *x, const char *name, size_t max, int required, const char **text,
			 size_t *len)
{
	char path[4096];
	struct buf_writer w;
	err_t err;

	*text = NULL;
	*len = 0;
	if (shared_path(x->cfg, name, path, sizeof(path)) != ERR_OK) {
		why(x->b, "boot.host_shared_dir is too long");
		return ERR_CONFIG;
	}
	buf_writer_init(&w, max);
	w.wipe = 1;
	err = file_read_all(path, max, 0, &w);
	if (err == ERR_NOT_FOUND && !required) {
		buf_writer_free(&w);
		return ERR_OK;
	}
	if (err != ERR_OK) {
		why(x->b, "%s: %s", path, err == ERR_NOT_FOUND ? "not found" : err == ERR_PROTO_TOO_LARGE ? "too large"
											      : strerror(errno));
		buf_writer_free(&w);
		return err;
	}
	*text = arena_memdup(&x->b->mem, w.p ? (const char *)w.p : "", w.len);
	*len = w.len;
	buf_writer_free(&w);
	return *text ? ERR_OK : arena_err(&x->b->mem);
}

/* The runtime events RTMR3 holds already (a restarted agent in the same boot). */
static err_t load_existing(struct boot_ctx *x)
{
	struct attest_eventlog log;
	const char *detail = NULL;
	char *json = NULL;
	size_t len = 0;
	err_t err;

	if ((err = tee_event_log_json(x->tee, &json, &len, &detail)) != ERR_OK)
		goto out;
	if ((err = attest_eventlog_parse_json(json, len, &x->scratch, &log, &detail)) != ERR_OK)
		goto out;
	if (log.n && !(x->have = arena_zalloc(&x->scratch, log.n * sizeof(*x->have)))) {
		err = arena_err(&x->scratch);
		goto out;
	}
	for (size_t i = 0; i < log.n; i++)
		if (log.events[i].imr == 3 && log.events[i].event_type == ATTEST_RUNTIME_EVENT_TYPE)
			x->have[x->n_have++] = &log.events[i];
out:
	free(json);
	if (err != ERR_OK)
		why(x->b, "cannot read the TEE's event log: %s", detail ? detail : err_str(err));
	return err;
}

/*
 * Measure the next event of the sequence: extend RTMR3, or, when RTMR3
 * already holds events (agent restart), check this position holds exactly
 * this event. RTMR3 cannot be reset without a new VM, so a difference
 * (another compose, another KMS) is the end of this boot.
 */
static err_t measure(struct boot_ctx *x, const char *name, const void *payload, size_t len)
{
	const char *detail = NULL;
	err_t err;

	if (x->next < x->n_have) {
		const struct attest_event *e = x->have[x->next];

		if (e->name_len != strlen(name) || memcmp(e->name, name, e->name_len) != 0 || e->payload_len != len ||
		    (len && memcmp(e->payload, payload, len) != 0)) {
			why(x->b,
			    "RTMR3 already holds another boot: runtime event %zu is '%.64s', this boot would measure "
			    "'%s'%s; restart the VM to boot a different app or configuration",
			    x->next, e->name, name, e->name_len == strlen(name) ? " with another payload" : "");
			return ERR_FAILED_PRECONDITION;
		}
		x->next++;
		x->b->resumed = 1;
		log_info(BOOT, "%s: already measured (agent restarted in the same boot)", name);
		return ERR_OK;
	}
	if ((err = tee_extend_runtime_event(x->tee, name, payload, len, &detail)) != ERR_OK) {
		why(x->b, "cannot extend RTMR3 with %s: %s", name, detail ? detail : err_str(err));
		return err;
	}
	x->next++;
	log_info(BOOT, "measured %s (%zu bytes)", name, len);
	return ERR_OK;
}

/* instance_id_seed: dstack regenerates it every boot for key provider none, else keeps the host's. */
static err_t instance_seed(struct boot_ctx *x, uint8_t seed[GUEST_ID_LEN], int *fresh)
{
	struct guest_boot *b = x->b;

	*fresh = 0;
	if (b->ii.has_seed && b->compose.key_provider != GUEST_KP_NONE) {
		memcpy(seed, b->ii.instance_id_seed, GUEST_ID_LEN);
		return ERR_OK;
	}
	if (RAND_bytes(seed, GUEST_ID_LEN) != 1) {
		why(b, "random instance_id_seed: RNG failure");
		return ERR_CRYPTO;
	}
	*fresh = 1;
	return ERR_OK;
}

/* Keep a new seed in .instance_info (not secret) so the next boot of this instance has the same id. */
static void write_instance_info(struct boot_ctx *x, const uint8_t seed[GUEST_ID_LEN])
{
	char path[4096], hs[2 * GUEST_ID_LEN + 1], hi[2 * GUEST_ID_LEN + 1], ha[2 * GUEST_ID_LEN + 1], text[512];
	int n;

	if (!x->cfg->write_instance_info || shared_path(x->cfg, ".instance_info", path, sizeof(path)) != ERR_OK)
		return;
	hex_encode(hs, seed, GUEST_ID_LEN);
	hex_encode(hi, x->b->id.instance_id, GUEST_ID_LEN);
	hex_encode(ha, x->b->id.app_id, GUEST_ID_LEN);
	n = snprintf(text, sizeof(text), "{\"instance_id_seed\":\"%s\",\"instance_id\":\"%s\",\"app_id\":\"%s\"}\n", hs,
		     hi, ha);
	if (file_write_atomic(path, text, (size_t)n, 0644) != ERR_OK)
		log_warn(BOOT, "cannot write %s (%s): the instance id will change at the next boot", path,
			 strerror(errno));
}

static int is_transient(err_t err)
{
	return err_group(err) == ERR_IO || err == ERR_UNAVAILABLE || err == ERR_DEADLINE || err == ERR_OVERLOADED ||
	       err == ERR_POLICY_STALE;
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The KMS root CA's SubjectPublicKeyInfo DER: dstack's key-provider id. */
static err_t root_spki(const char *pem, uint8_t *out, size_t cap, size_t *len)
{
	STACK_OF(X509) *certs = pem_certs_parse(pem, strlen(pem));
	unsigned char *p = out;
	int n;

	if (!certs || sk_X509_num(certs) < 1) {
		sk_X509_pop_free(certs, X509_free);
		return ERR_PROTO_MALFORMED;
	}
	n = i2d_PUBKEY(X509_get0_pubkey(sk_X509_value(certs, 0)), NULL);
	if (n <= 0 || (size_t)n > cap || i2d_PUBKEY(X509_get0_pubkey(sk_X509_value(certs, 0)), &p) != n) {
		sk_X509_pop_free(certs, X509_free);
		return ERR_PROTO_MALFORMED;
	}
	*len = (size_t)n;
	sk_X509_pop_free(certs, X509_free);
	return ERR_OK;
}

/* Check and keep what GetAppKey returned. */
static err_t take_kms_keys(struct boot_ctx *x, const struct kms_client_result *r, const char *url)
{
	const Dstack__Kms__V1__AppKeyResponse *k = r->app_keys;
	struct guest_keys *keys = &x->b->keys;
	uint8_t pub[K256_PUB_LEN], h[K256_HASH_LEN], signer[K256_PUB_LEN];

	if (k->k256_key.len != K256_SECRET_LEN || !k256_secret_is_valid(k->k256_key.data) ||
	    k->k256_signature.len != K256_SIG_LEN || k->disk_crypt_key.len != 32 ||
	    (k->env_crypt_key.len != 32 && k->env_crypt_key.len != 0) || !r->root_ca_pem || !*r->root_ca_pem) {
		why(x->b, "the KMS at %s returned malformed keys", url);
		return ERR_PROTO_MALFORMED;
	}
	/* The chain GetKey hands out must end at the KMS root: check it once here. */
	if (k256_pubkey(k->k256_key.data, pub) != ERR_OK ||
	    dstack_kms_issued_hash(x->b->id.app_id, GUEST_ID_LEN, pub, h) != ERR_OK ||
	    k256_recover(h, k->k256_signature.data, signer) != ERR_OK) {
		why(x->b, "the KMS's k256_signature over the app key does not verify");
		return ERR_PROTO_SIGNATURE;
	}
	if (k->k256_root_pubkey.len == K256_PUB_LEN) {
		if (memcmp(signer, k->k256_root_pubkey.data, K256_PUB_LEN) != 0) {
			why(x->b, "the KMS's k256_signature was not made by its root key");
			return ERR_PROTO_SIGNATURE;
		}
		memcpy(keys->k256_root_pub, k->k256_root_pubkey.data, K256_PUB_LEN);
		keys->has_root_pub = 1;
	}
	memcpy(keys->k256_key, k->k256_key.data, K256_SECRET_LEN);
	memcpy(keys->k256_signature, k->k256_signature.data, K256_SIG_LEN);
	keys->k256_signature_len = K256_SIG_LEN;
	memcpy(keys->disk_crypt_key, k->disk_crypt_key.data, 32);
	keys->has_disk_key = 1;
	if (k->env_crypt_key.len == 32) {
		memcpy(keys->env_crypt_key, k->env_crypt_key.data, 32);
		keys->has_env_key = 1;
	}
	if (k->os_image_hash.len == 32) {
		memcpy(keys->os_image_hash, k->os_image_hash.data, 32);
		keys->has_os_image_hash = 1;
	}
	keys->kms_root_ca_pem = arena_strdup(&x->b->mem, r->root_ca_pem);
	keys->kms_url = arena_strdup(&x->b->mem, url);
	keys->gateway_app_id = arena_strdup(&x->b->mem, k->gateway_app_id ? k->gateway_app_id : "");
	if (!keys->kms_root_ca_pem || !keys->kms_url || !keys->gateway_app_id)
		return arena_err(&x->b->mem);
	return ERR_OK;
}

/*
 * GetAppKey over mutual RA-TLS, each URL in turn, with exponential backoff
 * between rounds. A refusal (the registry denied the boot) is final; only
 * transport-like failures are retried. Nothing is kept from a failed attempt.
 */
static err_t kms_keys(struct boot_ctx *x)
{
	const struct guest_config *cfg = x->cfg;
	struct guest_boot *b = x->b;
	const char *urls[GUEST_MAX_KMS_URLS];
	size_t nurls = 0;
	char *root_pem = NULL;
	uint32_t backoff = cfg->kms_backoff_ms;
	err_t err = ERR_UNAVAILABLE;

	if (cfg->kms_url)
		urls[nurls++] = cfg->kms_url;
	for (size_t i = 0; i < b->sys.n_kms_urls && nurls < GUEST_MAX_KMS_URLS; i++)
		urls[nurls++] = b->sys.kms_urls[i];
	if (nurls == 0) {
		why(b, "key provider kms, but no KMS URL (sys-config kms_urls or boot.kms_url)");
		return ERR_CONFIG;
	}
	if (cfg->kms_root_ca) {
		/* A certificate is public: no permission check. */
		struct buf_writer w;

		buf_writer_init(&w, 64 * 1024);
		if ((err = file_read_all(cfg->kms_root_ca, 64 * 1024, 0, &w)) != ERR_OK || !buf_cstr(&w)) {
			buf_writer_free(&w);
			why(b, "boot.kms_root_ca %s: %s", cfg->kms_root_ca, err_str(err));
			return err != ERR_OK ? err : ERR_NOMEM;
		}
		/* kms_client compares the PEM text: one trailing newline, as PEM writers end it. */
		while (w.len && (w.p[w.len - 1] == '\n' || w.p[w.len - 1] == '\r' || w.p[w.len - 1] == ' '))
			w.len--;
		buf_put_u8(&w, '\n');
		root_pem = buf_cstr(&w) ? strdup(buf_cstr(&w)) : NULL;
		buf_writer_free(&w);
		if (!root_pem)
			return ERR_NOMEM;
	}
	for (uint32_t attempt = 1; attempt <= cfg->kms_attempts; attempt++) {
		for (size_t u = 0; u < nurls; u++) {
			struct kms_client_opts o = {
				.url = urls[u], .root_ca_pem = root_pem, .quote = ratls_tee_quote, .quote_arg = x->tee,
				.timeout_ms = cfg->kms_timeout_ms,
			};
			struct kms_client_result r;
			struct arena mem;
			const char *detail = NULL;

			arena_init(&mem, 8u << 20, 0);
			mem.wipe = 1;
			err = kms_client_get_app_key(&o, *b->sys.vm_config ? b->sys.vm_config : "{}", &mem, &r, &detail);
			if (err == ERR_OK) {
				err = take_kms_keys(x, &r, urls[u]);
				arena_fini(&mem);
				if (err == ERR_OK)
					log_info(BOOT, "app keys from the KMS at %s (attempt %u)", urls[u], attempt);
				goto out;
			}
			if (err == ERR_POLICY_DENIED || r.code == RPC_PERMISSION_DENIED) {
				why(b, "the KMS at %s refused the keys: %s", urls[u],
				    r.message && *r.message ? r.message : detail ? detail : err_str(err));
				arena_fini(&mem);
				err = ERR_POLICY_DENIED;
				goto out;
			}
			why(b, "KMS %s: %s: %s%s%s", urls[u], detail ? detail : "GetAppKey failed", err_str(err),
			    r.message && *r.message ? ": " : "", r.message ? r.message : "");
			arena_fini(&mem);
			if (!is_transient(err))
				goto out;
			log_warn(BOOT, "%s (attempt %u of %u)", b->why, attempt, cfg->kms_attempts);
		}
		if (attempt < cfg->kms_attempts) {
			log_warn(BOOT, "no KMS reachable; retrying in %u ms", backoff);
			sleep_ms(backoff);
			backoff = backoff > cfg->kms_backoff_max_ms / 2 ? cfg->kms_backoff_max_ms : backoff * 2;
		}
	}
	{
		char last[GUEST_WHY_MAX];

		memcpy(last, b->why, sizeof(last));
		why(b, "no KMS answered after %u attempts (last: %.400s)", cfg->kms_attempts, last);
	}
out:
	if (root_pem) {
		secure_wipe(root_pem, strlen(root_pem));
		free(root_pem);
	}
	return err;
}

/* Key provider none: the local seed (boot.local_seed_file, 64 hex digits) or a random one, as dstack does. */
static err_t seed_keys(struct boot_ctx *x)
{
	struct guest_boot *b = x->b;
	struct dstack_seed_keys sk;
	uint8_t seed[32];
	char *text = NULL;
	size_t len = 0, n = 0;
	err_t err;

	if (x->cfg->local_seed_file) {
		if ((err = conf_read_secret(x->cfg->local_seed_file, SEED_FILE_MAX, &text, &len)) != ERR_OK) {
			why(b, "boot.local_seed_file %s: %s", x->cfg->local_seed_file, err_str(err));
			return err;
		}
		while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
			len--;
		err = hex_decode(seed, sizeof(seed), &n, text, len, 1);
		secure_wipe(text, strlen(text));
		free(text);
		if (err != ERR_OK || n != sizeof(seed)) {
			why(b, "boot.local_seed_file %s: must hold 64 hex digits", x->cfg->local_seed_file);
			secure_wipe(seed, sizeof(seed));
			return ERR_CONFIG;
		}
		log_info(BOOT, "key provider none: keys from the local seed file");
	} else {
		if (RAND_priv_bytes(seed, sizeof(seed)) != 1) {
			why(b, "random seed: RNG failure");
			return ERR_CRYPTO;
		}
		log_warn(BOOT, "key provider none: random keys for this boot only (set boot.local_seed_file to keep them)");
	}
	err = dstack_seed_keys_derive(seed, sizeof(seed), &sk);
	secure_wipe(seed, sizeof(seed));
	if (err != ERR_OK) {
		why(b, "deriving keys from the seed: %s", err_str(err));
		return err;
	}
	memcpy(b->keys.k256_key, sk.k256_key, K256_SECRET_LEN);
	memcpy(b->keys.disk_crypt_key, sk.disk_crypt_key, 32);
	b->keys.has_disk_key = 1;
	b->keys.app_ca_key = p256_pkey_from_scalar(sk.app_ca);
	OPENSSL_cleanse(&sk, sizeof(sk));
	if (!b->keys.app_ca_key) {
		why(b, "app CA key: OpenSSL failure");
		return ERR_CRYPTO;
	}
	return ERR_OK;
}

/* The self-signed app root of key provider none (dstack: CN "App Root Cert", with RA-TLS evidence). */
static err_t app_ca_cert(struct boot_ctx *x)
{
	struct guest_keys *k = &x->b->keys;
	struct ratls_cert_params p = {
		.org = "Dstack", .cn = "App Root Cert", .not_after = wall_s() + APP_CA_VALIDITY_S, .is_ca = 1,
		.path_len = 0, .app_id = x->b->id.app_id, .usage = RATLS_USAGE_APP_CA,
	};
	struct buf_writer w;
	const char *detail = NULL;
	err_t err;

	if ((err = ratls_cert_new_attested(&p, k->app_ca_key, ratls_tee_quote, x->tee, NULL, k->app_ca_key,
					   &k->app_ca_cert, &detail)) != ERR_OK) {
		why(x->b, "app root certificate: %s", detail ? detail : err_str(err));
		return err;
	}
	buf_writer_init(&w, 64 * 1024);
	if ((err = ratls_cert_pem(k->app_ca_cert, &w)) == ERR_OK && !(k->app_ca_pem = arena_memdup(&x->b->mem, w.p, w.len)))
		err = arena_err(&x->b->mem);
	buf_writer_free(&w);
	return err;
}

/* Run cryptsetup with the passphrase on stdin (never in argv, never on disk). Returns the exit status or -1. */
static int cryptsetup(const struct guest_config *cfg, const char *const *args, const char *pass)
{
	const char *argv[12];
	int fds[2] = { -1, -1 }, status = 0;
	size_t n = 0;
	pid_t pid;

	argv[n++] = cfg->cryptsetup;
	for (; *args && n + 1 < ARRAY_LEN(argv); args++)
		argv[n++] = *args;
	argv[n] = NULL;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		if (dup2(fds[0], 0) < 0)
			_exit(127);
		execv(cfg->cryptsetup, (char *const *)UNCONST(argv));
		_exit(127);
	}
	close(fds[0]);
	if (pass && write_all(fds[1], pass, strlen(pass)) != ERR_OK)
		log_warn(BOOT, "cryptsetup did not read its key");
	close(fds[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The LUKS2 data disk with passphrase hex(disk_crypt_key), as dstack does; only when one is configured. */
static err_t data_disk(struct boot_ctx *x)
{
	const struct guest_config *cfg = x->cfg;
	char pass[2 * 32 + 1];
	int rc;
	err_t err = ERR_OK;

	if (!cfg->data_disk) {
		log_info(BOOT, "no data disk configured (boot.data_disk): skipping disk encryption; the app has no "
			       "persistent encrypted storage");
		return ERR_OK;
	}
	{
		const char *status[] = { "status", cfg->data_disk_name, NULL };

		if (cryptsetup(cfg, status, NULL) == 0) {
			log_info(BOOT, "data disk %s already open as %s", cfg->data_disk, cfg->data_disk_name);
			x->b->disk_opened = 1;
			return ERR_OK;
		}
	}
	hex_encode(pass, x->b->keys.disk_crypt_key, 32);
	{
		const char *is_luks[] = { "isLuks", cfg->data_disk, NULL };
		const char *format[] = { "luksFormat", "--type", "luks2", "--batch-mode", "--key-file=-", cfg->data_disk,
					 NULL };

		rc = cryptsetup(cfg, is_luks, NULL);
		if (rc != 0) {
			log_info(BOOT, "data disk %s is not LUKS yet: formatting it", cfg->data_disk);
			if ((rc = cryptsetup(cfg, format, pass)) != 0) {
				why(x->b, "cryptsetup luksFormat %s failed (exit %d)", cfg->data_disk, rc);
				err = ERR_IO_FILE;
				goto out;
			}
		}
	}
	{
		const char *open_[] = { "luksOpen", "--key-file=-", cfg->data_disk, cfg->data_disk_name, NULL };

		if ((rc = cryptsetup(cfg, open_, pass)) != 0) {
			why(x->b, "cryptsetup luksOpen %s failed (exit %d): wrong key or damaged header", cfg->data_disk, rc);
			err = ERR_IO_FILE;
			goto out;
		}
	}
	x->b->disk_opened = 1;
	log_info(BOOT, "data disk %s open as /dev/mapper/%s", cfg->data_disk, cfg->data_disk_name);
out:
	secure_wipe(pass, sizeof(pass));
	return err;
}

static err_t decrypt_env(struct boot_ctx *x)
{
	struct guest_boot *b = x->b;
	const char *blob = NULL, *detail = NULL;
	size_t len = 0;
	err_t err;

	if ((err = read_shared(x, ".encrypted-env", GUEST_ENV_FILE_MAX, 0, &blob, &len)) != ERR_OK)
		return err;
	if (!blob || len == 0) {
		log_info(BOOT, "no .encrypted-env");
		return ERR_OK;
	}
	if (!b->keys.has_env_key) {
		why(b, ".encrypted-env is present but key provider %s has no env key (only the KMS derives one)",
		    guest_key_provider_name(b->keys.provider));
		return ERR_FAILED_PRECONDITION;
	}
	if ((err = guest_env_decrypt(b->keys.env_crypt_key, (const uint8_t *)blob, len, &b->compose, &b->mem, &b->env,
				     &detail)) != ERR_OK) {
		why(b, "%s", detail ? detail : err_str(err));
		return err;
	}
	log_info(BOOT, "encrypted env: %zu variables allowed, %zu not in allowed_envs (dropped)", b->env.n,
		 b->env.n_dropped);
	return ERR_OK;
}

/* mrconfigid & co. and the device id from one quote, for Info (TDX and sim; SEV-SNP has neither). */
static void info_evidence(struct boot_ctx *x)
{
	uint8_t rd[TEE_REPORT_DATA_LEN] = { 0 };
	struct tee_evidence ev;
	struct dcap_quote q;
	struct attest_td_report td;
	struct dcap_pck_info pck;
	const char *detail = NULL;

	memset(&ev, 0, sizeof(ev));
	if (tee_quote(x->tee, rd, &ev, &detail) != ERR_OK || ev.platform != TEE_PLATFORM_TDX ||
	    dcap_quote_parse(ev.quote, ev.quote_len, &q, &detail) != ERR_OK ||
	    (q.body_type != DCAP_BODY_TD10 && q.body_type != DCAP_BODY_TD15)) {
		tee_evidence_free(&ev);
		return;
	}
	dcap_td_report_decode(q.body, q.body_len, &td);
	memcpy(x->b->mrconfigid, td.mrconfigid, 48);
	memcpy(x->b->mrowner, td.mrowner, 48);
	memcpy(x->b->mrownerconfig, td.mrownerconfig, 48);
	x->b->has_td = 1;
	if (q.cert_type == DCAP_CERT_PCK_CHAIN) {
		STACK_OF(X509) *chain = pem_certs_parse((const char *)q.cert_data, q.cert_data_len);

		if (chain && sk_X509_num(chain) > 0 && dcap_pck_cert_info(sk_X509_value(chain, 0), &pck, &detail) == ERR_OK) {
			sha256(pck.ppid, sizeof(pck.ppid), x->b->device_id);
			x->b->has_device_id = 1;
		}
		sk_X509_pop_free(chain, X509_free);
	}
	tee_evidence_free(&ev);
}

static err_t read_inputs(struct boot_ctx *x)
{
	struct guest_boot *b = x->b;
	const char *text, *detail = NULL;
	size_t len;
	err_t err;

	if ((err = read_shared(x, "app-compose.json", GUEST_COMPOSE_MAX, 1, &b->compose_text, &b->compose_len)) != ERR_OK)
		return err;
	if ((err = guest_compose_parse(b->compose_text, b->compose_len, &b->mem, &b->compose, &detail)) != ERR_OK) {
		why(b, "app-compose.json: %s", detail ? detail : err_str(err));
		return err;
	}
	if (b->compose.key_provider == GUEST_KP_LOCAL || b->compose.key_provider == GUEST_KP_TPM) {
		why(b, "app-compose.json: key provider %s is not supported (kms or none)",
		    guest_key_provider_name(b->compose.key_provider));
		return ERR_UNIMPLEMENTED;
	}
	b->sys.vm_config = "";
	if ((err = read_shared(x, ".sys-config.json", GUEST_SYS_CONFIG_MAX, 0, &text, &len)) != ERR_OK)
		return err;
	if (text && (err = guest_sys_config_parse(text, len, &b->mem, &b->sys, &detail)) != ERR_OK) {
		why(b, ".sys-config.json: %s", detail ? detail : err_str(err));
		return err;
	}
	if ((err = read_shared(x, ".instance_info", GUEST_INSTANCE_INFO_MAX, 0, &text, &len)) != ERR_OK)
		return err;
	if (text && (err = guest_instance_info_parse(text, len, &b->mem, &b->ii, &detail)) != ERR_OK) {
		why(b, ".instance_info: %s", detail ? detail : err_str(err));
		return err;
	}
	return ERR_OK;
}

static err_t boot_steps(struct boot_ctx *x)
{
	struct guest_boot *b = x->b;
	const char *detail = NULL;
	uint8_t seed[GUEST_ID_LEN], spki[256];
	size_t spki_len = 0;
	int fresh_seed = 0, measured_os = 0;
	char hexid[2 * sizeof(spki) + 1];
	err_t err;

	if ((err = read_inputs(x)) != ERR_OK)
		return err;
	if (!b->compose.no_instance_id && (err = instance_seed(x, seed, &fresh_seed)) != ERR_OK)
		return err;
	guest_identity_compute(b->compose_text, b->compose_len, &b->compose, &b->ii,
			       b->compose.no_instance_id ? NULL : seed, &b->id);
	b->keys.provider = b->compose.key_provider;
	if ((err = guest_tee_open(x->cfg, b->compose.event_log_version, &x->tee, &detail)) != ERR_OK) {
		why(b, "TEE backend: %s", detail ? detail : err_str(err));
		return err;
	}
	if ((err = load_existing(x)) != ERR_OK)
		return err;
	if (x->n_have > 3) {
		/*
		 * Restarted in the same boot: the instance id RTMR3 holds is this
		 * boot's (a seed regenerated now would give another one).
		 */
		const struct attest_event *e = x->have[3];

		if (e->name_len == strlen("instance-id") && memcmp(e->name, "instance-id", e->name_len) == 0 &&
		    (e->payload_len == GUEST_ID_LEN || e->payload_len == 0)) {
			if (e->payload_len)
				memcpy(b->id.instance_id, e->payload, e->payload_len);
			b->id.instance_id_len = e->payload_len;
			fresh_seed = 0;
		}
	}
	if ((err = measure(x, "system-preparing", NULL, 0)) != ERR_OK ||
	    (err = measure(x, "app-id", b->id.app_id, GUEST_ID_LEN)) != ERR_OK ||
	    (err = measure(x, "compose-hash", b->id.compose_hash, 32)) != ERR_OK ||
	    (err = measure(x, "instance-id", b->id.instance_id, b->id.instance_id_len)) != ERR_OK ||
	    (err = measure(x, "boot-mr-done", NULL, 0)) != ERR_OK)
		return err;
	if (fresh_seed)
		write_instance_info(x, seed);
	if (b->compose.key_provider == GUEST_KP_KMS) {
		/*
		 * dstack measures the os-image-hash the KMS returns; this KMS
		 * authorises from the measured one, so it is measured first, from
		 * vm_config, and the KMS's answer must agree (below).
		 */
		if (b->sys.has_os_image_hash) {
			if ((err = measure(x, "os-image-hash", b->sys.os_image_hash, 32)) != ERR_OK)
				return err;
			measured_os = 1;
		}
		if ((err = kms_keys(x)) != ERR_OK)
			return err;
		if (b->keys.has_os_image_hash && measured_os &&
		    memcmp(b->keys.os_image_hash, b->sys.os_image_hash, 32) != 0) {
			why(b, "the KMS verified another os_image_hash than vm_config's");
			return ERR_FAILED_PRECONDITION;
		}
		if (b->keys.has_os_image_hash && !measured_os &&
		    (err = measure(x, "os-image-hash", b->keys.os_image_hash, 32)) != ERR_OK)
			return err;
		if ((err = root_spki(b->keys.kms_root_ca_pem, spki, sizeof(spki), &spki_len)) != ERR_OK) {
			why(b, "the KMS root CA certificate does not parse");
			return err;
		}
		if (b->compose.key_provider_id_len &&
		    (b->compose.key_provider_id_len != spki_len ||
		     memcmp(b->compose.key_provider_id, spki, spki_len) != 0)) {
			why(b, "app-compose.json key_provider_id pins another KMS than the one that answered");
			return ERR_FAILED_PRECONDITION;
		}
		hex_encode(hexid, spki, spki_len);
		snprintf(b->key_provider_info, sizeof(b->key_provider_info), "{\"name\":\"kms\",\"id\":\"%s\"}", hexid);
	} else {
		if ((err = seed_keys(x)) != ERR_OK)
			return err;
		snprintf(b->key_provider_info, sizeof(b->key_provider_info), "{\"name\":\"none\",\"id\":\"\"}");
	}
	if ((err = measure(x, "key-provider", b->key_provider_info, strlen(b->key_provider_info))) != ERR_OK)
		return err;
	if (b->compose.key_provider == GUEST_KP_NONE && (err = app_ca_cert(x)) != ERR_OK)
		return err;
	if ((err = decrypt_env(x)) != ERR_OK || (err = data_disk(x)) != ERR_OK)
		return err;
	if ((err = measure(x, "system-ready", NULL, 0)) != ERR_OK)
		return err;
	info_evidence(x);
	return ERR_OK;
}

err_t guest_boot_run(const struct guest_config *cfg, struct guest_boot *out, struct tee **tee)
{
	struct boot_ctx x;
	char app[2 * GUEST_ID_LEN + 1], compose[65];
	err_t err;

	memset(out, 0, sizeof(*out));
	memset(&x, 0, sizeof(x));
	*tee = NULL;
	arena_init(&out->mem, 64u << 20, 0);
	out->mem.wipe = 1;
	arena_init(&x.scratch, 16u << 20, 0);
	x.cfg = cfg;
	x.b = out;
	err = boot_steps(&x);
	arena_fini(&x.scratch);
	if (err != ERR_OK) {
		char reason[GUEST_WHY_MAX];

		if (!out->why[0])
			why(out, "%s", err_str(err));
		memcpy(reason, out->why, sizeof(reason));
		/* No partial state: the keys and the decrypted env go; the reason stays. */
		guest_boot_free(out);
		memcpy(out->why, reason, sizeof(reason));
		tee_close(x.tee);
		log_error(BOOT, "boot failed: %s", out->why);
		return err;
	}
	hex_encode(app, out->id.app_id, GUEST_ID_LEN);
	hex_encode(compose, out->id.compose_hash, 32);
	log_info(BOOT, "%s: app %s compose %s key provider %s%s", out->resumed ? "boot resumed" : "booted", app, compose,
		 guest_key_provider_name(out->keys.provider), out->disk_opened ? ", data disk open" : "");
	*tee = x.tee;
	return ERR_OK;
}

void guest_boot_free(struct guest_boot *b)
{
	EVP_PKEY_free(b->keys.app_ca_key);
	X509_free(b->keys.app_ca_cert);
	arena_fini(&b->mem);
	secure_wipe(b, sizeof(*b));
}
