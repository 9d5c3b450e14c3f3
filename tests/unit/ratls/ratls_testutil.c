/* SPDX-License-Identifier: Apache-2.0 */
/* Test fixture for RA-TLS: the sim TEE as a quote backend, its dev collateral in a store, and attested certificates. */
#include "ratls_testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto.h"
#include "enc.h"
#include "eventlog.h"
#include "file.h"

int rt_sim_init(struct rt_sim *s, uint8_t tag)
{
	uint8_t seed[SIM_SEED_LEN];
	struct sim_tcb_params t;
	const uint8_t *der = NULL;
	size_t len = 0;
	char *json = NULL;
	const char *detail = NULL;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < SIM_SEED_LEN; i++)
		seed[i] = (uint8_t)(0x30 + i);
	if (sim_pki_new(seed, NULL, &s->pki) != ERR_OK)
		return -1;
	sim_dev_root_der(s->pki, &der, &len);
	s->dev_root = x509_from_bytes(der, len);
	s->intel_root = attest_intel_root();
	s->store = ratls_coll_store_new();
	if (!s->dev_root || !s->intel_root || !s->store)
		return -1;
	s->trust.intel_root = s->intel_root;
	s->trust.intel_dev_root = s->dev_root;
	sim_tcb_params_default(&t, RT_NOW);
	if (sim_collateral_json(s->pki, &t, &json, &len) != ERR_OK)
		return -1;
	if (ratls_coll_store_put(s->store, json, len, &s->trust, &detail) == ERR_OK)
		rc = 0;
	else
		fprintf(stderr, "collateral: %s\n", detail ? detail : "?");
	free(json);
	memset(s->app_id, tag, sizeof(s->app_id));
	memset(s->compose_hash, (uint8_t)(tag + 1), sizeof(s->compose_hash));
	memset(s->instance_id, (uint8_t)(tag + 2), sizeof(s->instance_id));
	return rc;
}

void rt_sim_fini(struct rt_sim *s)
{
	ratls_coll_store_free(s->store);
	X509_free(s->dev_root);
	X509_free(s->intel_root);
	sim_pki_free(s->pki);
	memset(s, 0, sizeof(*s));
}

static void put_event(struct buf_writer *w, int first, const char *name, const void *payload, size_t n, int v2)
{
	char hex[2 * 64 + 1];

	hex_encode(hex, payload, n);
	buf_printf(w, "%s{\"imr\":3,\"event_type\":134217729,\"digest\":\"\",\"event\":\"%s\",\"event_payload\":\"%s\"%s}",
		   first ? "" : ",", name, hex, v2 ? ",\"version\":2" : "");
}

/* dstack's boot sequence: system-preparing, app-id, compose-hash, instance-id, boot-mr-done, key-provider, [init-script-hash...], system-ready. */
static char *event_log(const struct rt_sim *s, const uint8_t *compose_hash, size_t *len)
{
	static const char kp[] = "{\"name\":\"kms\",\"id\":\"3059\"}";
	struct buf_writer w;
	uint8_t *p;

	buf_writer_init(&w, 1 << 20);
	buf_put_str(&w, "[");
	put_event(&w, 1, "system-preparing", "", 0, 0);
	put_event(&w, 0, "app-id", s->app_id, 20, 0);
	put_event(&w, 0, "compose-hash", compose_hash, 32, s->v2_event);
	put_event(&w, 0, "instance-id", s->instance_id, 20, 0);
	put_event(&w, 0, "boot-mr-done", "", 0, 0);
	put_event(&w, 0, "key-provider", kp, s->empty_key_provider ? 0 : sizeof(kp) - 1, 0);
	for (int i = 0; i < s->n_init_scripts; i++) {
		uint8_t h[64];

		memset(h, 0xf1 + i, sizeof(h));
		put_event(&w, 0, "init-script-hash", h, s->init_script_len ? (size_t)s->init_script_len : 32, 0);
	}
	put_event(&w, 0, "system-ready", "", 0, 0);
	buf_put_str(&w, "]");
	if (!buf_cstr(&w)) {
		buf_writer_free(&w);
		return NULL;
	}
	p = buf_take(&w, len);
	return (char *)p;
}

char *rt_sim_event_log(const struct rt_sim *s, size_t *len)
{
	return event_log(s, s->compose_hash, len);
}

err_t rt_sim_quote(void *arg, const uint8_t report_data[64], struct ratls_quote *out)
{
	struct rt_sim *s = arg;
	struct attest_td_report td;
	struct attest_eventlog log;
	struct arena a;
	char *json;
	size_t len = 0;
	err_t rc;

	s->quote_calls++;
	memset(out, 0, sizeof(*out));
	json = event_log(s, s->compose_hash, &len);
	if (!json)
		return ERR_NOMEM;
	arena_init(&a, 4u << 20, 64u << 10);
	rc = attest_eventlog_parse_json(json, len, &a, &log, NULL);
	sim_td_report_default(s->pki, &td);
	memset(td.mrtd, 0x42, 48);
	memset(td.rtmr[0], 0x10, 48);
	memset(td.rtmr[1], 0x11, 48);
	memset(td.rtmr[2], 0x12, 48);
	if (rc == ERR_OK)
		memcpy(td.rtmr[3], log.rtmr[3], 48);
	arena_fini(&a);
	memcpy(td.report_data, report_data, 64);
	if (rc == ERR_OK)
		rc = sim_tdx_quote(s->pki, &td, &out->quote, &out->quote_len);
	if (rc == ERR_OK && s->tamper_log) {
		uint8_t other[32];

		memset(other, 0x77, sizeof(other));
		free(json);
		json = event_log(s, other, &len);
		if (!json)
			rc = ERR_NOMEM;
	}
	if (rc != ERR_OK) {
		free(json);
		ratls_quote_clear(out);
		return rc;
	}
	out->event_log = json;
	out->event_log_len = len;
	out->config = malloc(3);
	if (out->config) {
		memcpy(out->config, "{}", 3);
		out->config_len = 2;
	}
	return ERR_OK;
}

X509 *rt_attested_cert(struct rt_sim *s, EVP_PKEY *key, uint64_t not_before, uint64_t not_after, const char *usage,
		       X509 *issuer, EVP_PKEY *issuer_key)
{
	struct ratls_cert_params p;
	const char *detail = NULL;
	X509 *x = NULL;
	err_t rc;

	memset(&p, 0, sizeof(p));
	p.cn = "RA-TLS TEMP Cert";
	p.not_before = not_before;
	p.not_after = not_after;
	p.client_auth = p.server_auth = 1;
	p.usage = usage;
	rc = ratls_cert_new_attested(&p, key, rt_sim_quote, s, issuer, issuer ? issuer_key : key, &x, &detail);
	if (rc != ERR_OK)
		fprintf(stderr, "rt_attested_cert: %s: %s\n", err_name(rc), detail ? detail : "");
	return x;
}

void rt_verifier_config(struct rt_sim *s, struct ratls_verifier_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->trust = s->trust;
	cfg->get_collateral = ratls_coll_store_get;
	cfg->collateral_arg = s->store;
	cfg->mode = RATLS_REQUIRED;
}

err_t rt_write_seed(const char *dir, const char *name, const void *p, size_t n)
{
	char path[512];

	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return ERR_IO;
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return ERR_INVALID_ARG;
	return file_write_atomic(path, p, n, 0644);
}
