/* SPDX-License-Identifier: Apache-2.0 */
/* DCAP parsers at their edges (quote truncation/lengths/types, RFC 3339, TCB info, QE identity, PCK extension, collateral) and TCB evaluation rules. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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

/* Parse a copy of exactly n bytes, so ASan sees any read past the end. */
static err_t parse_exact(const uint8_t *p, size_t n, struct dcap_quote *q)
{
	uint8_t *copy = malloc(n ? n : 1);
	err_t err;

	assert_non_null(copy);
	memcpy(copy, p, n);
	err = dcap_quote_parse(copy, n, q, NULL);
	free(copy);
	return err;
}

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* --- quote parser ----------------------------------------------------------------------------------- */

/* Cutting a quote anywhere before the end of its signature data is an error; after it, the rest is ignored. */
static void truncations(const char *rel)
{
	size_t n;
	uint8_t *raw = load(rel, &n);
	struct dcap_quote q;
	size_t end;

	assert_int_equal(dcap_quote_parse(raw, n, &q, NULL), ERR_OK);
	end = n - q.trailing;
	for (size_t cut = 0; cut <= n; cut++) {
		err_t err = parse_exact(raw, cut, &q);

		if (cut < end) {
			if (err == ERR_OK)
				fail_msg("%s cut at %zu parsed", rel, cut);
			assert_int_equal(err_group(err), ERR_ATTEST);
		} else {
			assert_int_equal(err, ERR_OK);
			assert_int_equal(q.trailing, cut - end);
		}
	}
	free(raw);
}

static void test_truncation_every_offset(void **state)
{
	(void)state;
	truncations("dcap-qvl/tdx_quote");                /* v4 TD 1.0, 70 trailing zeros */
	truncations("dcap-qvl/sgx_quote");                /* v3 SGX */
	truncations("go-tdx-guest/quote_v5_sample.dat");  /* v5 TD 1.5 */
}

static void test_header_rules(void **state)
{
	size_t n;
	uint8_t *raw = load("dcap-qvl/tdx_quote", &n), *q = malloc(n);
	struct dcap_quote pq;
	const char *detail;

	(void)state;
	assert_non_null(q);
#define TRY(mutate, want)                                                              \
	do {                                                                           \
		memcpy(q, raw, n);                                                     \
		mutate;                                                                \
		detail = NULL;                                                         \
		assert_int_equal(dcap_quote_parse(q, n, &pq, &detail), want);          \
		if (want != ERR_OK)                                                    \
			assert_non_null(detail);                                       \
	} while (0)
	TRY((void)0, ERR_OK);
	TRY(put_u16(q, 2), ERR_ATTEST_QUOTE_VERSION);
	TRY(put_u16(q, 6), ERR_ATTEST_QUOTE_VERSION);
	TRY(put_u16(q + 2, 3), ERR_ATTEST_KEY_TYPE);
	TRY(put_u16(q + 2, 1), ERR_ATTEST_KEY_TYPE);
	TRY(put_u32(q + 4, 0x80), ERR_ATTEST_TEE_TYPE);
	TRY(put_u16(q, 3), ERR_ATTEST_TEE_TYPE);            /* v3 is SGX only */
	TRY(q[12] ^= 1, ERR_ATTEST_QE_VENDOR);
	TRY(q[27] ^= 0x80, ERR_ATTEST_QE_VENDOR);
	/* Reserved header fields and user data are the signature's business, not the parser's. */
	TRY(q[8] = 0xff, ERR_OK);
	TRY(q[28] ^= 1, ERR_OK);
#undef TRY
	assert_int_equal(dcap_quote_parse(raw, DCAP_QUOTE_MAX + 1, &pq, &detail), ERR_ATTEST_QUOTE_FORMAT);
	assert_int_equal(dcap_quote_parse(NULL, 0, &pq, NULL), ERR_ATTEST_QUOTE_FORMAT);
	free(q);
	free(raw);
}

static void test_v5_body_descriptor(void **state)
{
	size_t n;
	uint8_t *raw = load("go-tdx-guest/quote_v5_sample.dat", &n), *q = malloc(n);
	struct dcap_quote pq;

	(void)state;
	assert_non_null(q);
	assert_int_equal(dcap_quote_parse(raw, n, &pq, NULL), ERR_OK);
	assert_int_equal(pq.body_type, DCAP_BODY_TD15);
	assert_int_equal(pq.body_len, DCAP_TD15_REPORT_LEN);
	assert_int_equal(pq.signed_len, 48 + 6 + 648);
#define TRY(mutate, want)                                                     \
	do {                                                                  \
		memcpy(q, raw, n);                                            \
		mutate;                                                       \
		assert_int_equal(dcap_quote_parse(q, n, &pq, NULL), want);    \
	} while (0)
	TRY(put_u16(q + 48, 0), ERR_ATTEST_QUOTE_VERSION);
	TRY(put_u16(q + 48, 4), ERR_ATTEST_QUOTE_VERSION);
	TRY(put_u32(q + 50, 647), ERR_ATTEST_QUOTE_FORMAT);           /* size must match the type */
	TRY(put_u32(q + 50, 0xffffffff), ERR_ATTEST_QUOTE_FORMAT);
	TRY(put_u16(q + 48, DCAP_BODY_TD10), ERR_ATTEST_QUOTE_FORMAT); /* TD10 is 584, the size says 648 */
	TRY((put_u16(q + 48, DCAP_BODY_SGX), put_u32(q + 50, 384)), ERR_ATTEST_TEE_TYPE);
#undef TRY
	free(q);
	free(raw);
}

/* Every structure inside the signature data must consume exactly its declared length. */
static void test_inner_lengths_exact(void **state)
{
	size_t n;
	uint8_t *raw = load("dcap-qvl/tdx_quote", &n), *q = malloc(n);
	struct dcap_quote pq;
	/* Offsets from derived/README.md: sig len 632, outer cert header 764, auth len 1218, inner header 1252. */
	const size_t sig_len = 632, outer = 764, auth_len = 1218, inner = 1252;

	(void)state;
	assert_non_null(q);
	assert_int_equal(dcap_quote_parse(raw, n, &pq, NULL), ERR_OK);
	assert_int_equal(pq.trailing, 70);
#define TRY(mutate, want)                                                     \
	do {                                                                  \
		memcpy(q, raw, n);                                            \
		mutate;                                                       \
		assert_int_equal(dcap_quote_parse(q, n, &pq, NULL), want);    \
	} while (0)
	/* One more byte of signature data (a trailing zero is there to take): nothing may be left over. */
	TRY(put_u32(q + sig_len, get_u32(raw + sig_len) + 1), ERR_ATTEST_QUOTE_FORMAT);
	TRY(put_u32(q + sig_len, get_u32(raw + sig_len) - 1), ERR_ATTEST_QUOTE_FORMAT);
	TRY(put_u32(q + sig_len, (uint32_t)(n - sig_len - 4 + 1)), ERR_ATTEST_QUOTE_FORMAT);
	/* The QE report certification data, one byte longer or shorter than what it holds. */
	TRY(put_u32(q + outer + 2, get_u32(raw + outer + 2) + 1), ERR_ATTEST_QUOTE_FORMAT);
	TRY(put_u32(q + outer + 2, get_u32(raw + outer + 2) - 1), ERR_ATTEST_QUOTE_FORMAT);
	TRY(put_u32(q + inner + 2, get_u32(raw + inner + 2) - 1), ERR_ATTEST_QUOTE_FORMAT);
	TRY(put_u32(q + inner + 2, get_u32(raw + inner + 2) + 1), ERR_ATTEST_QUOTE_FORMAT);
	TRY(put_u16(q + auth_len, 33), ERR_ATTEST_CERT_DATA);   /* the inner type is then read one byte late */
	TRY(put_u16(q + auth_len, 0xffff), ERR_ATTEST_QUOTE_FORMAT);
	/* Certification data types. */
	TRY(put_u16(q + outer, 7), ERR_ATTEST_CERT_DATA);
	TRY(put_u16(q + outer, 5), ERR_ATTEST_CERT_DATA);
	TRY(put_u16(q + inner, 6), ERR_ATTEST_CERT_DATA);
	TRY(put_u16(q + inner, 0), ERR_ATTEST_CERT_DATA);
	TRY(put_u16(q + inner, 4), ERR_OK);      /* a leaf-only type parses; the verifier asks for a chain */
#undef TRY
	free(q);
	free(raw);
}

static void test_v3_cert_type(void **state)
{
	size_t n;
	uint8_t *raw = load("dcap-qvl/sgx_quote", &n);
	struct dcap_quote pq;
	size_t type_off;

	(void)state;
	assert_int_equal(dcap_quote_parse(raw, n, &pq, NULL), ERR_OK);
	assert_int_equal(pq.outer_cert_type, 0);
	assert_int_equal(pq.cert_type, DCAP_CERT_PCK_CHAIN);
	type_off = (size_t)(pq.cert_data - raw) - 6;
	put_u16(raw + type_off, 6);      /* the v4 wrapper type is not allowed inside v3 auth data */
	assert_int_equal(dcap_quote_parse(raw, n, &pq, NULL), ERR_ATTEST_CERT_DATA);
	free(raw);
}

/* --- time ------------------------------------------------------------------------------------------- */

static void test_time_parse(void **state)
{
	static const char *const bad[] = {
		"2025-06-19T10:16:03", "2025-06-19T10:16:03z", "2025-06-19t10:16:03Z", "2025-06-19 10:16:03Z",
		"2025-06-19T10:16:03.000Z", "2025-06-19T10:16:03+00:00", "2025-13-01T00:00:00Z",
		"2025-00-01T00:00:00Z", "2025-06-31T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
		"2025-06-19T24:00:00Z", "2025-06-19T10:60:00Z", "2025-06-19T10:16:60Z", "1969-12-31T23:59:59Z",
		"2025-06-19T1a:16:03Z", "+025-06-19T10:16:03Z", "2025-6-19T10:16:03ZZ", "",
	};
	uint64_t t;

	(void)state;
	assert_int_equal(dcap_time_parse("2025-06-19T10:16:03Z", 20, &t), ERR_OK);
	assert_int_equal(t, 1750328163);
	assert_int_equal(dcap_time_parse("1970-01-01T00:00:00Z", 20, &t), ERR_OK);
	assert_int_equal(t, 0);
	assert_int_equal(dcap_time_parse("2024-02-29T23:59:59Z", 20, &t), ERR_OK);
	assert_int_equal(t, 1709251199);
	assert_int_equal(dcap_time_parse("2000-02-29T00:00:00Z", 20, &t), ERR_OK);
	assert_int_equal(t, 951782400);
	assert_int_equal(dcap_time_parse("2049-12-31T23:59:59Z", 20, &t), ERR_OK);
	assert_int_equal(t, 2524607999);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (dcap_time_parse(bad[i], strlen(bad[i]), &t) == ERR_OK)
			fail_msg("accepted %s", bad[i]);
	/* Length is what counts, not a NUL. */
	assert_int_not_equal(dcap_time_parse("2025-06-19T10:16:03Z", 19, &t), ERR_OK);
}

/* --- TCB info / QE identity ------------------------------------------------------------------------- */

static char *collateral_field(const char *rel, const char *key, size_t *len)
{
	size_t n;
	char *json = (char *)load(rel, &n), *out;
	struct arena a;
	struct json_value *root = NULL;
	const char *s;

	arena_init(&a, 16u << 20, 0);
	assert_int_equal(json_parse(json, n, NULL, &a, &root, NULL), ERR_OK);
	assert_int_equal(json_get_str(root, key, &s, len), ERR_OK);
	out = malloc(*len + 1);
	assert_non_null(out);
	memcpy(out, s, *len + 1);
	arena_fini(&a);
	free(json);
	return out;
}

/* `text` with the first occurrence of `from` replaced by `to` (caller frees). */
static char *replace(const char *text, const char *from, const char *to, size_t *len)
{
	const char *at = strstr(text, from);
	size_t n = strlen(text), fl = strlen(from), tl = strlen(to);
	char *out;

	if (!at)
		fail_msg("'%s' not found", from);
	out = malloc(n - fl + tl + 1);
	assert_non_null(out);
	memcpy(out, text, (size_t)(at - text));
	memcpy(out + (at - text), to, tl);
	memcpy(out + (at - text) + tl, at + fl, n - (size_t)(at - text) - fl + 1);
	*len = n - fl + tl;
	return out;
}

static err_t tcb_parse_mut(const char *base, const char *from, const char *to)
{
	size_t len;
	char *m = replace(base, from, to, &len);
	struct arena a;
	struct dcap_tcb_info ti;
	const char *detail = NULL;
	err_t err;

	arena_init(&a, 4u << 20, 0);
	err = dcap_tcb_info_parse(m, len, &a, &ti, &detail);
	if (err)
		assert_non_null(detail);
	arena_fini(&a);
	free(m);
	return err;
}

static void test_tcb_info_parse(void **state)
{
	size_t len;
	char *tdx = collateral_field("dcap-qvl/tdx_quote_collateral.json", "tcb_info", &len);
	char *sgx2 = collateral_field("automata/collateral_sgx_00606a000000_2506_tcbinfo_v2.json", "tcb_info", &len);
	struct arena a;
	struct dcap_tcb_info ti;
	static const uint8_t fmspc[6] = { 0xb0, 0xc0, 0x6f, 0, 0, 0 };

	(void)state;
	arena_init(&a, 4u << 20, 0);
	assert_int_equal(dcap_tcb_info_parse(tdx, strlen(tdx), &a, &ti, NULL), ERR_OK);
	assert_int_equal(ti.version, 3);
	assert_int_equal(ti.id, DCAP_TCB_ID_TDX);
	assert_memory_equal(ti.fmspc, fmspc, 6);
	assert_int_equal(ti.eval_number, 17);
	assert_int_equal(ti.issue_date, 1750328163);
	assert_true(ti.has_tdx_module);
	assert_int_equal(ti.n_module_ids, 2);
	assert_string_equal(ti.module_ids[1].id, "TDX_01");
	assert_int_equal(ti.module_ids[1].n_levels, 2);
	assert_int_equal(ti.module_ids[1].levels[0].isvsvn, 4);
	for (size_t i = 1; i < ti.n_levels; i++) {
		const struct dcap_tcb_level *x = &ti.levels[i - 1], *y = &ti.levels[i];

		assert_true(memcmp(x->sgx, y->sgx, 16) > 0 || (memcmp(x->sgx, y->sgx, 16) == 0 && x->pcesvn >= y->pcesvn));
	}
	assert_int_equal(ti.levels[0].status, TCB_UP_TO_DATE);
	assert_int_equal(ti.levels[ti.n_levels - 1].adv.n, 14);
	assert_string_equal(ti.levels[ti.n_levels - 1].adv.ids[13], "INTEL-SA-00837");

	/* v2 (SGX, flat components) parses: what Intel QVL accepts and dcap-qvl cannot read. */
	arena_reset(&a);
	assert_int_equal(dcap_tcb_info_parse(sgx2, strlen(sgx2), &a, &ti, NULL), ERR_OK);
	assert_int_equal(ti.version, 2);
	assert_int_equal(ti.id, DCAP_TCB_ID_NONE);
	assert_int_equal(ti.levels[0].sgx[4], 255);
	assert_int_equal(ti.levels[0].pcesvn, 13);
	assert_int_equal(ti.levels[0].status, TCB_SW_HARDENING_NEEDED);
	arena_fini(&a);

	/* Unknown values are rejected as such, never guessed. */
	assert_int_equal(tcb_parse_mut(tdx, "\"tcbStatus\":\"UpToDate\"", "\"tcbStatus\":\"UpToDateX\""),
			 ERR_ATTEST_UNKNOWN_VALUE);
	assert_int_equal(tcb_parse_mut(tdx, "\"tcbStatus\":\"UpToDate\"", "\"tcbStatus\":\"uptodate\""),
			 ERR_ATTEST_UNKNOWN_VALUE);
	assert_int_equal(tcb_parse_mut(tdx, "\"tcbStatus\":\"UpToDate\"", "\"tcbStatus\":\"TDRelaunchAdvised\""),
			 ERR_ATTEST_UNKNOWN_VALUE);
	/* The first OutOfDate is a TDX module level, and module levels take UpToDate/OutOfDate/Revoked only. */
	assert_int_equal(tcb_parse_mut(tdx, "\"tcbStatus\":\"OutOfDate\"", "\"tcbStatus\":\"SWHardeningNeeded\""),
			 ERR_ATTEST_UNKNOWN_VALUE);
	assert_int_equal(tcb_parse_mut(tdx, "\"id\":\"TDX\"", "\"id\":\"TDY\""), ERR_ATTEST_UNKNOWN_VALUE);
	assert_int_equal(tcb_parse_mut(tdx, "\"tcbType\":0", "\"tcbType\":1"), ERR_ATTEST_UNKNOWN_VALUE);
	/* Format errors. */
	assert_int_equal(tcb_parse_mut(tdx, "\"version\":3", "\"version\":4"), ERR_ATTEST_TCB_INFO_FORMAT);
	assert_int_equal(tcb_parse_mut(tdx, "\"version\":3", "\"version\":\"3\""), ERR_ATTEST_TCB_INFO_FORMAT);
	assert_int_equal(tcb_parse_mut(tdx, "\"fmspc\":\"B0C06F000000\"", "\"fmspc\":\"B0C06F00000\""),
			 ERR_ATTEST_TCB_INFO_FORMAT);
	assert_int_equal(tcb_parse_mut(tdx, "\"fmspc\":\"B0C06F000000\"", "\"fmspc\":\"0xB0C06F0000\""),
			 ERR_ATTEST_TCB_INFO_FORMAT);
	assert_int_equal(tcb_parse_mut(tdx, "\"issueDate\":\"2025-06-19T10:16:03Z\"",
				       "\"issueDate\":\"2025-06-19T10:16:03.5Z\""),
			 ERR_ATTEST_TCB_INFO_FORMAT);
	assert_int_equal(tcb_parse_mut(tdx, "\"nextUpdate\":\"2025-07-19T10:16:03Z\"",
				       "\"nextUpdate\":\"2025-06-19T10:16:02Z\""),
			 ERR_ATTEST_TCB_INFO_FORMAT);
	assert_int_equal(tcb_parse_mut(tdx, "{\"svn\":2,", "{\"svn\":256,"), ERR_ATTEST_TCB_INFO_FORMAT);
	assert_int_equal(tcb_parse_mut(tdx, "{\"svn\":2,", "{\"svn\":-1,"), ERR_ATTEST_TCB_INFO_FORMAT);
	assert_int_equal(tcb_parse_mut(tdx, "{\"svn\":2,", "{\"svn\":2.0,"), ERR_ATTEST_TCB_INFO_FORMAT);
	assert_int_equal(tcb_parse_mut(tdx, "{\"svn\":0},{\"svn\":0}]", "{\"svn\":0}]"), ERR_ATTEST_TCB_INFO_FORMAT);
	assert_int_equal(tcb_parse_mut(tdx, "\"pcesvn\":11", "\"pcesvn\":65536"), ERR_ATTEST_TCB_INFO_FORMAT);
	assert_int_equal(tcb_parse_mut(tdx, "\"tcbLevels\":[{\"tcb\":{\"sgx", "\"tcbLevels\":[],\"x\":[{\"tcb\":{\"sgx"),
			 ERR_ATTEST_TCB_INFO_FORMAT);
	assert_int_equal(tcb_parse_mut(tdx, "\"tdxModule\":", "\"tdxModuleX\":"), ERR_ATTEST_TCB_INFO_FORMAT);
	assert_int_equal(tcb_parse_mut(tdx, "\"advisoryIDs\":[\"INTEL-SA-00106\"", "\"advisoryIDs\":[106"),
			 ERR_ATTEST_TCB_INFO_FORMAT);
	assert_int_equal(tcb_parse_mut(tdx, "\"advisoryIDs\":[\"INTEL-SA-00106\"", "\"advisoryIDs\":[\"A B\""),
			 ERR_ATTEST_TCB_INFO_FORMAT);
	assert_int_equal(tcb_parse_mut(tdx, "\"id\":\"TDX\"", "\"id\":\"TDX\",\"id\":\"TDX\""),
			 ERR_ATTEST_TCB_INFO_FORMAT);   /* duplicate key */
	/* Trailing bytes after the object. */
	{
		size_t tl = strlen(tdx);
		char *t = malloc(tl + 3);
		struct dcap_tcb_info ti2;

		assert_non_null(t);
		memcpy(t, tdx, tl);
		memcpy(t + tl, " x", 3);
		arena_init(&a, 4u << 20, 0);
		assert_int_equal(dcap_tcb_info_parse(t, tl + 2, &a, &ti2, NULL), ERR_ATTEST_TCB_INFO_FORMAT);
		arena_fini(&a);
		free(t);
	}
	/* Unknown keys are tolerated (Intel adds fields). */
	assert_int_equal(tcb_parse_mut(tdx, "\"id\":\"TDX\"", "\"id\":\"TDX\",\"futureField\":[1,{}]"), ERR_OK);
	/* v2 with an id, or v2 claiming TDX, is not v2. */
	assert_int_equal(tcb_parse_mut(sgx2, "\"version\":2", "\"id\":\"SGX\",\"version\":2"),
			 ERR_ATTEST_TCB_INFO_FORMAT);
	assert_int_equal(tcb_parse_mut(sgx2, "\"sgxtcbcomp16svn\":0", "\"sgxtcbcomp16svnX\":0"),
			 ERR_ATTEST_TCB_INFO_FORMAT);
	free(tdx);
	free(sgx2);
}

static err_t qe_parse_mut(const char *base, const char *from, const char *to)
{
	size_t len;
	char *m = replace(base, from, to, &len);
	struct arena a;
	struct dcap_qe_identity q;
	err_t err;

	arena_init(&a, 4u << 20, 0);
	err = dcap_qe_identity_parse(m, len, &a, &q, NULL);
	arena_fini(&a);
	free(m);
	return err;
}

static void test_qe_identity_parse(void **state)
{
	size_t len;
	char *td = collateral_field("dcap-qvl/tdx_quote_collateral.json", "qe_identity", &len);
	char *qe = collateral_field("dcap-qvl/sgx_quote_collateral.json", "qe_identity", &len);
	struct arena a;
	struct dcap_qe_identity q;

	(void)state;
	arena_init(&a, 4u << 20, 0);
	assert_int_equal(dcap_qe_identity_parse(td, strlen(td), &a, &q, NULL), ERR_OK);
	assert_int_equal(q.id, DCAP_QE_ID_TD_QE);
	assert_int_equal(q.isvprodid, 2);
	assert_int_equal(q.miscselect_mask, 0xffffffffu);
	assert_int_equal(q.attributes_mask[0], 0xfb);
	assert_int_equal(q.mrsigner[0], 0xdc);
	assert_int_equal(q.levels[0].isvsvn, 4);
	arena_reset(&a);
	assert_int_equal(dcap_qe_identity_parse(qe, strlen(qe), &a, &q, NULL), ERR_OK);
	assert_int_equal(q.id, DCAP_QE_ID_QE);
	assert_int_equal(q.isvprodid, 1);
	for (size_t i = 1; i < q.n_levels; i++)
		assert_true(q.levels[i - 1].isvsvn >= q.levels[i].isvsvn);
	arena_fini(&a);

	assert_int_equal(qe_parse_mut(td, "\"id\":\"TD_QE\"", "\"id\":\"TD_QE2\""), ERR_ATTEST_UNKNOWN_VALUE);
	assert_int_equal(qe_parse_mut(td, "\"tcbStatus\":\"UpToDate\"", "\"tcbStatus\":\"SWHardeningNeeded\""),
			 ERR_ATTEST_UNKNOWN_VALUE);
	assert_int_equal(qe_parse_mut(td, "\"tcbStatus\":\"UpToDate\"", "\"tcbStatus\":\"Unknown\""),
			 ERR_ATTEST_UNKNOWN_VALUE);
	assert_int_equal(qe_parse_mut(td, "\"version\":2", "\"version\":3"), ERR_ATTEST_QE_IDENTITY_FORMAT);
	assert_int_equal(qe_parse_mut(td, "\"miscselect\":\"00000000\"", "\"miscselect\":\"0000000\""),
			 ERR_ATTEST_QE_IDENTITY_FORMAT);
	assert_int_equal(qe_parse_mut(td, "\"isvprodid\":2", "\"isvprodid\":65536"), ERR_ATTEST_QE_IDENTITY_FORMAT);
	assert_int_equal(qe_parse_mut(td, "\"mrsigner\":\"DC9E", "\"mrsigner\":\"DC9E00"), ERR_ATTEST_QE_IDENTITY_FORMAT);
	assert_int_equal(qe_parse_mut(td, "\"tcbLevels\":[{", "\"tcbLevels\":[],\"x\":[{"), ERR_ATTEST_QE_IDENTITY_FORMAT);
	assert_int_equal(qe_parse_mut(td, "\"isvsvn\":4", "\"isvsvn\":65536"), ERR_ATTEST_QE_IDENTITY_FORMAT);
	assert_int_equal(qe_parse_mut(td, "\"tcbDate\":\"2024-03-13T00:00:00Z\"", "\"tcbDate\":\"2024-03-13\""),
			 ERR_ATTEST_QE_IDENTITY_FORMAT);
	assert_int_equal(qe_parse_mut(td, "]}", "]} {}"), ERR_ATTEST_QE_IDENTITY_FORMAT);
	assert_int_equal(qe_parse_mut(td, "\"isvprodid\":2", "\"isvprodid\":2,\"new\":true"), ERR_OK);
	free(td);
	free(qe);
}

/* --- PCK extension ---------------------------------------------------------------------------------- */

/* The SGX extension value of the PCK leaf in a quote (copied; caller frees). */
static uint8_t *pck_ext_of(const char *rel, size_t *len, X509 **leaf_out)
{
	size_t n;
	uint8_t *raw = load(rel, &n), *out = NULL;
	struct dcap_quote q;
	STACK_OF(X509) *chain;

	*len = 0;
	X509 *leaf;

	assert_int_equal(dcap_quote_parse(raw, n, &q, NULL), ERR_OK);
	chain = pem_certs_parse((const char *)q.cert_data, q.cert_data_len);
	assert_non_null(chain);
	leaf = sk_X509_value(chain, 0);
	for (int i = 0; i < X509_get_ext_count(leaf); i++) {
		X509_EXTENSION *e = X509_get_ext(leaf, i);
		char oid[64];
		const ASN1_OCTET_STRING *v;

		OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(e), 1);
		if (strcmp(oid, "1.2.840.113741.1.13.1") != 0)
			continue;
		v = X509_EXTENSION_get_data(e);
		*len = (size_t)ASN1_STRING_length(v);
		out = malloc(*len);
		assert_non_null(out);
		memcpy(out, ASN1_STRING_get0_data(v), *len);
	}
	assert_non_null(out);
	if (leaf_out) {
		X509_up_ref(leaf);
		*leaf_out = leaf;
	}
	sk_X509_pop_free(chain, X509_free);
	free(raw);
	return out;
}

static uint8_t *find_bytes(uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return hay + i;
	fail_msg("pattern not found");
	return NULL;
}

static err_t ext_parse_copy(const uint8_t *p, size_t n, struct dcap_pck_info *info)
{
	uint8_t *copy = malloc(n ? n : 1);
	err_t err;

	assert_non_null(copy);
	memcpy(copy, p, n);
	err = dcap_pck_ext_parse(copy, n, info, NULL);
	free(copy);
	return err;
}

static void test_pck_extension(void **state)
{
	size_t n = 0;
	X509 *leaf = NULL;
	uint8_t *ext = pck_ext_of("dcap-qvl/tdx_quote", &n, &leaf), *m = malloc(n + 1), *at;
	struct dcap_pck_info info;
	static const uint8_t ppid[16] = { 0x81, 0x1d, 0xca, 0x2a, 0x26, 0xb9, 0x52, 0xe8,
					  0x5b, 0xb6, 0x44, 0x8b, 0x09, 0x7b, 0xa4, 0xfd };
	static const uint8_t cpusvn[16] = { 3, 3, 2, 2, 4, 1, 0, 5 };
	/* .5 SGX type entry: OID ...0d 01 05, ENUMERATED 01 */
	static const uint8_t sgx_type[] = { 0x0d, 0x01, 0x05, 0x0a, 0x01, 0x01 };
	/* .2.18 CPUSVN: OID ...0d 01 02 12, OCTET STRING(16) */
	static const uint8_t cpusvn_hdr[] = { 0x0d, 0x01, 0x02, 0x12, 0x04, 0x10 };
	/* .2.17 PCESVN: OID ...0d 01 02 11, INTEGER 0b */
	static const uint8_t pcesvn[] = { 0x0d, 0x01, 0x02, 0x11, 0x02, 0x01, 0x0b };

	(void)state;
	assert_non_null(m);
	assert_int_equal(dcap_pck_ext_parse(ext, n, &info, NULL), ERR_OK);
	assert_memory_equal(info.ppid, ppid, 16);
	assert_memory_equal(info.cpusvn, cpusvn, 16);
	assert_memory_equal(info.comp, cpusvn, 16);
	assert_int_equal(info.pcesvn, 11);
	assert_int_equal(info.sgx_type, 1);
	assert_true(info.has_platform_instance_id);
	assert_int_equal(dcap_pck_cert_info(leaf, &info, NULL), ERR_OK);
	assert_int_equal(info.ca_platform, 1);

	/* Every truncation fails; so does a byte after the outer SEQUENCE. */
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(ext_parse_copy(ext, cut, &info), ERR_ATTEST_PCK_EXTENSION);
	memcpy(m, ext, n);
	m[n] = 0;
	assert_int_equal(ext_parse_copy(m, n + 1, &info), ERR_ATTEST_PCK_EXTENSION);

	/* Unknown SGX type: an unknown value, not a format error. */
	memcpy(m, ext, n);
	at = find_bytes(m, n, sgx_type, sizeof(sgx_type));
	at[5] = 3;
	assert_int_equal(ext_parse_copy(m, n, &info), ERR_ATTEST_UNKNOWN_VALUE);
	at[5] = 2;
	assert_int_equal(ext_parse_copy(m, n, &info), ERR_OK);
	/* CPUSVN that disagrees with the components. */
	memcpy(m, ext, n);
	at = find_bytes(m, n, cpusvn_hdr, sizeof(cpusvn_hdr));
	at[6] ^= 1;
	assert_int_equal(ext_parse_copy(m, n, &info), ERR_ATTEST_PCK_EXTENSION);
	/* A negative PCESVN, and a component OID renumbered to a duplicate of another. */
	memcpy(m, ext, n);
	at = find_bytes(m, n, pcesvn, sizeof(pcesvn));
	at[6] = 0x8b;
	assert_int_equal(ext_parse_copy(m, n, &info), ERR_ATTEST_PCK_EXTENSION);
	memcpy(m, ext, n);
	at = find_bytes(m, n, pcesvn, sizeof(pcesvn));
	at[3] = 0x10;   /* .2.17 -> .2.16: twice .2.16, no .2.17 */
	assert_int_equal(ext_parse_copy(m, n, &info), ERR_ATTEST_PCK_EXTENSION);
	/* An entry renamed to an OID outside the extension is skipped: PPID gone means "required entry missing". */
	memcpy(m, ext, n);
	at = find_bytes(m, n, (const uint8_t[]){ 0x0d, 0x01, 0x01, 0x04, 0x10 }, 5);
	at[2] = 0x09;   /* .1 -> .9 (unknown, skipped) */
	assert_int_equal(ext_parse_copy(m, n, &info), ERR_ATTEST_PCK_EXTENSION);
	/* Single-byte flips anywhere: an error from the extension's own codes, or a clean parse. */
	for (size_t i = 0; i < n; i++) {
		err_t err;

		memcpy(m, ext, n);
		m[i] ^= 0x41;
		err = ext_parse_copy(m, n, &info);
		assert_true(err == ERR_OK || err == ERR_ATTEST_PCK_EXTENSION || err == ERR_ATTEST_UNKNOWN_VALUE);
	}
	X509_free(leaf);
	free(m);
	free(ext);
}

/* --- collateral documents --------------------------------------------------------------------------- */

static err_t coll_parse_mut(const char *base, const char *from, const char *to, struct dcap_collateral *c,
			    struct arena *a)
{
	size_t len;
	char *m = replace(base, from, to, &len);
	err_t err;

	arena_reset(a);
	err = dcap_collateral_parse_json(m, len, a, c, NULL);
	free(m);
	return err;
}

static void test_collateral_json(void **state)
{
	size_t n;
	char *json = (char *)load("dcap-qvl/tdx_quote_collateral.json", &n);
	struct arena a;
	struct dcap_collateral c;

	(void)state;
	arena_init(&a, 16u << 20, 0);
	assert_int_equal(dcap_collateral_parse_json(json, n, &a, &c, NULL), ERR_OK);
	assert_int_equal(c.tcb_info_len, 2934);
	assert_int_equal(c.root_ca_crl_len, 292);
	assert_int_equal(c.root_ca_crl[0], 0x30);
	assert_null(c.pck_certificate_chain);
	assert_int_equal(c.tcb_info_signature[0], 0x02);

	assert_int_equal(coll_parse_mut(json, "\"tcb_info\":", "\"tcb_infoX\":", &c, &a), ERR_ATTEST_COLLATERAL_MISSING);
	assert_int_equal(coll_parse_mut(json, "\"pck_crl\": \"30", "\"pck_crl\": \"3g", &c, &a), ERR_PROTO_ENCODING);
	assert_int_equal(coll_parse_mut(json, "\"pck_crl\": \"30", "\"pck_crl\": \"0x30", &c, &a), ERR_PROTO_ENCODING);
	assert_int_equal(coll_parse_mut(json, "\"tcb_info_signature\": \"02", "\"tcb_info_signature\": \"", &c, &a),
			 ERR_PROTO_ENCODING);
	assert_int_equal(coll_parse_mut(json, "\"tcb_info\":", "\"tcb_info\":1,\"x\":", &c, &a), ERR_PROTO_FIELD_TYPE);
	assert_int_equal(coll_parse_mut(json, "\"tcb_info\":", "\"tcb_info\":\"\",\"tcb_info\":", &c, &a), ERR_PROTO_JSON);
	assert_int_equal(coll_parse_mut(json, "\"pck_crl_issuer_chain\":",
					"\"pck_certificate_chain\":null,\"pck_crl_issuer_chain\":", &c, &a),
			 ERR_OK);
	assert_null(c.pck_certificate_chain);
	assert_int_equal(coll_parse_mut(json, "\"pck_crl_issuer_chain\":",
					"\"pck_certificate_chain\":\"PEM\",\"pck_crl_issuer_chain\":", &c, &a),
			 ERR_OK);
	assert_int_equal(c.pck_certificate_chain_len, 3);
	assert_int_equal(coll_parse_mut(json, "\"pck_crl_issuer_chain\":",
					"\"pck_certificate_chain\":7,\"pck_crl_issuer_chain\":", &c, &a),
			 ERR_PROTO_FIELD_TYPE);
	assert_int_equal(coll_parse_mut(json, "\"pck_crl_issuer_chain\":", "\"newer_field\":[],\"pck_crl_issuer_chain\":",
					&c, &a),
			 ERR_OK);
	/* Trailing bytes after the document. */
	{
		char *m = malloc(n + 2);

		assert_non_null(m);
		memcpy(m, json, n);
		memcpy(m + n, "{}", 2);
		arena_reset(&a);
		assert_int_equal(dcap_collateral_parse_json(m, n + 2, &a, &c, NULL), ERR_PROTO_JSON);
		free(m);
	}
	arena_fini(&a);
	free(json);
}

/* PCS bodies: the signed span is the exact inner object text that dcap-qvl collateral carries. */
static void test_pcs_responses(void **state)
{
	size_t n, cn;
	char *tcb_body = (char *)load("go-tdx-guest/sample_tcbInfo_response", &n);
	char *coll = (char *)load("go-tdx-guest/collateral_spr_e4_v4.json", &cn);
	char *qe_body;
	struct arena a;
	struct dcap_collateral c;
	const char *span = NULL;
	size_t span_len = 0, qn;
	uint8_t sig[64];

	(void)state;
	arena_init(&a, 16u << 20, 0);
	assert_int_equal(dcap_collateral_parse_json(coll, cn, &a, &c, NULL), ERR_OK);
	assert_int_equal(dcap_pcs_tcb_info_parse(tcb_body, n, &a, &span, &span_len, sig, NULL), ERR_OK);
	assert_int_equal(span_len, c.tcb_info_len);
	assert_memory_equal(span, c.tcb_info, span_len);
	assert_memory_equal(sig, c.tcb_info_signature, 64);
	assert_int_equal(dcap_pcs_qe_identity_parse(tcb_body, n, &a, &span, &span_len, sig, NULL),
			 ERR_ATTEST_COLLATERAL_MISSING);
	qe_body = (char *)load("go-tdx-guest/sample_qeIdentity_response", &qn);
	assert_int_equal(dcap_pcs_qe_identity_parse(qe_body, qn, &a, &span, &span_len, sig, NULL), ERR_OK);
	assert_int_equal(span_len, c.qe_identity_len);
	assert_memory_equal(span, c.qe_identity, span_len);
	assert_memory_equal(sig, c.qe_identity_signature, 64);
	{
		static const char short_sig[] = "{\"enclaveIdentity\":{},\"signature\":\"00\"}";
		static const char extra[] = "{\"tcbInfo\":{},\"x\":1,\"signature\":\"00\"}";

		assert_int_equal(dcap_pcs_qe_identity_parse(short_sig, strlen(short_sig), &a, &span, &span_len, sig, NULL),
				 ERR_PROTO_ENCODING);
		assert_int_equal(dcap_pcs_tcb_info_parse(extra, strlen(extra), &a, &span, &span_len, sig, NULL),
				 ERR_PROTO_JSON);
	}
	arena_fini(&a);
	free(qe_body);
	free(coll);
	free(tcb_body);
}

/* --- TCB evaluation on synthetic TCB info ----------------------------------------------------------- */

/* One TCB level: 16 SGX SVNs all `s`, PCESVN 11, TDX components t0,t1,t2 then zeros. */
static int level_json(char *out, size_t cap, int s, int t0, int t1, int t2, const char *status, const char *adv)
{
	char sgx[512], tdx[512];
	size_t k = 0, j = 0;

	for (int i = 0; i < 16; i++)
		k += (size_t)snprintf(sgx + k, sizeof(sgx) - k, "%s{\"svn\":%d}", i ? "," : "", s);
	for (int i = 0; i < 16; i++)
		j += (size_t)snprintf(tdx + j, sizeof(tdx) - j, "%s{\"svn\":%d}", i ? "," : "",
				      i == 0 ? t0 : i == 1 ? t1 : i == 2 ? t2 : 0);
	return snprintf(out, cap,
			"{\"tcb\":{\"sgxtcbcomponents\":[%s],\"pcesvn\":11,\"tdxtcbcomponents\":[%s]},"
			"\"tcbDate\":\"2024-03-13T00:00:00Z\",\"tcbStatus\":\"%s\"%s%s%s}",
			sgx, tdx, status, adv ? ",\"advisoryIDs\":[\"" : "", adv ? adv : "", adv ? "\"]" : "");
}

#define Z96 "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"

/*
 * Levels (sorted highest first on parse, given here lowest first):
 *   A: SGX 3, TDX 5,0,3  status_a
 *   B: SGX 2, TDX 3,0,2  OutOfDate [SA-B]
 * Module TDX_01: isvsvn 4 -> module_hi, isvsvn 2 -> OutOfDate [SA-M].
 */
static void synth_tdx(struct arena *a, struct dcap_tcb_info *ti, const char *status_a, const char *module_hi)
{
	char la[2048], lb[2048], *doc;
	int n;

	level_json(la, sizeof(la), 3, 5, 0, 3, status_a, NULL);
	level_json(lb, sizeof(lb), 2, 3, 0, 2, "OutOfDate", "SA-B");
	doc = malloc(16384);
	assert_non_null(doc);
	n = snprintf(doc, 16384,
		     "{\"id\":\"TDX\",\"version\":3,\"issueDate\":\"2025-01-01T00:00:00Z\","
		     "\"nextUpdate\":\"2025-02-01T00:00:00Z\",\"fmspc\":\"00806F050000\",\"pceId\":\"0000\","
		     "\"tcbType\":0,\"tcbEvaluationDataNumber\":17,"
		     "\"tdxModule\":{\"mrsigner\":\"" Z96 "\",\"attributes\":\"0000000000000000\","
		     "\"attributesMask\":\"FFFFFFFFFFFFFFFF\"},"
		     "\"tdxModuleIdentities\":[{\"id\":\"tdx_01\",\"mrsigner\":\"" Z96 "\","
		     "\"attributes\":\"0000000000000000\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\",\"tcbLevels\":["
		     "{\"tcb\":{\"isvsvn\":2},\"tcbDate\":\"2023-08-09T00:00:00Z\",\"tcbStatus\":\"OutOfDate\","
		     "\"advisoryIDs\":[\"SA-M\"]},"
		     "{\"tcb\":{\"isvsvn\":4},\"tcbDate\":\"2024-03-13T00:00:00Z\",\"tcbStatus\":\"%s\"}]}],"
		     "\"tcbLevels\":[%s,%s]}",
		     module_hi, lb, la);
	assert_true(n > 0 && n < 16384);
	assert_int_equal(dcap_tcb_info_parse(doc, (size_t)n, a, ti, NULL), ERR_OK);
	free(doc);
}

struct eval_in {
	struct dcap_qe_level qe;
	struct dcap_pck_info pck;
	struct attest_td_report td;
};

static void eval_in_init(struct eval_in *in, int sgx, uint8_t t0, uint8_t t1, uint8_t t2, enum tcb_status qe)
{
	memset(in, 0, sizeof(*in));
	in->qe.status = qe;
	memset(in->pck.cpusvn, sgx, 16);
	memset(in->pck.comp, sgx, 16);
	in->pck.pcesvn = 11;
	in->td.tee_tcb_svn[0] = t0;
	in->td.tee_tcb_svn[1] = t1;
	in->td.tee_tcb_svn[2] = t2;
}

static err_t eval(const struct dcap_tcb_info *ti, const struct eval_in *in, enum dcap_body_type body,
		  enum attest_tcb_mode mode, struct dcap_tcb_eval *r)
{
	const char *detail = NULL;
	err_t err = dcap_tcb_evaluate(ti, &in->qe, &in->pck, &in->td, body, mode, r, &detail);

	if (err)
		assert_non_null(detail);
	return err;
}

static void test_tcb_evaluate_rules(void **state)
{
	struct arena a;
	struct dcap_tcb_info ti;
	struct eval_in in;
	struct dcap_tcb_eval r;

	(void)state;
	arena_init(&a, 4u << 20, 0);
	synth_tdx(&a, &ti, "UpToDate", "UpToDate");
	/* Sorted on parse: A (SGX 3) first even though the document listed B first. */
	assert_int_equal(ti.levels[0].sgx[0], 3);
	assert_int_equal(ti.module_ids[0].levels[0].isvsvn, 4);

	/* P07's shape: TDX module SVN 4 < A's component 0 (5). dcap-qvl compares it -> B; Intel skips it -> A. */
	eval_in_init(&in, 3, 4, 1, 3, TCB_UP_TO_DATE);
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_DCAP_QVL, &r), ERR_OK);
	assert_int_equal(r.platform, TCB_OUT_OF_DATE);
	assert_int_equal(r.merged, TCB_OUT_OF_DATE);
	assert_int_equal(r.platform_adv->n, 1);
	assert_true(r.has_module);
	assert_int_equal(r.module, TCB_UP_TO_DATE);
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_INTEL, &r), ERR_OK);
	assert_int_equal(r.merged, TCB_UP_TO_DATE);

	/* Module isvsvn 3 -> module level OutOfDate: both modes end OutOfDate, module advisory reported. */
	eval_in_init(&in, 3, 3, 1, 3, TCB_UP_TO_DATE);
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_DCAP_QVL, &r), ERR_OK);
	assert_int_equal(r.module, TCB_OUT_OF_DATE);
	assert_int_equal(r.merged, TCB_OUT_OF_DATE);
	assert_string_equal(r.module_adv->ids[0], "SA-M");
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_INTEL, &r), ERR_OK);
	assert_int_equal(r.platform, TCB_UP_TO_DATE);
	assert_int_equal(r.merged, TCB_OUT_OF_DATE);

	/* Intel TD relaunch (TD 1.5): TEE_TCB_SVN2 shows the current module at the latest level. */
	in.td.tee_tcb_svn2[0] = 6;
	in.td.tee_tcb_svn2[1] = 1;
	in.td.tee_tcb_svn2[2] = 3;
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD15, ATTEST_TCB_INTEL, &r), ERR_OK);
	assert_int_equal(r.merged, TCB_TD_RELAUNCH_ADVISED);
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_INTEL, &r), ERR_OK);
	assert_int_equal(r.merged, TCB_OUT_OF_DATE);
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD15, ATTEST_TCB_DCAP_QVL, &r), ERR_OK);
	assert_int_equal(r.merged, TCB_OUT_OF_DATE);
	in.td.tee_tcb_svn2[2] = 2;          /* late microcode not there yet: no relaunch advice */
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD15, ATTEST_TCB_INTEL, &r), ERR_OK);
	assert_int_equal(r.merged, TCB_OUT_OF_DATE);
	in.td.tee_tcb_svn2[2] = 3;
	in.td.tee_tcb_svn2[1] = 2;          /* TDX_02 unknown */
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD15, ATTEST_TCB_INTEL, &r), ERR_ATTEST_TDX_MODULE);
	in.td.tee_tcb_svn2[1] = 1;
	in.qe.status = TCB_OUT_OF_DATE;     /* a stale QE blocks the advice */
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD15, ATTEST_TCB_INTEL, &r), ERR_OK);
	assert_int_equal(r.merged, TCB_OUT_OF_DATE);

	/* ConfigurationNeeded platform + module OutOfDate: Intel converges, dcap-qvl takes the worst. */
	arena_reset(&a);
	synth_tdx(&a, &ti, "ConfigurationNeeded", "UpToDate");
	eval_in_init(&in, 3, 3, 1, 3, TCB_UP_TO_DATE);
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_INTEL, &r), ERR_OK);
	assert_int_equal(r.merged, TCB_OUT_OF_DATE_CONFIGURATION_NEEDED);
	in.td.tee_tcb_svn[0] = 5;           /* module current; QE stale instead */
	in.qe.status = TCB_OUT_OF_DATE;
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_INTEL, &r), ERR_OK);
	assert_int_equal(r.merged, TCB_OUT_OF_DATE_CONFIGURATION_NEEDED);
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_DCAP_QVL, &r), ERR_OK);
	assert_int_equal(r.platform, TCB_CONFIGURATION_NEEDED);
	assert_int_equal(r.merged, TCB_OUT_OF_DATE);
	in.qe.status = TCB_REVOKED;
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_INTEL, &r), ERR_OK);
	assert_int_equal(r.merged, TCB_REVOKED);
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_DCAP_QVL, &r), ERR_OK);
	assert_int_equal(r.merged, TCB_REVOKED);

	/* A revoked module revokes everything. */
	arena_reset(&a);
	synth_tdx(&a, &ti, "UpToDate", "Revoked");
	eval_in_init(&in, 3, 5, 1, 3, TCB_UP_TO_DATE);
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_INTEL, &r), ERR_OK);
	assert_int_equal(r.merged, TCB_REVOKED);
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_DCAP_QVL, &r), ERR_OK);
	assert_int_equal(r.merged, TCB_REVOKED);

	/* No level reached; module version without an identity; module SVN below every module level. */
	eval_in_init(&in, 1, 5, 1, 3, TCB_UP_TO_DATE);
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_INTEL, &r), ERR_ATTEST_TCB_NOT_SUPPORTED);
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_DCAP_QVL, &r), ERR_ATTEST_TCB_NOT_SUPPORTED);
	eval_in_init(&in, 3, 5, 3, 3, TCB_UP_TO_DATE);
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_DCAP_QVL, &r), ERR_ATTEST_TDX_MODULE);
	eval_in_init(&in, 3, 1, 1, 3, TCB_UP_TO_DATE);
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_DCAP_QVL, &r), ERR_ATTEST_TCB_NOT_SUPPORTED);

	/* Module identity: MRSIGNERSEAM and SEAMATTRIBUTES. Version 0 uses tdxModule and has no module level. */
	eval_in_init(&in, 3, 9, 0, 9, TCB_UP_TO_DATE);
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_DCAP_QVL, &r), ERR_OK);
	assert_false(r.has_module);
	assert_int_equal(r.merged, TCB_UP_TO_DATE);
	in.td.mrsignerseam[47] = 1;
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_DCAP_QVL, &r), ERR_ATTEST_TDX_MODULE);
	in.td.mrsignerseam[47] = 0;
	in.td.seam_attributes[0] = 1;
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_DCAP_QVL, &r), ERR_ATTEST_TDX_MODULE);
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_INTEL, &r), ERR_ATTEST_TDX_MODULE);

	/* A TDX report against SGX TCB info (or the reverse) is a mismatch, never a match on zeros. */
	ti.id = DCAP_TCB_ID_SGX;
	in.td.seam_attributes[0] = 0;
	assert_int_equal(eval(&ti, &in, DCAP_BODY_TD10, ATTEST_TCB_DCAP_QVL, &r), ERR_ATTEST_TCB_INFO_MISMATCH);
	arena_fini(&a);
}

/* SGX: QE convergence (Intel) vs worst-of (dcap-qvl) on the real P02 TCB info. */
static void test_tcb_evaluate_sgx(void **state)
{
	size_t len;
	char *doc = collateral_field("dcap-qvl/sgx_quote_collateral.json", "tcb_info", &len);
	struct arena a;
	struct dcap_tcb_info ti;
	struct dcap_qe_level qe;
	struct dcap_pck_info pck;
	struct dcap_tcb_eval r;
	static const uint8_t cpusvn[16] = { 0x0b, 0x0b, 0x02, 0x02, 0xff, 0x01 };

	(void)state;
	arena_init(&a, 4u << 20, 0);
	assert_int_equal(dcap_tcb_info_parse(doc, len, &a, &ti, NULL), ERR_OK);
	memset(&qe, 0, sizeof(qe));
	memset(&pck, 0, sizeof(pck));
	memcpy(pck.cpusvn, cpusvn, 16);
	memcpy(pck.comp, cpusvn, 16);
	pck.pcesvn = 13;
	assert_int_equal(dcap_tcb_evaluate(&ti, &qe, &pck, NULL, DCAP_BODY_SGX, ATTEST_TCB_DCAP_QVL, &r, NULL), ERR_OK);
	assert_int_equal(r.merged, TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED);
	assert_false(r.has_module);
	qe.status = TCB_OUT_OF_DATE;
	assert_int_equal(dcap_tcb_evaluate(&ti, &qe, &pck, NULL, DCAP_BODY_SGX, ATTEST_TCB_DCAP_QVL, &r, NULL), ERR_OK);
	assert_int_equal(r.merged, TCB_OUT_OF_DATE);
	assert_int_equal(dcap_tcb_evaluate(&ti, &qe, &pck, NULL, DCAP_BODY_SGX, ATTEST_TCB_INTEL, &r, NULL), ERR_OK);
	assert_int_equal(r.merged, TCB_OUT_OF_DATE_CONFIGURATION_NEEDED);
	pck.pcesvn = 0;
	assert_int_equal(dcap_tcb_evaluate(&ti, &qe, &pck, NULL, DCAP_BODY_SGX, ATTEST_TCB_INTEL, &r, NULL),
			 ERR_ATTEST_TCB_NOT_SUPPORTED);
	arena_fini(&a);
	free(doc);
}

/* The OpenSSL-free PCK leaf reader agrees with OpenSSL on real leaves and refuses anything else. */
static void leaf_matches_openssl(const char *rel)
{
	size_t n;
	uint8_t *raw = load(rel, &n);
	struct dcap_quote q;
	struct dcap_pck_leaf lf;
	STACK_OF(X509) *chain;
	X509 *leaf, *ca;
	unsigned char *der = NULL, *name = NULL;
	int dl, nl;
	uint8_t xy[64];
	size_t xyl = 0;
	uint64_t t;
	const uint8_t *sp;
	ASN1_INTEGER *serial;

	assert_int_equal(dcap_quote_parse(raw, n, &q, NULL), ERR_OK);
	chain = pem_certs_parse((const char *)q.cert_data, q.cert_data_len);
	assert_non_null(chain);
	leaf = sk_X509_value(chain, 0);
	ca = sk_X509_value(chain, 1);
	dl = i2d_X509(leaf, &der);
	assert_true(dl > 0);
	assert_int_equal(dcap_pck_leaf_parse(der, (size_t)dl, &lf), ERR_OK);
	nl = i2d_X509_NAME(X509_get_issuer_name(leaf), &name);
	assert_int_equal(lf.issuer_len, nl);
	assert_memory_equal(lf.issuer, name, (size_t)nl);
	sp = lf.serial_tlv;
	serial = d2i_ASN1_INTEGER(NULL, &sp, (long)lf.serial_tlv_len);
	assert_non_null(serial);
	assert_int_equal(ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(leaf)), 0);
	assert_true(dcap_asn1_time_unix(X509_get0_notBefore(leaf), &t));
	assert_int_equal(lf.not_before, t);
	assert_true(dcap_asn1_time_unix(X509_get0_notAfter(leaf), &t));
	assert_int_equal(lf.not_after, t);
	assert_int_equal(ec_pubkey_xy(X509_get0_pubkey(leaf), xy, sizeof(xy), &xyl), ERR_OK);
	assert_memory_equal(lf.pubkey, xy, 64);
	/* The signature over the TBS verifies with the CA key, as X509_verify says. */
	assert_int_equal(X509_verify(leaf, X509_get0_pubkey(ca)), 1);
	assert_int_equal(ecdsa_verify_p256_sha256(X509_get0_pubkey(ca), lf.sig, lf.tbs, lf.tbs_len), ERR_OK);
	assert_non_null(lf.sgx_ext);
	assert_non_null(lf.akid);
	/* Every truncation, and a byte after the certificate, are refused. */
	for (size_t cut = 0; cut < (size_t)dl; cut++) {
		uint8_t *c = malloc(cut ? cut : 1);

		assert_non_null(c);
		memcpy(c, der, cut);
		assert_int_equal(dcap_pck_leaf_parse(c, cut, &lf), ERR_ATTEST_CERT_CHAIN);
		free(c);
	}
	{
		uint8_t *c = malloc((size_t)dl + 1);

		assert_non_null(c);
		memcpy(c, der, (size_t)dl);
		c[dl] = 0;
		assert_int_equal(dcap_pck_leaf_parse(c, (size_t)dl + 1, &lf), ERR_ATTEST_CERT_CHAIN);
		free(c);
	}
	/* A CA certificate is not a PCK leaf. */
	OPENSSL_free(der);
	der = NULL;
	dl = i2d_X509(ca, &der);
	assert_int_equal(dcap_pck_leaf_parse(der, (size_t)dl, &lf), ERR_ATTEST_CERT_CHAIN);
	ASN1_INTEGER_free(serial);
	OPENSSL_free(name);
	OPENSSL_free(der);
	sk_X509_pop_free(chain, X509_free);
	free(raw);
}

static void test_pck_leaf_reader(void **state)
{
	(void)state;
	leaf_matches_openssl("dcap-qvl/tdx_quote");       /* Platform CA */
	leaf_matches_openssl("dcap-qvl/sgx_quote");       /* Processor CA */
	leaf_matches_openssl("go-tdx-guest/quote_v5_sample.dat");
	leaf_matches_openssl("teekit/sgx-tlsn-quote9.dat");
}

/* dcap_quote_pck_locate names the same FMSPC and CA as OpenSSL's reading of the leaf, and refuses what it cannot read. */
static void locate_matches_openssl(const char *rel)
{
	size_t n;
	uint8_t *raw = load(rel, &n), *copy;
	struct dcap_quote q;
	struct dcap_pck_info fast, slow;
	STACK_OF(X509) *chain;
	char *crlf;

	assert_int_equal(dcap_quote_parse(raw, n, &q, NULL), ERR_OK);
	assert_int_equal(dcap_quote_pck_locate(&q, &fast), ERR_OK);
	chain = pem_certs_parse((const char *)q.cert_data, q.cert_data_len);
	assert_non_null(chain);
	assert_int_equal(dcap_pck_cert_info(sk_X509_value(chain, 0), &slow, NULL), ERR_OK);
	assert_memory_equal(fast.fmspc, slow.fmspc, 6);
	assert_int_equal(fast.ca_platform, slow.ca_platform);
	assert_memory_equal(fast.ppid, slow.ppid, 16);
	sk_X509_pop_free(chain, X509_free);

	/* Not the canonical PEM spelling (a CR in the first block): not read here, OpenSSL's path decides. */
	copy = malloc(n);
	assert_non_null(copy);
	memcpy(copy, raw, n);
	assert_int_equal(dcap_quote_parse(copy, n, &q, NULL), ERR_OK);
	crlf = memchr(q.cert_data, '\n', q.cert_data_len);
	assert_non_null(crlf);
	*crlf = '\r';
	assert_int_equal(dcap_quote_pck_locate(&q, &fast), ERR_ATTEST_CERT_CHAIN);
	assert_int_equal(fast.ca_platform, 0);
	/* No first block at all. */
	memcpy(copy, raw, n);
	assert_int_equal(dcap_quote_parse(copy, n, &q, NULL), ERR_OK);
	memset(UNCONST(q.cert_data), ' ', 11);
	assert_int_equal(dcap_quote_pck_locate(&q, &fast), ERR_ATTEST_CERT_CHAIN);
	/* Certification data that is not a PCK chain. */
	memcpy(copy, raw, n);
	assert_int_equal(dcap_quote_parse(copy, n, &q, NULL), ERR_OK);
	q.cert_type = DCAP_CERT_PCK_LEAF;
	assert_int_equal(dcap_quote_pck_locate(&q, &fast), ERR_ATTEST_CERT_CHAIN);
	free(copy);
	free(raw);
}

static void test_pck_locate(void **state)
{
	(void)state;
	locate_matches_openssl("dcap-qvl/tdx_quote");       /* Platform CA */
	locate_matches_openssl("dcap-qvl/sgx_quote");       /* Processor CA */
	locate_matches_openssl("go-tdx-guest/quote_v5_sample.dat");
	locate_matches_openssl("teekit/sgx-tlsn-quote9.dat");
}

/*
 * dcap_vcoll_new_pre with the chains and CRLs already parsed is dcap_vcoll_new:
 * same id, windows and verdict; parts that do not match the bytes (another
 * CRL, foreign certificates) are parsed as usual.
 */
static void vcoll_pre_matches(const char *coll_rel, const char *quote_rel, uint64_t now)
{
	size_t cn, qn;
	uint8_t *cj = load(coll_rel, &cn), *quote = load(quote_rel, &qn);
	struct arena a;
	struct dcap_collateral c;
	struct attest_trust t;
	struct dcap_vcoll *plain = NULL, *pre_vc = NULL, *wrong_vc = NULL;
	struct attest_policy pol;
	struct attest_verdict v1, v2, v3;
	STACK_OF(X509) *tcb_chain, *crl_chain;
	X509 *known[4];
	X509_CRL *root_crl, *pck_crl;
	const char *detail = NULL;

	arena_init(&a, 1u << 24, 1u << 16);
	assert_int_equal(attest_trust_load(&t, NULL, NULL, &detail), ERR_OK);
	assert_int_equal(dcap_collateral_parse_json((const char *)cj, cn, &a, &c, &detail), ERR_OK);
	tcb_chain = pem_certs_parse(c.tcb_info_issuer_chain, c.tcb_info_issuer_chain_len);
	crl_chain = pem_certs_parse(c.pck_crl_issuer_chain, c.pck_crl_issuer_chain_len);
	assert_non_null(tcb_chain);
	assert_non_null(crl_chain);
	known[0] = sk_X509_value(tcb_chain, 0);
	known[1] = sk_X509_value(tcb_chain, 1);
	known[2] = sk_X509_value(crl_chain, 0);
	known[3] = NULL;
	root_crl = x509_crl_from_bytes(c.root_ca_crl, c.root_ca_crl_len);
	pck_crl = x509_crl_from_bytes(c.pck_crl, c.pck_crl_len);
	assert_non_null(root_crl);
	assert_non_null(pck_crl);

	assert_int_equal(dcap_vcoll_new(&c, &t, &plain, &detail), ERR_OK);
	{
		const struct dcap_preparsed pre = { known, 4, root_crl, pck_crl };
		/* The CRLs swapped: neither matches its bytes, so both are parsed. */
		const struct dcap_preparsed wrong = { known + 2, 2, pck_crl, root_crl };

		assert_int_equal(dcap_vcoll_new_pre(&c, &t, &pre, &pre_vc, &detail), ERR_OK);
		assert_int_equal(dcap_vcoll_new_pre(&c, &t, &wrong, &wrong_vc, &detail), ERR_OK);
	}
	assert_memory_equal(plain->id, pre_vc->id, 32);
	assert_memory_equal(plain->id, wrong_vc->id, 32);
	/* Intel's root CA CRL decides by serial alone: its chains' leaves are looked up by hand. */
	assert_int_equal(plain->root_crl_plain, 1);
	assert_int_equal(plain->expires_at, pre_vc->expires_at);
	assert_int_equal(plain->n_win, pre_vc->n_win);
	assert_int_equal(X509_cmp(plain->pck_ca, pre_vc->pck_ca), 0);
	/* The shared certificate is the one handed in. */
	assert_ptr_equal(pre_vc->pck_ca, known[2]);

	memset(&pol, 0, sizeof(pol));
	pol.accepted_statuses = ((1u << TCB_STATUS_COUNT) - 1) & ~(1u << TCB_REVOKED);
	pol.allow_any_advisory = 1;
	assert_int_equal(dcap_verify_quote(plain, quote, qn, &pol, now, NULL, &a, &v1), ERR_OK);
	assert_int_equal(dcap_verify_quote(pre_vc, quote, qn, &pol, now, NULL, &a, &v2), ERR_OK);
	assert_int_equal(dcap_verify_quote(wrong_vc, quote, qn, &pol, now, NULL, &a, &v3), ERR_OK);
	assert_int_equal(v1.err, ERR_OK);
	assert_int_equal(v2.err, v1.err);
	assert_int_equal(v3.err, v1.err);
	assert_int_equal(v2.tcb.status, v1.tcb.status);
	assert_int_equal(v2.collateral_expires_at, v1.collateral_expires_at);

	/* More than DCAP_KNOWN_MAX: refused. */
	{
		const struct dcap_preparsed many = { known, DCAP_KNOWN_MAX + 1, NULL, NULL };
		struct dcap_vcoll *x = NULL;

		assert_int_equal(dcap_vcoll_new_pre(&c, &t, &many, &x, &detail), ERR_INVALID_ARG);
		assert_null(x);
	}
	dcap_vcoll_free(plain);
	dcap_vcoll_free(pre_vc);
	dcap_vcoll_free(wrong_vc);
	X509_CRL_free(root_crl);
	X509_CRL_free(pck_crl);
	sk_X509_pop_free(tcb_chain, X509_free);
	sk_X509_pop_free(crl_chain, X509_free);
	attest_trust_free(&t);
	arena_fini(&a);
	free(cj);
	free(quote);
}

static void test_vcoll_preparsed(void **state)
{
	(void)state;
	vcoll_pre_matches("dcap-qvl/tdx_quote_collateral.json", "dcap-qvl/tdx_quote", 1752919234);
	vcoll_pre_matches("dcap-qvl/sgx_quote_collateral.json", "dcap-qvl/sgx_quote", 1752919277);
}

static void test_names(void **state)
{
	(void)state;
	for (int i = 0; i < TCB_STATUS_COUNT; i++) {
		const char *s = tcb_status_name((enum tcb_status)i);

		assert_int_equal(tcb_status_parse(s, strlen(s)), i);
	}
	assert_int_equal(tcb_status_parse("UpToDat", 7), -1);
	assert_int_equal(tcb_status_parse("UpToDate ", 9), -1);
	assert_int_equal(tcb_status_parse(NULL, 0), -1);
	assert_string_equal(tcb_status_name(TCB_STATUS_COUNT), "Unknown");
	assert_string_equal(attest_tee_name(ATTEST_TEE_TDX), "tdx");
	assert_string_equal(attest_report_type_name(ATTEST_REPORT_TD15), "td15");
}

/* The embedded production root is byte-for-byte the published Intel SGX Root CA. */
static void test_embedded_root(void **state)
{
	size_t n, len;
	uint8_t *der = load("roots/intel_sgx_root_ca.der", &n);
	const uint8_t *emb = attest_intel_root_der(&len);
	uint8_t h[32];
	char hex[65];
	X509 *x = attest_intel_root();

	(void)state;
	assert_int_equal(len, n);
	assert_memory_equal(emb, der, n);
	sha256(emb, len, h);
	hex_encode(hex, h, 32);
	assert_string_equal(hex, "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3");
	assert_non_null(x);
	X509_free(x);
	free(der);
}

/*
 * The embedded intermediates: their digests, their names, and each issued
 * and signed by the pinned root; the collateral vectors carry these bytes.
 */
static void test_embedded_intermediates(void **state)
{
	static const char *const want[][2] = {
		{ "c0575e76d0303b61d09cde8cbdb70db34a74f38318300d7c0e6ba8cf4bf45aea", "Intel SGX TCB Signing" },
		{ "22eb770dca215b607b5ccfc21a672b1da5cc660b1ad0365020567979edcaa0e1", "Intel SGX PCK Platform CA" },
		{ "13b2dccef8fc4ec977ee5249743b0f758ebd1e28d768b2e1e12bc348adaa09fb", "Intel SGX PCK Processor CA" },
	};
	static const char *const carried[] = { "dcap-qvl/tdx_quote_collateral.json", "dcap-qvl/sgx_quote_collateral.json" };
	size_t n = 0, cn;
	const struct attest_der *d = attest_intel_intermediates(&n);
	X509 *root = attest_intel_root();
	uint8_t h[32];
	char hex[65], name[64];

	(void)state;
	assert_non_null(root);
	assert_int_equal(n, ARRAY_LEN(want));
	for (size_t i = 0; i < n; i++) {
		X509 *x = x509_from_bytes(d[i].der, d[i].len);

		sha256(d[i].der, d[i].len, h);
		hex_encode(hex, h, 32);
		assert_string_equal(hex, want[i][0]);
		assert_non_null(x);
		assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, name, sizeof(name)) > 0);
		assert_string_equal(name, want[i][1]);
		assert_int_equal(X509_check_issued(root, x), X509_V_OK);
		assert_int_equal(X509_verify(x, X509_get0_pubkey(root)), 1);
		X509_free(x);
	}
	/* Real collateral carries them: the TCB Signing certificate and each PCK CA, in PEM, in the issuer chains. */
	for (size_t k = 0; k < ARRAY_LEN(carried); k++) {
		char *json = (char *)load(carried[k], &cn);
		struct arena a;
		struct dcap_collateral c;
		const char *detail = NULL;
		STACK_OF(X509) *tcb, *crl;
		unsigned char *der = NULL;
		int len;

		arena_init(&a, 1u << 22, 0);
		assert_int_equal(dcap_collateral_parse_json(json, cn, &a, &c, &detail), ERR_OK);
		tcb = pem_certs_parse(c.tcb_info_issuer_chain, c.tcb_info_issuer_chain_len);
		crl = pem_certs_parse(c.pck_crl_issuer_chain, c.pck_crl_issuer_chain_len);
		assert_non_null(tcb);
		assert_non_null(crl);
		len = i2d_X509(sk_X509_value(tcb, 0), &der);
		assert_int_equal((size_t)len, d[0].len);
		assert_memory_equal(der, d[0].der, d[0].len);
		OPENSSL_free(der);
		der = NULL;
		len = i2d_X509(sk_X509_value(crl, 0), &der);
		assert_int_equal((size_t)len, d[1 + k].len);
		assert_memory_equal(der, d[1 + k].der, d[1 + k].len);
		OPENSSL_free(der);
		sk_X509_pop_free(tcb, X509_free);
		sk_X509_pop_free(crl, X509_free);
		arena_fini(&a);
		free(json);
	}
	X509_free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_truncation_every_offset),
		cmocka_unit_test(test_header_rules),
		cmocka_unit_test(test_v5_body_descriptor),
		cmocka_unit_test(test_inner_lengths_exact),
		cmocka_unit_test(test_v3_cert_type),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_tcb_info_parse),
		cmocka_unit_test(test_qe_identity_parse),
		cmocka_unit_test(test_pck_extension),
		cmocka_unit_test(test_pck_leaf_reader),
		cmocka_unit_test(test_pck_locate),
		cmocka_unit_test(test_vcoll_preparsed),
		cmocka_unit_test(test_collateral_json),
		cmocka_unit_test(test_pcs_responses),
		cmocka_unit_test(test_tcb_evaluate_rules),
		cmocka_unit_test(test_tcb_evaluate_sgx),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_embedded_root),
		cmocka_unit_test(test_embedded_intermediates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
