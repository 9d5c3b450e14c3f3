/* SPDX-License-Identifier: Apache-2.0 */
/* Intel DCAP verifier over the shared vectors (P01-P14, N01-N13, derived t01-t16, c01-c05), both TCB modes, byte-flip sweep. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "crypto.h"
#include "dcap.h"
#include "enc.h"
#include "json.h"

/* --- files ---------------------------------------------------------------------------------------- */

static uint8_t *load(const char *rel, size_t *len)
{
	const char *dir = getenv("DS_ATTEST_TESTDATA");
	char path[1024];
	FILE *f;
	long n = 0;
	uint8_t *buf;

	if (!dir)
		fail_msg("DS_ATTEST_TESTDATA is not set");
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path))
		fail_msg("path too long");
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		fail_msg("cannot size %s", path);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		fail_msg("cannot read %s", path);
	fclose(f);
	buf[n] = 0;
	*len = (size_t)n;
	return buf;
}

/* Quotes come as raw bytes, or as hex text (".hex", optionally "0x"-prefixed, whitespace around). */
static uint8_t *load_quote(const char *rel, size_t *len)
{
	size_t n, rl = strlen(rel), k = 0, out_len = 0;
	uint8_t *raw = load(rel, &n), *out;
	char *hex;

	if (rl < 4 || strcmp(rel + rl - 4, ".hex") != 0) {
		*len = n;
		return raw;
	}
	hex = malloc(n + 1);
	assert_non_null(hex);
	for (size_t i = 0; i < n; i++)
		if (raw[i] != ' ' && raw[i] != '\n' && raw[i] != '\r' && raw[i] != '\t')
			hex[k++] = (char)raw[i];
	out = malloc(k / 2 + 1);
	assert_non_null(out);
	assert_int_equal(hex_decode(out, k / 2 + 1, &out_len, hex, k, 1), ERR_OK);
	free(hex);
	free(raw);
	*len = out_len;
	return out;
}

/* --- fixtures ------------------------------------------------------------------------------------- */

static struct attest_trust trust;

static int setup(void **state)
{
	size_t n;
	uint8_t *der = load("roots/intel_sgx_root_ca.der", &n);

	(void)state;
	trust.intel_root = x509_from_bytes(der, n);
	free(der);
	return trust.intel_root ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(trust.intel_root);
	memset(&trust, 0, sizeof(trust));
	return 0;
}

/* Accept every status but Revoked and any advisory: the vectors assert what dcap-qvl returns, not a policy. */
static void permissive(struct attest_policy *p, enum attest_tcb_mode mode)
{
	memset(p, 0, sizeof(*p));
	p->accepted_statuses = ((1u << TCB_STATUS_COUNT) - 1) & ~(1u << TCB_REVOKED);
	p->allow_any_advisory = 1;
	p->tcb_mode = mode;
}

struct loaded {
	uint8_t *quote;
	size_t quote_len;
	char *coll_json;
	size_t coll_len;
	struct arena arena;
	struct dcap_collateral coll;
};

static void load_case(const char *quote, const char *coll, struct loaded *l)
{
	const char *detail = NULL;

	memset(l, 0, sizeof(*l));
	l->quote = load_quote(quote, &l->quote_len);
	l->coll_json = (char *)load(coll, &l->coll_len);
	arena_init(&l->arena, 16u << 20, 0);
	if (dcap_collateral_parse_json(l->coll_json, l->coll_len, &l->arena, &l->coll, &detail))
		fail_msg("%s: collateral does not parse: %s", coll, detail ? detail : "?");
}

static void unload(struct loaded *l)
{
	free(l->quote);
	free(l->coll_json);
	arena_fini(&l->arena);
}

/* --- the table ------------------------------------------------------------------------------------ */

#define ADV3 { "INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986" }

struct vcase {
	const char *id;
	const char *quote, *coll;
	uint64_t now;
	/* dcap-qvl mode: ERR_OK with status + advisories, or the rejection */
	err_t err;
	const char *status;
	const char *adv[6];
	/* Intel mode: expected error and status (NULL status = same as dcap-qvl mode) */
	err_t intel_err;
	const char *intel_status;
	const char *intel_adv[6];
	int intel_adv_set;
};

#define TDXC "dcap-qvl/tdx_quote_collateral.json"
#define T0 1752919234ull

static const struct vcase cases[] = {
	{ "P01", "dcap-qvl/tdx_quote", TDXC, T0, ERR_OK, "UpToDate", { 0 }, ERR_OK, NULL, { 0 }, 0 },
	{ "P02", "dcap-qvl/sgx_quote", "dcap-qvl/sgx_quote_collateral.json", 1752919277, ERR_OK,
	  "ConfigurationAndSWHardeningNeeded", { "INTEL-SA-00289", "INTEL-SA-00615" }, ERR_OK, NULL, { 0 }, 0 },
	{ "P03", "dcap-qvl/near_quote.hex", "dcap-qvl/near_quote_collateral.json", 1759388630, ERR_OK, "UpToDate",
	  { 0 }, ERR_OK, NULL, { 0 }, 0 },
	{ "P04", "automata/onchain_sgx_v3_quote.dat", "automata/collateral_sgx_00606a000000_2508.json", 1755236700,
	  ERR_OK, "SWHardeningNeeded", { "INTEL-SA-00615" }, ERR_OK, NULL, { 0 }, 0 },
	{ "P05", "automata/onchain_tdx_v4_quote.dat", "automata/collateral_tdx_00806f050000_2506.json", 1749095100,
	  ERR_OK, "OutOfDate", ADV3, ERR_OK, NULL, { 0 }, 0 },
	{ "P06", "automata/onchain_tdx_v4_quote.dat", "automata/collateral_tdx_00806f050000_2510.json", 1761289818,
	  ERR_OK, "OutOfDate", ADV3, ERR_OK, NULL, { 0 }, 0 },
	/* P07/P08: the documented divergence; Intel's rule skips tdxtcbcomponents[0..1] for a versioned module. */
	{ "P07", "go-tdx-guest/cos-113-tdx-quote.dat", "automata/collateral_tdx_00806f050000_2510.json", 1761289818,
	  ERR_OK, "OutOfDate", ADV3, ERR_OK, "UpToDate", { 0 }, 1 },
	{ "P08", "go-tdx-guest/cos-113-tdx-quote.dat", "automata/collateral_tdx_00806f050000_2506.json", 1749095100,
	  ERR_OK, "OutOfDate", ADV3, ERR_OK, "UpToDate", { 0 }, 1 },
	{ "P09", "teekit/tdx-v4-edgeless.dat", "automata/collateral_tdx_00806f050000_2510.json", 1761289818, ERR_OK,
	  "OutOfDate", { "INTEL-SA-00837", "INTEL-SA-00960", "INTEL-SA-00982", "INTEL-SA-00986" }, ERR_OK, NULL,
	  { 0 }, 0 },
	{ "P10", "teekit/tdx-v4-gcp.bin", "automata/collateral_tdx_00806f050000_2510.json", 1761289818, ERR_OK,
	  "UpToDate", { 0 }, ERR_OK, NULL, { 0 }, 0 },
	{ "P11", "teekit/tdx-v4-gcp-no-nonce.bin", "automata/collateral_tdx_00806f050000_2506.json", 1749095100,
	  ERR_OK, "UpToDate", { 0 }, ERR_OK, NULL, { 0 }, 0 },
	{ "P12", "go-tdx-guest/quote_v5_sample.dat", "go-tdx-guest/collateral_v5_mixed.json", 1772000000, ERR_OK,
	  "UpToDate", { 0 }, ERR_OK, NULL, { 0 }, 0 },
	{ "P13", "go-tdx-guest/quote_v5_sample.dat", "dcap-qvl/tdx_quote_outdated_collateral.json", 1774003274,
	  ERR_OK, "UpToDate", { 0 }, ERR_OK, NULL, { 0 }, 0 },
	{ "P14", "derived/t15_trailing_garbage.bin", TDXC, T0, ERR_OK, "UpToDate", { 0 }, ERR_OK, NULL, { 0 }, 0 },

	{ "N01", "dcap-qvl/tdx_quote_outdated", "dcap-qvl/tdx_quote_outdated_collateral.json", 1774003274,
	  ERR_ATTEST_TCB_NOT_SUPPORTED, NULL, { 0 }, ERR_ATTEST_TCB_NOT_SUPPORTED, NULL, { 0 }, 0 },
	{ "N02", "dcap-qvl/tdx-quote.hex", TDXC, T0, ERR_ATTEST_TCB_NOT_SUPPORTED, NULL, { 0 },
	  ERR_ATTEST_TCB_NOT_SUPPORTED, NULL, { 0 }, 0 },
	{ "N03", "dcap-qvl/quote-from-tappd.hex", TDXC, T0, ERR_ATTEST_TCB_NOT_SUPPORTED, NULL, { 0 },
	  ERR_ATTEST_TCB_NOT_SUPPORTED, NULL, { 0 }, 0 },
	{ "N04", "go-tdx-guest/tdx_prod_quote_SPR_E4.dat", "go-tdx-guest/collateral_spr_e4_v4.json", 1688173200,
	  ERR_ATTEST_TCB_NOT_SUPPORTED, NULL, { 0 }, ERR_ATTEST_TCB_NOT_SUPPORTED, NULL, { 0 }, 0 },
	{ "N05", "automata/tdx_quote_5.dat", "automata/collateral_tdx_90c06f000000_2506.json", 1749945600,
	  ERR_ATTEST_TCB_NOT_SUPPORTED, NULL, { 0 }, ERR_ATTEST_TCB_NOT_SUPPORTED, NULL, { 0 }, 0 },
	/* N06/N07/N09: TCB fine, the TD attribute policy rejects (in both modes: it is our policy, not a TCB rule). */
	{ "N06", "automata/alibaba_quote_5.dat", "automata/collateral_tdx_90c06f000000_2506.json", 1749945600,
	  ERR_ATTEST_SERVICE_TD, "UpToDate", { 0 }, ERR_ATTEST_SERVICE_TD, "UpToDate", { 0 }, 1 },
	{ "N07", "teekit/tdx-v4-azure.bin", "automata/collateral_tdx_00806f050000_2510.json", 1761289818,
	  ERR_ATTEST_TD_ATTRIBUTES, "OutOfDate", ADV3, ERR_ATTEST_TD_ATTRIBUTES, "UpToDate", { 0 }, 1 },
	{ "N08", "teekit/tdx-v4-moemahhouk.dat", "go-tdx-guest/collateral_v5_mixed.json", 1772000000,
	  ERR_ATTEST_TCB_NOT_SUPPORTED, NULL, { 0 }, ERR_ATTEST_TCB_NOT_SUPPORTED, NULL, { 0 }, 0 },
	{ "N09", "teekit/tdx-v4-trustee.dat", "go-tdx-guest/collateral_spr_e4_v4.json", 1688173200,
	  ERR_ATTEST_DEBUG, "UpToDate", { 0 }, ERR_ATTEST_DEBUG, "UpToDate", { 0 }, 1 },
	{ "N10", "dcap-qvl/tdx_quote_outdated", "automata/collateral_tdx_90c06f000000_2506.json", 1749945600,
	  ERR_ATTEST_CERT_EXPIRED, NULL, { 0 }, ERR_ATTEST_CERT_EXPIRED, NULL, { 0 }, 0 },
	/* N11: TCB info v2 (SGX). dcap-qvl cannot decode it; Intel QVL accepts it. */
	{ "N11", "automata/onchain_sgx_v3_quote.dat", "automata/collateral_sgx_00606a000000_2506_tcbinfo_v2.json",
	  1749095100, ERR_ATTEST_TCB_INFO_FORMAT, NULL, { 0 }, ERR_OK, "SWHardeningNeeded", { 0 }, 1 },
	{ "N12", "dcap-qvl/tdx_quote", TDXC, 1750329146, ERR_ATTEST_QE_IDENTITY_FUTURE, NULL, { 0 },
	  ERR_ATTEST_QE_IDENTITY_FUTURE, NULL, { 0 }, 0 },
	{ "N13", "dcap-qvl/tdx_quote", TDXC, 1752920164, ERR_ATTEST_TCB_INFO_EXPIRED, NULL, { 0 },
	  ERR_ATTEST_TCB_INFO_EXPIRED, NULL, { 0 }, 0 },

	{ "D-t01", "derived/t01_body_report_data_flip.bin", TDXC, T0, ERR_ATTEST_QUOTE_SIGNATURE, NULL, { 0 },
	  ERR_ATTEST_QUOTE_SIGNATURE, NULL, { 0 }, 0 },
	{ "D-t02", "derived/t02_header_user_data_flip.bin", TDXC, T0, ERR_ATTEST_QUOTE_SIGNATURE, NULL, { 0 },
	  ERR_ATTEST_QUOTE_SIGNATURE, NULL, { 0 }, 0 },
	{ "D-t03", "derived/t03_body_mrtd_flip.bin", TDXC, T0, ERR_ATTEST_QUOTE_SIGNATURE, NULL, { 0 },
	  ERR_ATTEST_QUOTE_SIGNATURE, NULL, { 0 }, 0 },
	{ "D-t04", "derived/t04_quote_sig_flip.bin", TDXC, T0, ERR_ATTEST_QUOTE_SIGNATURE, NULL, { 0 },
	  ERR_ATTEST_QUOTE_SIGNATURE, NULL, { 0 }, 0 },
	{ "D-t05", "derived/t05_att_key_flip.bin", TDXC, T0, ERR_ATTEST_QE_REPORT_DATA, NULL, { 0 },
	  ERR_ATTEST_QE_REPORT_DATA, NULL, { 0 }, 0 },
	{ "D-t06", "derived/t06_qe_report_isvsvn_flip.bin", TDXC, T0, ERR_ATTEST_QE_REPORT_SIGNATURE, NULL, { 0 },
	  ERR_ATTEST_QE_REPORT_SIGNATURE, NULL, { 0 }, 0 },
	{ "D-t07", "derived/t07_qe_report_sig_flip.bin", TDXC, T0, ERR_ATTEST_QE_REPORT_SIGNATURE, NULL, { 0 },
	  ERR_ATTEST_QE_REPORT_SIGNATURE, NULL, { 0 }, 0 },
	{ "D-t08", "derived/t08_qe_auth_data_flip.bin", TDXC, T0, ERR_ATTEST_QE_REPORT_DATA, NULL, { 0 },
	  ERR_ATTEST_QE_REPORT_DATA, NULL, { 0 }, 0 },
	{ "D-t09", "derived/t09_version_3.bin", TDXC, T0, ERR_ATTEST_TEE_TYPE, NULL, { 0 }, ERR_ATTEST_TEE_TYPE,
	  NULL, { 0 }, 0 },
	{ "D-t10", "derived/t10_att_key_type_3.bin", TDXC, T0, ERR_ATTEST_KEY_TYPE, NULL, { 0 }, ERR_ATTEST_KEY_TYPE,
	  NULL, { 0 }, 0 },
	{ "D-t11", "derived/t11_tee_type_sgx.bin", TDXC, T0, ERR_ATTEST_QUOTE_FORMAT, NULL, { 0 },
	  ERR_ATTEST_QUOTE_FORMAT, NULL, { 0 }, 0 },
	/* The JS port does not check the vendor ID and fails later on the signature; Rust and Intel reject here. */
	{ "D-t12", "derived/t12_qe_vendor_id_flip.bin", TDXC, T0, ERR_ATTEST_QE_VENDOR, NULL, { 0 },
	  ERR_ATTEST_QE_VENDOR, NULL, { 0 }, 0 },
	{ "D-t13", "derived/t13_td_attributes_debug.bin", TDXC, T0, ERR_ATTEST_QUOTE_SIGNATURE, NULL, { 0 },
	  ERR_ATTEST_QUOTE_SIGNATURE, NULL, { 0 }, 0 },
	{ "D-t14", "derived/t14_truncated_1000.bin", TDXC, T0, ERR_ATTEST_QUOTE_FORMAT, NULL, { 0 },
	  ERR_ATTEST_QUOTE_FORMAT, NULL, { 0 }, 0 },
	{ "D-t15", "derived/t15_trailing_garbage.bin", TDXC, T0, ERR_OK, "UpToDate", { 0 }, ERR_OK, NULL, { 0 }, 0 },
	{ "D-t16", "derived/t16_pck_leaf_pem_corrupt.bin", TDXC, T0, ERR_ATTEST_CERT_CHAIN, NULL, { 0 },
	  ERR_ATTEST_CERT_CHAIN, NULL, { 0 }, 0 },
	{ "D-c01", "dcap-qvl/tdx_quote", "derived/c01_tcb_info_modified.json", T0, ERR_ATTEST_TCB_INFO_SIGNATURE, NULL,
	  { 0 }, ERR_ATTEST_TCB_INFO_SIGNATURE, NULL, { 0 }, 0 },
	{ "D-c02", "dcap-qvl/tdx_quote", "derived/c02_qe_identity_modified.json", T0, ERR_ATTEST_QE_IDENTITY_SIGNATURE,
	  NULL, { 0 }, ERR_ATTEST_QE_IDENTITY_SIGNATURE, NULL, { 0 }, 0 },
	/* The JS port accepts c03 (no CRL issuer/signature checks); the PCK CRL here is the wrong CA's. */
	{ "D-c03", "dcap-qvl/tdx_quote", "derived/c03_wrong_pck_crl_processor.json", T0, ERR_ATTEST_CRL_INVALID, NULL,
	  { 0 }, ERR_ATTEST_CRL_INVALID, NULL, { 0 }, 0 },
	{ "D-c04", "dcap-qvl/tdx_quote", "derived/c04_tcb_info_sig_flip.json", T0, ERR_ATTEST_TCB_INFO_SIGNATURE, NULL,
	  { 0 }, ERR_ATTEST_TCB_INFO_SIGNATURE, NULL, { 0 }, 0 },
	{ "D-c05", "dcap-qvl/tdx_quote", "derived/c05_tcb_chain_wrong_signer.json", T0, ERR_ATTEST_CERT_CHAIN, NULL,
	  { 0 }, ERR_ATTEST_CERT_CHAIN, NULL, { 0 }, 0 },
};

static size_t count_adv(const char *const *adv)
{
	size_t n = 0;

	while (n < 6 && adv[n])
		n++;
	return n;
}

static void check_status(const char *id, const struct attest_verdict *v, const char *status,
			 const char *const *adv)
{
	size_t n = count_adv(adv);

	if (strcmp(tcb_status_name(v->tcb.status), status) != 0)
		fail_msg("%s: status %s, want %s", id, tcb_status_name(v->tcb.status), status);
	if (v->tcb.n_advisory_ids != n)
		fail_msg("%s: %zu advisory IDs, want %zu", id, v->tcb.n_advisory_ids, n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(v->tcb.advisory_ids[i], adv[i]) != 0)
			fail_msg("%s: advisory[%zu] %s, want %s", id, i, v->tcb.advisory_ids[i], adv[i]);
}

/* One case in one mode: the one-shot API, then the two-phase API with and without a cache must agree. */
static void run_case(const struct vcase *c, enum attest_tcb_mode mode)
{
	struct loaded l;
	struct attest_policy p;
	struct attest_verdict v, v2;
	struct arena a;
	struct dcap_vcoll *vc = NULL;
	struct dcap_cache *cache = dcap_cache_new(8);
	const char *detail = NULL;
	int intel = mode == ATTEST_TCB_INTEL;
	err_t want = intel ? c->intel_err : c->err;
	const char *want_status = intel && c->intel_status ? c->intel_status : c->status;
	const char *const *want_adv = intel && c->intel_adv_set ? c->intel_adv : c->adv;
	err_t err;

	assert_non_null(cache);
	load_case(c->quote, c->coll, &l);
	permissive(&p, mode);
	arena_init(&a, 1u << 20, 0);

	err = dcap_verify(l.quote, l.quote_len, &l.coll, &trust, &p, c->now, &a, &v);
	if (err != want)
		fail_msg("%s (%s mode): got %s (%s), want %s", c->id, intel ? "intel" : "dcap-qvl", err_name(err),
			 v.detail ? v.detail : "-", err_name(want));
	assert_int_equal(v.err, err);
	if (err)
		assert_non_null(v.detail);
	if (want_status)
		check_status(c->id, &v, want_status, want_adv);

	/* Same answer through the two-phase API, cold and warm cache. */
	err = dcap_vcoll_new(&l.coll, &trust, &vc, &detail);
	if (err == ERR_OK) {
		for (int round = 0; round < 3; round++) {
			err = dcap_verify_quote(vc, l.quote, l.quote_len, &p, c->now, round ? cache : NULL, &a, &v2);
			if (err != want)
				fail_msg("%s round %d: two-phase got %s (%s), want %s", c->id, round, err_name(err),
					 v2.detail ? v2.detail : "-", err_name(want));
			if (want_status)
				check_status(c->id, &v2, want_status, want_adv);
		}
		dcap_vcoll_free(vc);
		/* Accepted platforms took the cached path's own leaf reader, never the OpenSSL fallback. */
		if (want == ERR_OK) {
			struct dcap_cache_stats st;

			dcap_cache_stats(cache, &st);
			if (st.leaf_fast != 1 || st.leaf_openssl != 0 || st.hits != 1)
				fail_msg("%s: leaf_fast %llu leaf_openssl %llu hits %llu", c->id,
					 (unsigned long long)st.leaf_fast, (unsigned long long)st.leaf_openssl,
					 (unsigned long long)st.hits);
		}
	} else {
		assert_int_equal(err, want);
	}
	dcap_cache_free(cache);
	arena_fini(&a);
	unload(&l);
}

static void test_vectors_dcap_qvl_mode(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		run_case(&cases[i], ATTEST_TCB_DCAP_QVL);
}

static void test_vectors_intel_mode(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		run_case(&cases[i], ATTEST_TCB_INTEL);
}

/*
 * The table covers every DCAP case of expected.json, and where the npm
 * reference accepted, we accept with the same status and advisories, except
 * the documented disagreements (D-c03: the JS port skips CRL checks).
 */
static void test_table_matches_expected_json(void **state)
{
	size_t n;
	char *text = (char *)load("expected.json", &n);
	struct arena a;
	struct json_value *root = NULL;
	const struct json_value *arr;

	(void)state;
	arena_init(&a, 64u << 20, 0);
	assert_int_equal(json_parse(text, n, NULL, &a, &root, NULL), ERR_OK);
	arr = json_get(root, "dcap_cases");
	assert_non_null(arr);
	assert_int_equal(arr->type, JSON_ARRAY);
	for (size_t i = 0; i < arr->u.arr.n; i++) {
		const struct json_value *jc = &arr->u.arr.items[i];
		const struct json_value *ref = json_get(jc, "ref_js_0_3_9");
		const char *id, *q, *coll;
		const struct vcase *c = NULL;
		uint64_t now;
		int ok = 0;

		assert_int_equal(json_get_str(jc, "id", &id, NULL), ERR_OK);
		assert_int_equal(json_get_str(jc, "quote", &q, NULL), ERR_OK);
		assert_int_equal(json_get_str(jc, "collateral", &coll, NULL), ERR_OK);
		assert_int_equal(json_get_u64(jc, "now", &now), ERR_OK);
		for (size_t k = 0; k < ARRAY_LEN(cases) && !c; k++)
			if (strcmp(cases[k].id, id) == 0)
				c = &cases[k];
		if (!c)
			fail_msg("expected.json case %s is not in the table", id);
		assert_string_equal(c->quote, q);
		assert_string_equal(c->coll, coll);
		assert_int_equal(c->now, now);
		assert_int_equal(json_get_bool(ref, "ok", &ok), ERR_OK);
		if (strcmp(id, "D-c03") == 0) {
			assert_true(ok);
			assert_int_not_equal(c->err, ERR_OK);
			continue;
		}
		if (ok) {
			const char *st;
			const struct json_value *adv = json_get(ref, "advisory_ids");

			assert_int_equal(c->err, ERR_OK);
			assert_int_equal(json_get_str(ref, "status", &st, NULL), ERR_OK);
			assert_string_equal(c->status, st);
			assert_int_equal(adv->u.arr.n, count_adv(c->adv));
			for (size_t k = 0; k < adv->u.arr.n; k++)
				assert_string_equal(adv->u.arr.items[k].u.str.s, c->adv[k]);
		} else {
			assert_int_not_equal(c->err, ERR_OK);
		}
	}
	/* And nothing in the table that expected.json does not know, apart from t15 (= P14's quote). */
	assert_int_equal(arr->u.arr.n + 1, ARRAY_LEN(cases));
	arena_fini(&a);
	free(text);
}

/* Parsed fields against the independent parser's values in expected.json quote_fields. */
static void test_fields_match_expected_json(void **state)
{
	size_t n;
	char *text = (char *)load("expected.json", &n);
	struct arena a;
	struct json_value *root = NULL;
	const struct json_value *qf;

	(void)state;
	arena_init(&a, 64u << 20, 0);
	assert_int_equal(json_parse(text, n, NULL, &a, &root, NULL), ERR_OK);
	qf = json_get(root, "quote_fields");
	assert_non_null(qf);
	for (size_t i = 0; i < qf->u.obj.n; i++) {
		const struct json_member *m = &qf->u.obj.members[i];
		const struct json_value *f = &m->value, *pck = json_get(f, "pck");
		struct dcap_quote q;
		struct attest_td_report td;
		struct attest_sgx_report sgx;
		struct dcap_pck_info info;
		STACK_OF(X509) *chain;
		uint8_t *raw;
		size_t len;
		uint64_t u;
		uint8_t want[64];
		char hex[129];
		const char *s;

		raw = load_quote(m->key, &len);
		if (dcap_quote_parse(raw, len, &q, NULL) != ERR_OK)
			fail_msg("%s does not parse", m->key);
		assert_int_equal(json_get_u64(f, "version", &u), ERR_OK);
		assert_int_equal(q.version, u);
		assert_int_equal(json_get_u64(f, "signed_len", &u), ERR_OK);
		assert_int_equal(q.signed_len, u);
		assert_int_equal(json_get_u64(f, "sig_data_len", &u), ERR_OK);
		assert_int_equal(q.sig_data_len, u);
		assert_int_equal(json_get_u64(f, "trailing", &u), ERR_OK);
		assert_int_equal(q.trailing, u);
		assert_int_equal(json_get_u64(f, "qe_auth_len", &u), ERR_OK);
		assert_int_equal(q.qe_auth_len, u);
		assert_int_equal(json_get_u64(f, "inner_cert_type", &u), ERR_OK);
		assert_int_equal(q.cert_type, u);
		assert_int_equal(json_get_str(f, "report_data", &s, NULL), ERR_OK);
		if (q.tee_type == DCAP_TEE_TDX) {
			dcap_td_report_decode(q.body, q.body_len, &td);
			hex_encode(hex, td.report_data, 64);
			assert_string_equal(hex, s);
			assert_int_equal(json_get_str(f, "tee_tcb_svn", &s, NULL), ERR_OK);
			hex_encode(hex, td.tee_tcb_svn, 16);
			assert_string_equal(hex, s);
			assert_int_equal(json_get_str(f, "td_attributes", &s, NULL), ERR_OK);
			hex_encode(hex, td.td_attributes, 8);
			assert_string_equal(hex, s);
		} else {
			dcap_sgx_report_decode(q.body, &sgx);
			hex_encode(hex, sgx.report_data, 64);
			assert_string_equal(hex, s);
		}
		dcap_sgx_report_decode(q.qe_report, &sgx);
		assert_int_equal(json_get_u64(f, "qe_isv_svn", &u), ERR_OK);
		assert_int_equal(sgx.isvsvn, u);

		chain = pem_certs_parse((const char *)q.cert_data, q.cert_data_len);
		assert_non_null(chain);
		assert_int_equal(dcap_pck_cert_info(sk_X509_value(chain, 0), &info, NULL), ERR_OK);
		assert_int_equal(json_get_hex(pck, "fmspc", want, sizeof(want), 6, NULL), ERR_OK);
		assert_memory_equal(info.fmspc, want, 6);
		assert_int_equal(json_get_hex(pck, "pceid", want, sizeof(want), 2, NULL), ERR_OK);
		assert_memory_equal(info.pceid, want, 2);
		assert_int_equal(json_get_hex(pck, "ppid", want, sizeof(want), 16, NULL), ERR_OK);
		assert_memory_equal(info.ppid, want, 16);
		assert_int_equal(json_get_hex(pck, "cpusvn", want, sizeof(want), 16, NULL), ERR_OK);
		assert_memory_equal(info.cpusvn, want, 16);
		assert_int_equal(json_get_u64(pck, "pcesvn", &u), ERR_OK);
		assert_int_equal(info.pcesvn, u);
		assert_int_equal(json_get_hex(pck, "sgx_type", want, sizeof(want), 1, NULL), ERR_OK);
		assert_int_equal(info.sgx_type, want[0]);
		assert_int_equal(json_get_str(pck, "issuer_cn", &s, NULL), ERR_OK);
		assert_int_equal(info.ca_platform, strcmp(s, "Intel SGX PCK Platform CA") == 0);
		sk_X509_pop_free(chain, X509_free);
		free(raw);
	}
	arena_fini(&a);
	free(text);
}

/* The verdict of P01 carries the fields a relying party reads. */
static void test_p01_verdict_fields(void **state)
{
	struct loaded l;
	struct attest_policy p;
	struct attest_verdict v;
	struct arena a;
	static const uint8_t fmspc[6] = { 0xb0, 0xc0, 0x6f, 0, 0, 0 };
	uint64_t exp_pck_crl = 1752919235;   /* 2025-07-19T10:00:35Z: the earliest nextUpdate */

	(void)state;
	load_case("dcap-qvl/tdx_quote", TDXC, &l);
	arena_init(&a, 1u << 20, 0);
	memset(&p, 0, sizeof(p));       /* the strict default: UpToDate only, no advisories */
	assert_int_equal(dcap_verify(l.quote, l.quote_len, &l.coll, &trust, &p, T0, &a, &v), ERR_OK);
	assert_int_equal(v.tee, ATTEST_TEE_TDX);
	assert_int_equal(v.report_type, ATTEST_REPORT_TD10);
	assert_int_equal(v.dev, 0);
	assert_memory_equal(v.fmspc, fmspc, 6);
	assert_true(v.has_ppid);
	assert_int_equal(v.pck_ca_platform, 1);
	assert_int_equal(v.tcb_eval_number, 17);
	assert_int_equal(v.platform.status, TCB_UP_TO_DATE);
	assert_int_equal(v.qe.status, TCB_UP_TO_DATE);
	assert_int_equal(v.module.status, TCB_UP_TO_DATE);
	assert_int_equal(v.collateral_expires_at, exp_pck_crl - 1);
	assert_int_equal(v.collateral_issued_at, 1750328163);  /* TCB info issueDate 2025-06-19T10:16:03Z */
	assert_int_equal(v.td.tee_tcb_svn[0], 6);
	assert_int_equal(v.td.mrtd[0], 0x91);
	arena_fini(&a);
	unload(&l);
}

/* --- policy, trust anchors, time boundaries, cache ------------------------------------------------ */

static err_t verify_case(const char *quote, const char *coll, uint64_t now, const struct attest_policy *p,
			 const struct attest_trust *t, struct arena *a, struct attest_verdict *v)
{
	struct loaded l;
	err_t err;

	load_case(quote, coll, &l);
	err = dcap_verify(l.quote, l.quote_len, &l.coll, t, p, now, a, v);
	unload(&l);
	return err;
}

static void test_policy(void **state)
{
	struct attest_policy p;
	struct attest_verdict v;
	struct arena a;
	static const char *const both[] = { "INTEL-SA-00289", "INTEL-SA-00615" };
	static const char *const one[] = { "INTEL-SA-00615" };
	const char *sgxc = "dcap-qvl/sgx_quote_collateral.json";

	(void)state;
	arena_init(&a, 1u << 20, 0);
	/* The strict default takes UpToDate only. */
	memset(&p, 0, sizeof(p));
	assert_int_equal(verify_case("dcap-qvl/sgx_quote", sgxc, 1752919277, &p, &trust, &a, &v), ERR_ATTEST_TCB_STATUS);
	assert_int_equal(v.tcb.status, TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED);
	assert_int_equal(v.tcb.n_advisory_ids, 2);
	/* Status accepted, advisories not (all, or only some, allowed). */
	p.accepted_statuses = 1u << TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED;
	assert_int_equal(verify_case("dcap-qvl/sgx_quote", sgxc, 1752919277, &p, &trust, &a, &v), ERR_ATTEST_ADVISORY);
	p.allowed_advisories = one;
	p.n_allowed_advisories = 1;
	assert_int_equal(verify_case("dcap-qvl/sgx_quote", sgxc, 1752919277, &p, &trust, &a, &v), ERR_ATTEST_ADVISORY);
	p.allowed_advisories = both;
	p.n_allowed_advisories = 2;
	assert_int_equal(verify_case("dcap-qvl/sgx_quote", sgxc, 1752919277, &p, &trust, &a, &v), ERR_OK);
	assert_int_equal(v.tee, ATTEST_TEE_SGX);
	assert_int_equal(v.pck_ca_platform, 0);
	assert_memory_equal(v.sgx.report_data, "Hello, world!", 13);

	/* Evaluation data number (P01 collateral: 17) and collateral age (TCB info issued 30 days before T0). */
	memset(&p, 0, sizeof(p));
	p.min_tcb_eval_number = 17;
	assert_int_equal(verify_case("dcap-qvl/tdx_quote", TDXC, T0, &p, &trust, &a, &v), ERR_OK);
	p.min_tcb_eval_number = 18;
	assert_int_equal(verify_case("dcap-qvl/tdx_quote", TDXC, T0, &p, &trust, &a, &v), ERR_ATTEST_TCB_EVAL_NUMBER);
	memset(&p, 0, sizeof(p));
	p.max_collateral_age_s = T0 - 1750328163;
	assert_int_equal(verify_case("dcap-qvl/tdx_quote", TDXC, T0, &p, &trust, &a, &v), ERR_OK);
	p.max_collateral_age_s--;
	assert_int_equal(verify_case("dcap-qvl/tdx_quote", TDXC, T0, &p, &trust, &a, &v), ERR_ATTEST_COLLATERAL_STALE);

	/* Expected report data and measurements. */
	memset(&p, 0, sizeof(p));
	assert_int_equal(verify_case("dcap-qvl/tdx_quote", TDXC, T0, &p, &trust, &a, &v), ERR_OK);
	{
		struct attest_td_report td = v.td;

		p.expected_report_data = td.report_data;
		p.n_expected = 2;
		p.expected[0].which = ATTEST_M_MRTD;
		memcpy(p.expected[0].value, td.mrtd, 48);
		p.expected[0].len = 48;
		p.expected[1].which = ATTEST_M_RTMR3;
		memcpy(p.expected[1].value, td.rtmr[3], 48);
		p.expected[1].len = 48;
		assert_int_equal(verify_case("dcap-qvl/tdx_quote", TDXC, T0, &p, &trust, &a, &v), ERR_OK);
		p.expected[1].value[47] ^= 1;
		assert_int_equal(verify_case("dcap-qvl/tdx_quote", TDXC, T0, &p, &trust, &a, &v), ERR_ATTEST_MEASUREMENT);
		p.expected[1].value[47] ^= 1;
		p.expected[1].len = 32;
		assert_int_equal(verify_case("dcap-qvl/tdx_quote", TDXC, T0, &p, &trust, &a, &v), ERR_ATTEST_MEASUREMENT);
		p.expected[1].which = ATTEST_M_MRENCLAVE;     /* an SGX register on a TD: never matches */
		assert_int_equal(verify_case("dcap-qvl/tdx_quote", TDXC, T0, &p, &trust, &a, &v), ERR_ATTEST_MEASUREMENT);
		p.n_expected = 0;
		td.report_data[63] ^= 1;
		p.expected_report_data = td.report_data;
		assert_int_equal(verify_case("dcap-qvl/tdx_quote", TDXC, T0, &p, &trust, &a, &v), ERR_ATTEST_REPORT_DATA);
	}

	/* The attribute policy can be relaxed where the policy object says so. */
	permissive(&p, ATTEST_TCB_DCAP_QVL);
	p.allow_debug = 1;
	assert_int_equal(verify_case("teekit/tdx-v4-trustee.dat", "go-tdx-guest/collateral_spr_e4_v4.json", 1688173200,
				     &p, &trust, &a, &v),
			 ERR_OK);
	assert_int_equal(v.tcb.status, TCB_UP_TO_DATE);
	permissive(&p, ATTEST_TCB_DCAP_QVL);
	p.allow_service_td = 1;
	assert_int_equal(verify_case("automata/alibaba_quote_5.dat", "automata/collateral_tdx_90c06f000000_2506.json",
				     1749945600, &p, &trust, &a, &v),
			 ERR_OK);
	assert_int_equal(v.report_type, ATTEST_REPORT_TD15);
	arena_fini(&a);
}

static void test_trust_anchors(void **state)
{
	struct attest_policy p;
	struct attest_verdict v;
	struct attest_trust t;
	struct arena a;
	struct loaded l;
	STACK_OF(X509) *chain;

	(void)state;
	memset(&p, 0, sizeof(p));
	arena_init(&a, 1u << 20, 0);
	/* No anchors at all. */
	memset(&t, 0, sizeof(t));
	assert_int_equal(verify_case("dcap-qvl/tdx_quote", TDXC, T0, &p, &t, &a, &v), ERR_ATTEST_ROOT_UNTRUSTED);
	/* The same root configured only as the development root: accepted, and the verdict says dev. */
	t.intel_dev_root = trust.intel_root;
	assert_int_equal(verify_case("dcap-qvl/tdx_quote", TDXC, T0, &p, &t, &a, &v), ERR_OK);
	assert_int_equal(v.dev, 1);
	/* Another certificate pinned (the PCK Platform CA): nothing chains to it. */
	load_case("dcap-qvl/tdx_quote", TDXC, &l);
	chain = pem_certs_parse(l.coll.pck_crl_issuer_chain, l.coll.pck_crl_issuer_chain_len);
	assert_non_null(chain);
	memset(&t, 0, sizeof(t));
	t.intel_root = sk_X509_value(chain, 0);
	assert_int_equal(dcap_verify(l.quote, l.quote_len, &l.coll, &t, &p, T0, &a, &v), ERR_ATTEST_ROOT_UNTRUSTED);
	/* The production root is never the dev root: a verdict from it has dev = 0. */
	assert_int_equal(dcap_verify(l.quote, l.quote_len, &l.coll, &trust, &p, T0, &a, &v), ERR_OK);
	assert_int_equal(v.dev, 0);
	/* No arena: refused, not crashed. */
	assert_int_equal(dcap_verify(l.quote, l.quote_len, &l.coll, &trust, &p, T0, NULL, &v), ERR_INVALID_ARG);
	sk_X509_pop_free(chain, X509_free);
	unload(&l);
	arena_fini(&a);
}

/* Validity windows at their edges, on one verified collateral reused across times. */
static void test_time_boundaries(void **state)
{
	struct loaded l;
	struct attest_policy p;
	struct attest_verdict v;
	struct arena a;
	struct dcap_vcoll *vc = NULL;
	const uint64_t qe_issue = 1750329147;   /* 2025-06-19T10:32:27Z, the latest start of any window */

	(void)state;
	memset(&p, 0, sizeof(p));
	arena_init(&a, 1u << 20, 0);
	load_case("dcap-qvl/tdx_quote", TDXC, &l);
	assert_int_equal(dcap_vcoll_new(&l.coll, &trust, &vc, NULL), ERR_OK);
	assert_int_equal(vc->issued_at, 1750328163);
	assert_int_equal(vc->expires_at, T0);  /* the PCK CRL's nextUpdate - 1 */
	assert_int_equal(dcap_verify_quote(vc, l.quote, l.quote_len, &p, qe_issue, NULL, &a, &v), ERR_OK);
	assert_int_equal(dcap_verify_quote(vc, l.quote, l.quote_len, &p, qe_issue - 1, NULL, &a, &v),
			 ERR_ATTEST_QE_IDENTITY_FUTURE);
	assert_int_equal(dcap_verify_quote(vc, l.quote, l.quote_len, &p, T0, NULL, &a, &v), ERR_OK);
	/* A CRL is stale at its nextUpdate (webpki, as dcap-qvl Rust); the JS port does not check CRL dates. */
	assert_int_equal(dcap_verify_quote(vc, l.quote, l.quote_len, &p, T0 + 1, NULL, &a, &v), ERR_ATTEST_CRL_EXPIRED);
	assert_int_equal(dcap_verify_quote(vc, l.quote, l.quote_len, &p, 1752920163, NULL, &a, &v),
			 ERR_ATTEST_CRL_EXPIRED);
	assert_int_equal(dcap_verify_quote(vc, l.quote, l.quote_len, &p, 1752920164, NULL, &a, &v),
			 ERR_ATTEST_TCB_INFO_EXPIRED);
	assert_int_equal(dcap_verify_quote(vc, l.quote, l.quote_len, &p, 0, NULL, &a, &v), ERR_ATTEST_CRL_EXPIRED);
	assert_int_equal(dcap_verify_quote(vc, l.quote, l.quote_len, &p, UINT64_MAX, NULL, &a, &v),
			 ERR_ATTEST_CRL_EXPIRED);
	dcap_vcoll_free(vc);
	unload(&l);
	arena_fini(&a);
}

static void test_cache_and_chain_sources(void **state)
{
	struct loaded l, s;
	struct attest_policy p;
	struct attest_verdict v;
	struct arena a;
	struct dcap_vcoll *vc = NULL, *vs = NULL;
	struct dcap_cache *cache = dcap_cache_new(1);   /* one slot: every other platform evicts */
	struct dcap_cache_stats st;
	struct dcap_quote q;
	uint8_t *mut;

	(void)state;
	assert_non_null(cache);
	assert_null(dcap_cache_new(0));
	permissive(&p, ATTEST_TCB_DCAP_QVL);
	arena_init(&a, 1u << 20, 0);
	load_case("dcap-qvl/tdx_quote", TDXC, &l);
	load_case("dcap-qvl/sgx_quote", "dcap-qvl/sgx_quote_collateral.json", &s);
	assert_int_equal(dcap_vcoll_new(&l.coll, &trust, &vc, NULL), ERR_OK);
	assert_int_equal(dcap_vcoll_new(&s.coll, &trust, &vs, NULL), ERR_OK);
	assert_memory_not_equal(vc->id, vs->id, 32);

	assert_int_equal(dcap_verify_quote(vc, l.quote, l.quote_len, &p, T0, cache, &a, &v), ERR_OK);
	assert_int_equal(dcap_verify_quote(vc, l.quote, l.quote_len, &p, T0, cache, &a, &v), ERR_OK);
	dcap_cache_stats(cache, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 1);
	/* The TDX quote against the SGX collateral: not a hit (different collateral id), and rejected. */
	assert_int_not_equal(dcap_verify_quote(vs, l.quote, l.quote_len, &p, 1752919277, cache, &a, &v), ERR_OK);
	assert_int_equal(dcap_verify_quote(vs, s.quote, s.quote_len, &p, 1752919277, cache, &a, &v), ERR_OK);
	dcap_cache_stats(cache, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.evictions, 1);
	/* The TCB mode is part of the key. */
	p.tcb_mode = ATTEST_TCB_INTEL;
	assert_int_equal(dcap_verify_quote(vs, s.quote, s.quote_len, &p, 1752919277, cache, &a, &v), ERR_OK);
	dcap_cache_stats(cache, &st);
	assert_int_equal(st.hits, 1);
	dcap_cache_clear(cache);
	p.tcb_mode = ATTEST_TCB_DCAP_QVL;

	/* A leaf-only certification data type needs the chain from the collateral. */
	assert_int_equal(dcap_quote_parse(l.quote, l.quote_len, &q, NULL), ERR_OK);
	mut = malloc(l.quote_len);
	assert_non_null(mut);
	memcpy(mut, l.quote, l.quote_len);
	mut[(q.cert_data - l.quote) - 6] = DCAP_CERT_PCK_LEAF;
	assert_int_equal(dcap_verify_quote(vc, mut, l.quote_len, &p, T0, NULL, &a, &v), ERR_ATTEST_CERT_DATA);
	/* ... and with pck_certificate_chain in the collateral it verifies (the quote's own chain is ignored). */
	l.coll.pck_certificate_chain = (const char *)q.cert_data;
	l.coll.pck_certificate_chain_len = q.cert_data_len;
	assert_int_equal(dcap_verify(mut, l.quote_len, &l.coll, &trust, &p, T0, &a, &v), ERR_OK);
	/* The collateral chain of another platform (SGX, Processor CA) is not this QE's signer. */
	assert_int_equal(dcap_quote_parse(s.quote, s.quote_len, &q, NULL), ERR_OK);
	l.coll.pck_certificate_chain = (const char *)q.cert_data;
	l.coll.pck_certificate_chain_len = q.cert_data_len;
	assert_int_not_equal(dcap_verify(l.quote, l.quote_len, &l.coll, &trust, &p, T0, &a, &v), ERR_OK);
	free(mut);
	dcap_cache_free(cache);
	dcap_vcoll_free(vc);
	dcap_vcoll_free(vs);
	unload(&l);
	unload(&s);
	arena_fini(&a);
}

/*
 * Exhaustive sweep: every bit of every byte of the signed region (header +
 * body) of a TDX v4 and an SGX v3 quote, and of everything between it and
 * the PEM chain (signature data length, quote signature, attestation key,
 * certification data headers, QE report, its signature, QE auth data), must
 * be rejected. The platform cache stays warm, so a change in the signed
 * region costs one signature check.
 */
static void sweep(const char *quote, const char *coll, uint64_t now, size_t signed_len, size_t end)
{
	struct loaded l;
	struct attest_policy p;
	struct attest_verdict v;
	struct arena a;
	struct dcap_vcoll *vc = NULL;
	struct dcap_cache *cache = dcap_cache_new(64);
	struct dcap_cache_stats st;
	uint8_t *q;
	size_t tried = 0;

	load_case(quote, coll, &l);
	permissive(&p, ATTEST_TCB_DCAP_QVL);
	arena_init(&a, 1u << 20, 0);
	assert_non_null(cache);
	assert_int_equal(dcap_vcoll_new(&l.coll, &trust, &vc, NULL), ERR_OK);
	assert_int_equal(dcap_verify_quote(vc, l.quote, l.quote_len, &p, now, cache, &a, &v), ERR_OK);
	q = malloc(l.quote_len);
	assert_non_null(q);
	memcpy(q, l.quote, l.quote_len);
	assert_true(end <= l.quote_len);
	for (size_t off = 0; off < end; off++) {
		static const uint8_t all[] = { 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff };
		static const uint8_t some[] = { 0x01, 0x80, 0xff };
		const uint8_t *masks = off < signed_len ? all : some;
		size_t nm = off < signed_len ? sizeof(all) : sizeof(some);

		for (size_t k = 0; k < nm; k++) {
			err_t err;

			q[off] ^= masks[k];
			arena_reset(&a);
			err = dcap_verify_quote(vc, q, l.quote_len, &p, now, cache, &a, &v);
			if (err == ERR_OK || err_group(err) != ERR_ATTEST)
				fail_msg("%s: byte %zu ^ 0x%02x gave %s", quote, off, masks[k], err_name(err));
			q[off] ^= masks[k];
			tried++;
		}
	}
	/* Still fine after all that, and the cache did its job on the signed region. */
	assert_int_equal(dcap_verify_quote(vc, q, l.quote_len, &p, now, cache, &a, &v), ERR_OK);
	dcap_cache_stats(cache, &st);
	assert_true(st.hits >= signed_len);
	assert_true(tried > 9 * signed_len);
	free(q);
	dcap_cache_free(cache);
	dcap_vcoll_free(vc);
	arena_fini(&a);
	unload(&l);
}

static void test_byte_flip_sweep_tdx(void **state)
{
	(void)state;
	/* Signed region 0..631; the PEM chain starts at 1258 (derived/README.md layout). */
	sweep("dcap-qvl/tdx_quote", TDXC, T0, 632, 1258);
}

static void test_byte_flip_sweep_sgx(void **state)
{
	struct dcap_quote q;
	size_t n;
	uint8_t *raw = load_quote("dcap-qvl/sgx_quote", &n);

	(void)state;
	assert_int_equal(dcap_quote_parse(raw, n, &q, NULL), ERR_OK);
	assert_int_equal(q.signed_len, 432);
	sweep("dcap-qvl/sgx_quote", "dcap-qvl/sgx_quote_collateral.json", 1752919277, 432,
	      (size_t)(q.cert_data - raw));
	free(raw);
}

/*
 * The PCK leaf as text: changing any base64 character of the leaf's PEM
 * block (to another base64 character, so the framing stays valid) must be
 * rejected on the cached path, which reads first-seen leaves with its own
 * DER parser, exactly as on the OpenSSL path.
 */
static void test_pck_leaf_text_sweep(void **state)
{
	struct loaded l;
	struct attest_policy p;
	struct attest_verdict v;
	struct arena a;
	struct dcap_vcoll *vc = NULL;
	struct dcap_cache *cache = dcap_cache_new(4);
	struct dcap_quote q;
	const char *pem, *end;
	uint8_t *m;
	size_t start, stop, tried = 0;

	(void)state;
	assert_non_null(cache);
	memset(&p, 0, sizeof(p));
	arena_init(&a, 1u << 20, 0);
	load_case("dcap-qvl/tdx_quote", TDXC, &l);
	assert_int_equal(dcap_vcoll_new(&l.coll, &trust, &vc, NULL), ERR_OK);
	assert_int_equal(dcap_quote_parse(l.quote, l.quote_len, &q, NULL), ERR_OK);
	pem = (const char *)q.cert_data;
	end = strstr(pem, "-----END CERTIFICATE-----");
	assert_non_null(end);
	start = (size_t)(pem - (const char *)l.quote) + 28;   /* after "-----BEGIN CERTIFICATE-----\n" */
	stop = (size_t)(end - (const char *)l.quote);
	m = malloc(l.quote_len);
	assert_non_null(m);
	memcpy(m, l.quote, l.quote_len);
	assert_int_equal(dcap_verify_quote(vc, m, l.quote_len, &p, T0, cache, &a, &v), ERR_OK);
	for (size_t off = start; off < stop; off++) {
		uint8_t c = m[off];
		err_t err;

		if (c == '\n' || c == '=')
			continue;
		m[off] = c == 'A' ? 'B' : 'A';
		dcap_cache_clear(cache);
		arena_reset(&a);
		err = dcap_verify_quote(vc, m, l.quote_len, &p, T0, cache, &a, &v);
		if (err == ERR_OK || err_group(err) != ERR_ATTEST)
			fail_msg("leaf PEM byte %zu '%c' -> '%c': %s", off, c, m[off], err_name(err));
		m[off] = c;
		tried++;
	}
	assert_true(tried > 1500);
	dcap_cache_clear(cache);
	assert_int_equal(dcap_verify_quote(vc, m, l.quote_len, &p, T0, cache, &a, &v), ERR_OK);
	free(m);
	dcap_cache_free(cache);
	dcap_vcoll_free(vc);
	unload(&l);
	arena_fini(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_matches_expected_json),
		cmocka_unit_test(test_fields_match_expected_json),
		cmocka_unit_test(test_vectors_dcap_qvl_mode),
		cmocka_unit_test(test_vectors_intel_mode),
		cmocka_unit_test(test_p01_verdict_fields),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_trust_anchors),
		cmocka_unit_test(test_time_boundaries),
		cmocka_unit_test(test_cache_and_chain_sources),
		cmocka_unit_test(test_byte_flip_sweep_tdx),
		cmocka_unit_test(test_byte_flip_sweep_sgx),
		cmocka_unit_test(test_pck_leaf_text_sweep),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
