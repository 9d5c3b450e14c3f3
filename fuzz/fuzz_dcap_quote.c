/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the DCAP quote parser (views stay inside the input) and, with test data, the whole verification. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "dcap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

/*
 * With DS_ATTEST_TESTDATA set, every input that parses is also verified
 * against the P01 collateral (dcap-qvl/tdx_quote_collateral.json) at its
 * evaluation time, through the platform cache: that drives the PEM chain
 * reader, the PCK leaf reader, the QE checks and the TCB code with mutated
 * certification data. Loaded once; the harness may keep state, lib/ may not.
 */
struct verify_env {
	int tried, ready;
	char *json;
	struct arena arena;
	struct dcap_collateral coll;
	struct attest_trust trust;
	struct dcap_vcoll *vc;
	struct dcap_cache *cache;
};
static struct verify_env env;

static char *slurp(const char *dir, const char *rel, size_t *len)
{
	char path[1024];
	FILE *f;
	long n;
	char *buf = NULL;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path) || !(f = fopen(path, "rb")))
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = 0;
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static void verify_env_init(void)
{
	const char *dir = getenv("DS_ATTEST_TESTDATA");
	size_t n = 0, rn = 0;
	char *root;

	env.tried = 1;
	if (!dir || !(env.json = slurp(dir, "dcap-qvl/tdx_quote_collateral.json", &n)))
		return;
	root = slurp(dir, "roots/intel_sgx_root_ca.der", &rn);
	env.trust.intel_root = root ? x509_from_bytes(root, rn) : NULL;
	free(root);
	arena_init(&env.arena, 16u << 20, 0);
	if (!env.trust.intel_root || dcap_collateral_parse_json(env.json, n, &env.arena, &env.coll, NULL) ||
	    dcap_vcoll_new(&env.coll, &env.trust, &env.vc, NULL) || !(env.cache = dcap_cache_new(16)))
		abort();   /* the test data is broken: say so rather than fuzz nothing */
	env.ready = 1;
}

static void verify(const uint8_t *data, size_t size)
{
	struct attest_policy p;
	struct attest_verdict v;
	struct arena a;
	err_t err;

	if (!env.tried)
		verify_env_init();
	if (!env.ready)
		return;
	memset(&p, 0, sizeof(p));
	p.accepted_statuses = ((1u << TCB_STATUS_COUNT) - 1) & ~(1u << TCB_REVOKED);
	p.allow_any_advisory = 1;
	arena_init(&a, 1u << 20, 0);
	err = dcap_verify_quote(env.vc, data, size, &p, 1752919234, env.cache, &a, &v);
	check(err == v.err);
	if (err)
		check(v.detail != NULL && err_group(err) == ERR_ATTEST);
	else
		check(v.tee == ATTEST_TEE_TDX && v.has_ppid);
	arena_fini(&a);
}

/* A view [p, p+n) lies inside [data, data+size). */
static int inside(const uint8_t *data, size_t size, const uint8_t *p, size_t n)
{
	return p >= data && n <= size && (size_t)(p - data) <= size - n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dcap_quote q;
	struct attest_td_report td;
	struct attest_sgx_report sgx;
	const char *detail = NULL;
	err_t err;

	err = dcap_quote_parse(data, size, &q, &detail);
	if (err) {
		check(detail != NULL);
		check(err_group(err) == ERR_ATTEST);
		return 0;
	}
	check(q.version >= 3 && q.version <= 5);
	check(q.key_type == DCAP_KEY_TYPE_P256);
	check(q.signed_len <= size && inside(data, size, q.body, q.body_len));
	check(q.body + q.body_len == data + q.signed_len);
	check(inside(data, size, q.sig_data, q.sig_data_len));
	check(q.sig_data + q.sig_data_len + q.trailing == data + size);
	check(inside(data, size, q.signature, 64) && inside(data, size, q.att_key, 64));
	check(inside(data, size, q.qe_report, DCAP_SGX_REPORT_LEN) && inside(data, size, q.qe_report_sig, 64));
	check(inside(data, size, q.qe_auth, q.qe_auth_len));
	check(inside(data, size, q.cert_data, q.cert_data_len));
	check(inside(data, size, q.platform_data, q.platform_data_len));
	check(q.cert_type >= DCAP_CERT_PPID_PLAIN && q.cert_type <= DCAP_CERT_PCK_CHAIN);
	check(q.version == 3 ? q.outer_cert_type == 0 : q.outer_cert_type == DCAP_CERT_QE_REPORT);
	if (q.tee_type == DCAP_TEE_TDX) {
		check(q.body_type == DCAP_BODY_TD10 || q.body_type == DCAP_BODY_TD15);
		dcap_td_report_decode(q.body, q.body_len, &td);
	} else {
		check(q.body_type == DCAP_BODY_SGX && q.body_len == DCAP_SGX_REPORT_LEN);
		dcap_sgx_report_decode(q.body, &sgx);
	}
	dcap_sgx_report_decode(q.qe_report, &sgx);
	{
		/* The collateral locator reads the PCK chain's first certificate with lib/attest's own DER reader. */
		struct dcap_pck_info pi;

		err = dcap_quote_pck_locate(&q, &pi);
		check(err == ERR_OK || err == ERR_ATTEST_CERT_CHAIN);
		if (err == ERR_OK)
			check(pi.ca_platform == 0 || pi.ca_platform == 1);
	}
	verify(data, size);
	return 0;
}
