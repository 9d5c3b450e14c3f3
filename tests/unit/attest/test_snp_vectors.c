/* SPDX-License-Identifier: Apache-2.0 */
/* SEV-SNP verifier tests: shared vectors S01-S12, real-chain negatives, a synthetic AMD-style PKI, byte-flip sweep. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "enc.h"
#include "snp.h"

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

/* Reports come as raw bytes, or (virtee) as hex text with line breaks. */
static uint8_t *load_report(const char *rel, size_t *len)
{
	size_t n, k = 0, rl = strlen(rel);
	uint8_t *raw = load(rel, &n), *out;
	char *hex;

	if (rl < 4 || strcmp(rel + rl - 4, ".hex") != 0) {
		*len = n;
		return raw;
	}
	hex = malloc(n + 1);
	out = malloc(n / 2 + 1);
	assert_non_null(hex);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++)
		if (raw[i] != ' ' && raw[i] != '\n' && raw[i] != '\r' && raw[i] != '\t')
			hex[k++] = (char)raw[i];
	assert_int_equal(hex_decode(out, n / 2 + 1, len, hex, k, 0), ERR_OK);
	free(hex);
	free(raw);
	return out;
}

static void unhex(const char *h, uint8_t *out, size_t n)
{
	size_t got = 0;

	assert_int_equal(hex_decode(out, n, &got, h, strlen(h), 0), ERR_OK);
	assert_int_equal(got, n);
}

/* --- the shared vectors --------------------------------------------------------------------------- */

struct vec {
	const char *id, *report, *vcek, *chain;
	uint64_t now;
	int allow_debug, max_vmpl;
	err_t want;
};

#define T_S01 1663981200ull   /* 2022-09-24T01:00:00Z */
#define T_2025 1735689600ull  /* 2025-01-01T00:00:00Z */
#define T_2026 1767225600ull  /* 2026-01-01T00:00:00Z */

static const struct vec vectors[] = {
	{ "S01", "go-sev-guest/attestation.bin", "go-sev-guest/vcek.testcer", "go-sev-guest/ask_ark_milan.pem", T_S01,
	  1, 0, ERR_OK },
	{ "S02", "virtee-sev/report_milan.hex", "virtee-sev/vcek_milan.der", "virtee-sev/cert_chain_milan", T_2025, 0,
	  0, ERR_OK },
	{ "S03", "teekit/sev-gcp.bin", "teekit/sev-gcp-vcek.pem", "teekit/sev-gcp-cert-chain.pem", T_2026, 0, 0,
	  ERR_OK },
	{ "S04", "teekit/sev-gcp-reportdata.bin", "teekit/sev-gcp-vcek.pem", "teekit/sev-gcp-cert-chain.pem", T_2026,
	  0, 1, ERR_OK },
	/* expected.json names teekit/sev-gcp-x25519-cert-chain.pem, which was not copied (identical to this one). */
	{ "S05", "teekit/sev-gcp-x25519-bound.bin", "teekit/sev-gcp-x25519-vcek.pem",
	  "teekit/sev-gcp-cert-chain.pem", T_2026, 0, 1, ERR_OK },
	/* Wrong VCEK (another chip): the signature is the first check to fail. */
	{ "S06", "go-sev-guest/attestation.bin", "virtee-sev/vcek_milan.der", "virtee-sev/cert_chain_milan", T_2025, 1,
	  0, ERR_ATTEST_SNP_SIGNATURE },
	{ "S07", "derived/s01_snp_report_data_flip.bin", "go-sev-guest/vcek.testcer", "go-sev-guest/ask_ark_milan.pem",
	  T_S01, 1, 0, ERR_ATTEST_SNP_SIGNATURE },
	{ "S08", "derived/s02_snp_measurement_flip.bin", "go-sev-guest/vcek.testcer", "go-sev-guest/ask_ark_milan.pem",
	  T_S01, 1, 0, ERR_ATTEST_SNP_SIGNATURE },
	{ "S09", "derived/s03_snp_signature_r_flip.bin", "go-sev-guest/vcek.testcer", "go-sev-guest/ask_ark_milan.pem",
	  T_S01, 1, 0, ERR_ATTEST_SNP_SIGNATURE },
	/* Parsing comes first: the malformed policy and algorithm are reported, not the signature. */
	{ "S10", "derived/s04_snp_policy_reserved_bit17_cleared.bin", "go-sev-guest/vcek.testcer",
	  "go-sev-guest/ask_ark_milan.pem", T_S01, 1, 0, ERR_ATTEST_SNP_FORMAT },
	{ "S11", "derived/s05_snp_sig_algo_0.bin", "go-sev-guest/vcek.testcer", "go-sev-guest/ask_ark_milan.pem", T_S01,
	  1, 0, ERR_ATTEST_SNP_FORMAT },
	{ "S12", "derived/s06_snp_truncated_0x400.bin", "go-sev-guest/vcek.testcer", "go-sev-guest/ask_ark_milan.pem",
	  T_S01, 1, 0, ERR_ATTEST_SNP_FORMAT },
};

static struct attest_trust prod_trust;

static err_t run_files(const char *report, const char *vcek, const char *chain, uint64_t now,
		       const struct attest_policy *p, const struct attest_trust *t, struct attest_verdict *v)
{
	size_t rl, vl, cl;
	uint8_t *r = load_report(report, &rl), *c = load(vcek, &vl), *ch = load(chain, &cl);
	err_t err = snp_verify(r, rl, c, vl, (const char *)ch, cl, NULL, 0, t, p, now, NULL, v);

	assert_int_equal(err, v->err);
	free(r);
	free(c);
	free(ch);
	return err;
}

static void vec_policy(const struct vec *c, struct attest_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->allow_debug = c->allow_debug;
	p->snp_max_vmpl = c->max_vmpl;
}

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(vectors); i++) {
		const struct vec *c = &vectors[i];
		struct attest_policy p;
		struct attest_verdict v;
		err_t err;

		vec_policy(c, &p);
		err = run_files(c->report, c->vcek, c->chain, c->now, &p, &prod_trust, &v);
		if (err != c->want)
			fail_msg("%s: got %s (%s), want %s", c->id, err_name(err), v.detail ? v.detail : "",
				 err_name(c->want));
		assert_int_equal(v.tee, ATTEST_TEE_SEV_SNP);
		assert_int_equal(v.report_type, ATTEST_REPORT_SNP);
		if (err == ERR_OK) {
			assert_null(v.detail);
			assert_int_equal(v.dev, 0);
			assert_int_equal(v.snp.product, SNP_PRODUCT_MILAN);
			assert_int_equal(v.tcb.status, TCB_UP_TO_DATE);
		} else {
			assert_non_null(v.detail);
		}
	}
}

/* Parsed fields against expected.json (S01, S03, S04). */
static void test_vector_fields(void **state)
{
	struct attest_policy p;
	struct attest_verdict v;
	uint8_t want[64];

	(void)state;
	vec_policy(&vectors[0], &p);
	assert_int_equal(run_files(vectors[0].report, vectors[0].vcek, vectors[0].chain, T_S01, &p, &prod_trust, &v),
			 ERR_OK);
	assert_int_equal(v.snp.version, 2);
	assert_int_equal(v.snp.policy, 0xb0000);
	assert_int_equal(v.snp.vmpl, 0);
	assert_int_equal(v.snp.signature_algo, 1);
	assert_int_equal(v.snp.current_tcb, 0x4405000000000002ull);
	assert_int_equal(v.snp.reported_tcb, 0x4405000000000002ull);
	assert_int_equal(v.snp.committed_tcb, 0x4405000000000002ull);
	assert_int_equal(v.snp.launch_tcb, 0x4405000000000002ull);
	assert_int_equal(v.snp.platform_info, 1);
	assert_int_equal(v.snp.signer_info, 0);
	assert_int_equal(v.snp.signing_key, SNP_SIGNING_KEY_VCEK);
	assert_int_equal(v.snp.current_major, 1);
	assert_int_equal(v.snp.current_minor, 49);
	assert_int_equal(v.snp.current_build, 3);
	assert_int_equal(v.snp.committed_minor, 49);
	assert_int_equal(v.snp.cpuid_fam_id, 0);
	unhex("b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01", want,
	      48);
	assert_memory_equal(v.snp.measurement, want, 48);
	unhex("3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c0"
	      "5f63c9b610c5068b006b5d",
	      want, 64);
	assert_memory_equal(v.snp.chip_id, want, 64);
	unhex("8edc638e1857c555d21f6b11bda3c8b1b5a09dba4852b4c8ee7aa2f16f22cc0a", want, 32);
	assert_memory_equal(v.snp.report_id, want, 32);
	assert_int_equal(v.snp.report_data[0], 1);
	assert_int_equal(v.snp.report_data[4], 5);
	assert_int_equal(v.snp.report_data[5], 0);
	/* The VCEK expires first: 2029-09-24T00:55:28Z. */
	assert_int_equal(v.collateral_expires_at, 1884905728ull);
	assert_int_equal(v.collateral_issued_at, 0);

	vec_policy(&vectors[3], &p);
	assert_int_equal(run_files(vectors[3].report, vectors[3].vcek, vectors[3].chain, T_2026, &p, &prod_trust, &v),
			 ERR_OK);
	assert_int_equal(v.snp.version, 5);
	assert_int_equal(v.snp.vmpl, 1);
	assert_int_equal(v.snp.platform_info, 0x25);
	assert_int_equal(v.snp.reported_tcb, 0xde1b000000000004ull);
	assert_int_equal(v.snp.cpuid_fam_id, 0x19);
	assert_int_equal(v.snp.cpuid_mod_id, 1);
	assert_int_equal(v.snp.cpuid_step, 1);
	assert_int_equal(v.snp.current_major, 1);
	assert_int_equal(v.snp.current_minor, 55);
	assert_int_equal(v.snp.current_build, 35);
	unhex("32fc4f6c1971cbf91566231f8d6153eeb9d093aa94306cb48d39bcc4861a3d395f149876a37bc91332fe493f46294fd135d5b95d36"
	      "3ae96352b8c45f906079f5",
	      want, 64);
	assert_memory_equal(v.snp.report_data, want, 64);
	assert_int_equal(v.collateral_expires_at, 1985839467ull);   /* VCEK notAfter 2032-12-05T06:04:27Z */
}

/* The strict defaults: no debug, VMPL 0 only. */
static void test_default_policy(void **state)
{
	struct attest_policy p;
	struct attest_verdict v;

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_int_equal(run_files(vectors[0].report, vectors[0].vcek, vectors[0].chain, T_S01, &p, &prod_trust, &v),
			 ERR_ATTEST_DEBUG);
	assert_int_equal(run_files(vectors[2].report, vectors[2].vcek, vectors[2].chain, T_2026, &p, &prod_trust, &v),
			 ERR_OK);
	assert_int_equal(run_files(vectors[3].report, vectors[3].vcek, vectors[3].chain, T_2026, &p, &prod_trust, &v),
			 ERR_ATTEST_SNP_VMPL);
	assert_int_equal(run_files(vectors[4].report, vectors[4].vcek, vectors[4].chain, T_2026, &p, &prod_trust, &v),
			 ERR_ATTEST_SNP_VMPL);
	p.snp_max_vmpl = -1;
	assert_int_equal(run_files(vectors[4].report, vectors[4].vcek, vectors[4].chain, T_2026, &p, &prod_trust, &v),
			 ERR_OK);
	/* Either GCP VCEK verifies every GCP report (same chip, same TCB). */
	assert_int_equal(run_files(vectors[2].report, vectors[4].vcek, vectors[2].chain, T_2026, &p, &prod_trust, &v),
			 ERR_OK);
}

static void test_expectations(void **state)
{
	struct attest_policy p;
	struct attest_verdict v;
	uint8_t rd[64] = { 1, 2, 3, 4, 5 };

	(void)state;
	vec_policy(&vectors[0], &p);
	p.expected_report_data = rd;
	p.expected[0].which = ATTEST_M_SNP_MEASUREMENT;
	p.expected[0].len = 48;
	unhex("b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01",
	      p.expected[0].value, 48);
	p.expected[1].which = ATTEST_M_SNP_HOST_DATA;
	p.expected[1].len = 32;
	p.n_expected = 2;
	assert_int_equal(run_files(vectors[0].report, vectors[0].vcek, vectors[0].chain, T_S01, &p, &prod_trust, &v),
			 ERR_OK);

	rd[5] = 1;
	assert_int_equal(run_files(vectors[0].report, vectors[0].vcek, vectors[0].chain, T_S01, &p, &prod_trust, &v),
			 ERR_ATTEST_REPORT_DATA);
	rd[5] = 0;
	p.expected[0].value[47] ^= 1;
	assert_int_equal(run_files(vectors[0].report, vectors[0].vcek, vectors[0].chain, T_S01, &p, &prod_trust, &v),
			 ERR_ATTEST_MEASUREMENT);
	p.expected[0].value[47] ^= 1;
	p.expected[1].value[0] = 1;
	assert_int_equal(run_files(vectors[0].report, vectors[0].vcek, vectors[0].chain, T_S01, &p, &prod_trust, &v),
			 ERR_ATTEST_MEASUREMENT);
	p.expected[1].value[0] = 0;
	p.expected[1].len = 31;   /* wrong length never matches */
	assert_int_equal(run_files(vectors[0].report, vectors[0].vcek, vectors[0].chain, T_S01, &p, &prod_trust, &v),
			 ERR_ATTEST_MEASUREMENT);
	p.expected[1].len = 32;
	p.expected[1].which = ATTEST_M_MRTD;   /* a TDX expectation cannot be met by an SNP report */
	assert_int_equal(run_files(vectors[0].report, vectors[0].vcek, vectors[0].chain, T_S01, &p, &prod_trust, &v),
			 ERR_ATTEST_MEASUREMENT);
}

/* Chains and times that must fail with the real AMD certificates. */
static void test_real_chain_negatives(void **state)
{
	const struct vec *s01 = &vectors[0];
	struct attest_policy p;
	struct attest_verdict v;
	struct attest_trust t = prod_trust;
	size_t rl, vl, cl;
	uint8_t *r, *c, *ch;

	(void)state;
	vec_policy(s01, &p);
	/* Validity: one minute before the VCEK's notBefore, and after its notAfter. */
	assert_int_equal(run_files(s01->report, s01->vcek, s01->chain, 1663980868ull, &p, &prod_trust, &v),
			 ERR_ATTEST_CERT_EXPIRED);
	assert_int_equal(run_files(s01->report, s01->vcek, s01->chain, 1884905729ull, &p, &prod_trust, &v),
			 ERR_ATTEST_CERT_EXPIRED);
	/* OpenSSL counts notAfter itself as expired (RFC 5280 would still accept that second). */
	assert_int_equal(run_files(s01->report, s01->vcek, s01->chain, 1884905728ull, &p, &prod_trust, &v),
			 ERR_ATTEST_CERT_EXPIRED);
	assert_int_equal(run_files(s01->report, s01->vcek, s01->chain, 1884905727ull, &p, &prod_trust, &v), ERR_OK);
	/* A Milan VCEK with the Genoa chain: the presented ARK is not the pinned Milan ARK. */
	assert_int_equal(run_files(s01->report, s01->vcek, "go-sev-guest/ask_ark_genoa.pem", T_S01, &p, &prod_trust, &v),
			 ERR_ATTEST_ROOT_UNTRUSTED);
	/* The VLEK chain (ASVK) for a VCEK-signed report. */
	assert_int_equal(run_files(s01->report, s01->vcek, "go-sev-guest/ask_ark_milan_vlek.pem", T_S01, &p,
				   &prod_trust, &v),
			 ERR_ATTEST_CERT_CHAIN);
	/* ASK only: the pinned ARK is used. The Genoa ASK alone does not lead there. */
	assert_int_equal(run_files(s01->report, s01->vcek, "roots/amd_milan_ask.pem", T_S01, &p, &prod_trust, &v),
			 ERR_OK);
	assert_int_equal(run_files(s01->report, s01->vcek, "roots/amd_genoa_ask.pem", T_S01, &p, &prod_trust, &v),
			 ERR_ATTEST_CERT_CHAIN);
	/* ARK only (no ASK) and three certificates are not a KDS chain. */
	assert_int_equal(run_files(s01->report, s01->vcek, "roots/amd_milan_ark.pem", T_S01, &p, &prod_trust, &v),
			 ERR_ATTEST_CERT_CHAIN);
	/* No pinned Milan ARK configured. */
	t.amd_ark[0] = NULL;
	assert_int_equal(run_files(s01->report, s01->vcek, s01->chain, T_S01, &p, &t, &v), ERR_ATTEST_ROOT_UNTRUSTED);
	/* With no pinned Milan ARK, the same certificate configured as the dev root is accepted as dev. */
	t.amd_dev_ark = prod_trust.amd_ark[0];
	assert_int_equal(run_files(s01->report, s01->vcek, s01->chain, T_S01, &p, &t, &v), ERR_OK);
	assert_int_equal(v.dev, 1);
	t = prod_trust;
	/* A v2 report with a hint that contradicts the VCEK's productName. */
	p.snp_product = SNP_PRODUCT_GENOA;
	assert_int_equal(run_files(s01->report, s01->vcek, s01->chain, T_S01, &p, &prod_trust, &v), ERR_ATTEST_PRODUCT);
	p.snp_product = SNP_PRODUCT_MILAN;
	assert_int_equal(run_files(s01->report, s01->vcek, s01->chain, T_S01, &p, &prod_trust, &v), ERR_OK);
	/* A v5 Milan report (CPUID) with a Genoa hint. */
	p.snp_product = SNP_PRODUCT_GENOA;
	assert_int_equal(run_files(vectors[2].report, vectors[2].vcek, vectors[2].chain, T_2026, &p, &prod_trust, &v),
			 ERR_ATTEST_PRODUCT);
	p.snp_product = 7;
	assert_int_equal(run_files(s01->report, s01->vcek, s01->chain, T_S01, &p, &prod_trust, &v), ERR_INVALID_ARG);
	p.snp_product = 0;

	/* virtee milan_chain_invalid: vcek[40] ^= 0xff (inside the serial/signature algorithm header). */
	r = load_report(s01->report, &rl);
	c = load(s01->vcek, &vl);
	ch = load(s01->chain, &cl);
	c[40] ^= 0xff;
	assert_true(snp_verify(r, rl, c, vl, (const char *)ch, cl, NULL, 0, &prod_trust, &p, T_S01, NULL, &v) != ERR_OK);
	assert_true(v.err == ERR_ATTEST_CERT_DATA || v.err == ERR_ATTEST_CERT_CHAIN);
	c[40] ^= 0xff;
	/* Garbage for the VCEK and the chain. */
	assert_int_equal(snp_verify(r, rl, c, 10, (const char *)ch, cl, NULL, 0, &prod_trust, &p, T_S01, NULL, &v),
			 ERR_ATTEST_CERT_DATA);
	assert_int_equal(snp_verify(r, rl, c, vl, (const char *)ch, 100, NULL, 0, &prod_trust, &p, T_S01, NULL, &v),
			 ERR_ATTEST_CERT_DATA);
	assert_int_equal(snp_verify(r, rl, NULL, 0, (const char *)ch, cl, NULL, 0, &prod_trust, &p, T_S01, NULL, &v),
			 ERR_ATTEST_COLLATERAL_MISSING);
	/* A CRL that is not a CRL. */
	assert_int_equal(snp_verify(r, rl, c, vl, (const char *)ch, cl, (const uint8_t *)"junk", 4, &prod_trust, &p,
				    T_S01, NULL, &v),
			 ERR_ATTEST_CRL_INVALID);
	/* One trailing byte after the report. */
	{
		uint8_t *big = malloc(rl + 1);

		assert_non_null(big);
		memcpy(big, r, rl);
		big[rl] = 0;
		assert_int_equal(snp_verify(big, rl + 1, c, vl, (const char *)ch, cl, NULL, 0, &prod_trust, &p, T_S01,
					    NULL, &v),
				 ERR_ATTEST_SNP_FORMAT);
		free(big);
	}
	free(r);
	free(c);
	free(ch);
}

/* The real Turin VCEK: 8-byte hwID, fmcSPL, Turin TCB layout, chain to ARK-Turin. */
static void test_turin_vcek(void **state)
{
	struct snp_endorsement e;
	const char *detail = NULL;
	size_t vl, cl, ml;
	uint8_t *c = load("virtee-sev/vcek_turin.der", &vl), *ch = load("virtee-sev/cert_chain_turin", &cl);
	uint8_t *milan = load("go-sev-guest/ask_ark_milan.pem", &ml);
	uint8_t hw[8];

	(void)state;
	assert_int_equal(snp_endorsement_verify(c, vl, (const char *)ch, cl, NULL, 0, SNP_PRODUCT_UNKNOWN, 0, &prod_trust,
						T_2026, &e, &detail),
			 ERR_OK);
	assert_int_equal(e.product, SNP_PRODUCT_TURIN);
	assert_int_equal(e.tcb, 0x0900000000000000ull);   /* ucodeSPL 9, everything else 0 */
	assert_int_equal(e.hwid_len, 8);
	unhex("1e550a8ee5cf9f4d", hw, 8);
	assert_memory_equal(e.hwid, hw, 8);
	assert_string_equal(e.ext.product_name, "Turin");
	assert_int_equal(e.ext.struct_version, 1);
	assert_int_equal(e.dev, 0);
	snp_endorsement_free(&e);
	/* The KDS chain as go-sev-guest ships it is the same. */
	free(ch);
	ch = load("go-sev-guest/ask_ark_turin_vcek.pem", &cl);
	assert_int_equal(snp_endorsement_verify(c, vl, (const char *)ch, cl, NULL, 0, SNP_PRODUCT_TURIN, 0, &prod_trust,
						T_2026, &e, &detail),
			 ERR_OK);
	snp_endorsement_free(&e);
	/* A Milan report (CPUID) cannot be endorsed by a Turin VCEK. */
	assert_int_equal(snp_endorsement_verify(c, vl, (const char *)ch, cl, NULL, 0, SNP_PRODUCT_MILAN, 0, &prod_trust,
						T_2026, &e, &detail),
			 ERR_ATTEST_PRODUCT);
	/* The Turin VCEK with the Milan chain. */
	assert_int_equal(snp_endorsement_verify(c, vl, (const char *)milan, ml, NULL, 0, SNP_PRODUCT_UNKNOWN, 0,
						&prod_trust, T_2026, &e, &detail),
			 ERR_ATTEST_ROOT_UNTRUSTED);
	/* Before its notBefore (2024-11-06). */
	assert_int_equal(snp_endorsement_verify(c, vl, (const char *)ch, cl, NULL, 0, SNP_PRODUCT_UNKNOWN, 0, &prod_trust,
						T_S01, &e, &detail),
			 ERR_ATTEST_CERT_EXPIRED);
	/* Asked as a VLEK: names and extensions say VCEK. */
	free(ch);
	ch = load("go-sev-guest/ask_ark_turin_vlek.pem", &cl);
	assert_int_equal(snp_endorsement_verify(c, vl, (const char *)ch, cl, NULL, 0, SNP_PRODUCT_UNKNOWN, 1, &prod_trust,
						T_2026, &e, &detail),
			 ERR_ATTEST_CERT_CHAIN);
	free(c);
	free(ch);
	free(milan);
}

/* The embedded ARKs are the published ones. */
static void test_roots(void **state)
{
	static const struct {
		enum attest_snp_product p;
		const char *file, *sha256;
	} roots[] = {
		{ SNP_PRODUCT_MILAN, "roots/amd_milan_ark.pem",
		  "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd" },
		{ SNP_PRODUCT_GENOA, "roots/amd_genoa_ark.pem",
		  "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1" },
		{ SNP_PRODUCT_TURIN, "roots/amd_turin_ark.pem",
		  "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a" },
	};
	size_t len = 1;

	(void)state;
	assert_null(attest_amd_ark_der(SNP_PRODUCT_UNKNOWN, &len));
	assert_int_equal(len, 0);
	assert_null(attest_amd_ark(SNP_PRODUCT_UNKNOWN));
	for (size_t i = 0; i < ARRAY_LEN(roots); i++) {
		const uint8_t *der = attest_amd_ark_der(roots[i].p, &len);
		uint8_t h[32], want[32];
		size_t fl;
		uint8_t *pem = load(roots[i].file, &fl);
		X509 *file_x = x509_from_bytes(pem, fl), *emb = attest_amd_ark(roots[i].p);
		char cn[16];

		assert_non_null(der);
		sha256(der, len, h);
		unhex(roots[i].sha256, want, 32);
		assert_memory_equal(h, want, 32);
		assert_non_null(file_x);
		assert_non_null(emb);
		assert_int_equal(X509_cmp(file_x, emb), 0);
		assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(emb), NID_commonName, cn, sizeof(cn)) > 0);
		assert_int_equal(strncmp(cn, "ARK-", 4), 0);
		assert_string_equal(cn + 4, snp_product_name(roots[i].p));
		X509_free(file_x);
		X509_free(emb);
		free(pem);
	}
}

static void test_tcb_layouts(void **state)
{
	struct snp_tcb_parts t;

	(void)state;
	snp_tcb_decompose(0xde1b000000000004ull, SNP_PRODUCT_MILAN, &t);
	assert_int_equal(t.bl, 4);
	assert_int_equal(t.tee, 0);
	assert_int_equal(t.snp, 27);
	assert_int_equal(t.ucode, 222);
	assert_int_equal(snp_tcb_compose(&t, SNP_PRODUCT_MILAN), 0xde1b000000000004ull);
	snp_tcb_decompose(0x0807060504030201ull, SNP_PRODUCT_GENOA, &t);
	assert_int_equal(t.bl, 1);
	assert_int_equal(t.tee, 2);
	assert_int_equal(t.spl4, 3);
	assert_int_equal(t.spl7, 6);
	assert_int_equal(t.snp, 7);
	assert_int_equal(t.ucode, 8);
	assert_int_equal(t.fmc, 0);
	assert_int_equal(snp_tcb_compose(&t, SNP_PRODUCT_GENOA), 0x0807060504030201ull);
	snp_tcb_decompose(0x0807060504030201ull, SNP_PRODUCT_TURIN, &t);
	assert_int_equal(t.fmc, 1);
	assert_int_equal(t.bl, 2);
	assert_int_equal(t.tee, 3);
	assert_int_equal(t.snp, 4);
	assert_int_equal(t.spl4, 0);
	assert_int_equal(t.spl5, 5);
	assert_int_equal(t.spl7, 7);
	assert_int_equal(t.ucode, 8);
	assert_int_equal(snp_tcb_compose(&t, SNP_PRODUCT_TURIN), 0x0807060504030201ull);

	assert_int_equal(snp_product_from_cpuid(0x19, 0x01), SNP_PRODUCT_MILAN);
	assert_int_equal(snp_product_from_cpuid(0x19, 0x11), SNP_PRODUCT_GENOA);
	assert_int_equal(snp_product_from_cpuid(0x19, 0xa0), SNP_PRODUCT_GENOA);
	assert_int_equal(snp_product_from_cpuid(0x19, 0x21), SNP_PRODUCT_UNKNOWN);
	assert_int_equal(snp_product_from_cpuid(0x1a, 0x02), SNP_PRODUCT_TURIN);
	assert_int_equal(snp_product_from_cpuid(0x1a, 0x12), SNP_PRODUCT_UNKNOWN);
	assert_int_equal(snp_product_from_cpuid(0x17, 0x01), SNP_PRODUCT_UNKNOWN);
	assert_int_equal(snp_product_from_name("Milan-B0", 8), SNP_PRODUCT_MILAN);
	assert_int_equal(snp_product_from_name("Genoa", 5), SNP_PRODUCT_GENOA);
	assert_int_equal(snp_product_from_name("Turin", 5), SNP_PRODUCT_TURIN);
	assert_int_equal(snp_product_from_name("Mila", 4), SNP_PRODUCT_UNKNOWN);
	assert_int_equal(snp_product_from_name("MilanX", 6), SNP_PRODUCT_UNKNOWN);
	assert_int_equal(snp_product_from_name("", 0), SNP_PRODUCT_UNKNOWN);
}

/* The KDS extension parser on hand-made values. */
static void test_ext_parser(void **state)
{
	static const uint8_t arc[] = { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x9c, 0x78, 0x01 };
	uint8_t oid[16];
	struct snp_cert_ext e;
	uint8_t hw[64];
	size_t hl;
	uint64_t tcb;
#define OID(...)                                                                \
	(memcpy(oid, arc, sizeof(arc)), memcpy(oid + sizeof(arc), (const uint8_t[]){ __VA_ARGS__ }, \
					       sizeof((const uint8_t[]){ __VA_ARGS__ })), \
	 oid),                                                                  \
		sizeof(arc) + sizeof((const uint8_t[]){ __VA_ARGS__ })
#define VAL(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

	(void)state;
	memset(&e, 0, sizeof(e));
	assert_int_equal(snp_cert_ext_add(&e, OID(3, 8), VAL(0x02, 0x02, 0x00, 0xde)), ERR_OK);
	assert_int_equal(e.tcb.ucode, 222);
	assert_int_equal(snp_cert_ext_add(&e, OID(3, 8), VAL(0x02, 0x01, 0x01)), ERR_ATTEST_CERT_DATA); /* duplicate */
	assert_int_equal(snp_cert_ext_add(&e, OID(3, 1), VAL(0x02, 0x01, 0x80)), ERR_ATTEST_CERT_DATA); /* negative */
	memset(&e, 0, sizeof(e));
	assert_int_equal(snp_cert_ext_add(&e, OID(3, 1), VAL(0x02, 0x02, 0x00, 0x05)), ERR_ATTEST_CERT_DATA);
	memset(&e, 0, sizeof(e));
	assert_int_equal(snp_cert_ext_add(&e, OID(3, 1), VAL(0x02, 0x02, 0x01, 0x00)), ERR_ATTEST_CERT_DATA); /* 256 */
	memset(&e, 0, sizeof(e));
	assert_int_equal(snp_cert_ext_add(&e, OID(3, 1), VAL(0x02, 0x01, 0x05, 0x00)), ERR_ATTEST_CERT_DATA); /* trailing */
	memset(&e, 0, sizeof(e));
	assert_int_equal(snp_cert_ext_add(&e, OID(3, 1), VAL(0x04, 0x01, 0x05)), ERR_ATTEST_CERT_DATA); /* not INTEGER */
	memset(&e, 0, sizeof(e));
	assert_int_equal(snp_cert_ext_add(&e, OID(3, 1), VAL(0x02, 0x00)), ERR_ATTEST_CERT_DATA);
	memset(&e, 0, sizeof(e));
	assert_int_equal(snp_cert_ext_add(&e, OID(3, 1), VAL(0x02, 0x81, 0x01, 0x05)), ERR_ATTEST_CERT_DATA);
	memset(&e, 0, sizeof(e));
	assert_int_equal(snp_cert_ext_add(&e, OID(2), VAL(0x0c, 0x05, 'M', 'i', 'l', 'a', 'n')), ERR_ATTEST_CERT_DATA);
	memset(&e, 0, sizeof(e));
	assert_int_equal(snp_cert_ext_add(&e, OID(2), VAL(0x16, 0x05, 'M', 'i', 'l', 0x00, 'n')), ERR_ATTEST_CERT_DATA);
	memset(&e, 0, sizeof(e));
	assert_int_equal(snp_cert_ext_add(&e, OID(2), VAL(0x16, 0x06, 'M', 'i', 'l', 'a', 'n')), ERR_ATTEST_CERT_DATA);
	/* Unknown arcs and foreign OIDs are ignored. */
	memset(&e, 0, sizeof(e));
	assert_int_equal(snp_cert_ext_add(&e, OID(3, 10), VAL(0xff)), ERR_OK);
	assert_int_equal(snp_cert_ext_add(&e, OID(9), VAL(0xff)), ERR_OK);
	assert_int_equal(snp_cert_ext_add(&e, OID(3, 1, 1), VAL(0xff)), ERR_OK);
	assert_int_equal(snp_cert_ext_add(&e, (const uint8_t[]){ 0x55, 0x1d, 0x13 }, 3, VAL(0xff)), ERR_OK);
	assert_int_equal(e.seen, 0);

	/* A full Milan VCEK set, hwID DER-wrapped. */
	assert_int_equal(snp_cert_ext_add(&e, OID(2), VAL(0x16, 0x08, 'M', 'i', 'l', 'a', 'n', '-', 'B', '0')), ERR_OK);
	assert_int_equal(snp_cert_ext_add(&e, OID(3, 1), VAL(0x02, 0x01, 0x02)), ERR_OK);
	assert_int_equal(snp_cert_ext_add(&e, OID(3, 2), VAL(0x02, 0x01, 0x00)), ERR_OK);
	assert_int_equal(snp_cert_ext_add(&e, OID(3, 3), VAL(0x02, 0x01, 0x05)), ERR_OK);
	assert_int_equal(snp_cert_ext_finish(&e, SNP_PRODUCT_MILAN, 0, &tcb, hw, &hl), ERR_ATTEST_CERT_DATA); /* no ucode */
	assert_int_equal(snp_cert_ext_add(&e, OID(3, 8), VAL(0x02, 0x01, 0x44)), ERR_OK);
	assert_int_equal(snp_cert_ext_finish(&e, SNP_PRODUCT_MILAN, 0, &tcb, hw, &hl), ERR_ATTEST_CERT_DATA); /* no hwID */
	{
		uint8_t wrapped[66] = { 0x04, 0x40 };

		memset(wrapped + 2, 0xab, 64);
		assert_int_equal(snp_cert_ext_add(&e, OID(4), wrapped, sizeof(wrapped)), ERR_OK);
	}
	assert_int_equal(snp_cert_ext_finish(&e, SNP_PRODUCT_MILAN, 0, &tcb, hw, &hl), ERR_OK);
	assert_int_equal(tcb, 0x4405000000000002ull);
	assert_int_equal(hl, 64);
	assert_int_equal(hw[63], 0xab);
	/* As a VLEK: hwID present, cspId missing. */
	assert_int_equal(snp_cert_ext_finish(&e, SNP_PRODUCT_MILAN, 1, &tcb, hw, &hl), ERR_ATTEST_CERT_DATA);
	/* As Turin: no fmcSPL, and a 64-byte hwID is not a Turin hwID. */
	assert_int_equal(snp_cert_ext_finish(&e, SNP_PRODUCT_TURIN, 0, &tcb, hw, &hl), ERR_ATTEST_CERT_DATA);
	assert_int_equal(snp_cert_ext_add(&e, OID(3, 9), VAL(0x02, 0x01, 0x00)), ERR_OK);
	assert_int_equal(snp_cert_ext_finish(&e, SNP_PRODUCT_TURIN, 0, &tcb, hw, &hl), ERR_ATTEST_CERT_DATA);
	assert_int_equal(snp_cert_ext_finish(&e, SNP_PRODUCT_UNKNOWN, 0, &tcb, hw, &hl), ERR_ATTEST_PRODUCT);
	/* fmcSPL non-zero has no byte in the Milan layout. */
	e.tcb.fmc = 1;
	assert_int_equal(snp_cert_ext_finish(&e, SNP_PRODUCT_MILAN, 0, &tcb, hw, &hl), ERR_ATTEST_CERT_DATA);
#undef OID
#undef VAL
}

/* --- a synthetic AMD-style PKI (the development ARK) --------------------------------------------- */

struct pki {
	EVP_PKEY *ark_key, *ask_key, *rogue_key;   /* RSA */
	EVP_PKEY *leaf_key, *leaf_key2;             /* P-384 */
};
static struct pki pki;

#define SYN_NB 1700000000L   /* 2023-11-14 */
#define SYN_NA 2000000000L   /* 2033-05-18 */
#define SYN_NOW 1750000000ull

static X509_NAME *amd_x509_name(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	assert_non_null(n);
	assert_true(X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC, (const unsigned char *)"Engineering", -1, -1, 0));
	assert_true(X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"US", -1, -1, 0));
	assert_true(X509_NAME_add_entry_by_txt(n, "L", MBSTRING_ASC, (const unsigned char *)"Santa Clara", -1, -1, 0));
	assert_true(X509_NAME_add_entry_by_txt(n, "ST", MBSTRING_ASC, (const unsigned char *)"CA", -1, -1, 0));
	assert_true(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Advanced Micro Devices",
					       -1, -1, 0));
	assert_true(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0));
	return n;
}

static void pss_sign_cert(X509 *x, EVP_PKEY *k, int pss)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;

	assert_non_null(m);
	assert_int_equal(EVP_DigestSignInit(m, &pc, EVP_sha384(), NULL, k), 1);
	if (pss) {
		assert_true(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0);
		assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 48) > 0);
	}
	assert_true(X509_sign_ctx(x, m) > 0);
	EVP_MD_CTX_free(m);
}

static void add_conf_ext(X509 *x, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, nid, value);

	assert_non_null(ext);
	assert_true(X509_add_ext(x, ext, -1));
	X509_EXTENSION_free(ext);
}

static void add_raw_ext(X509 *x, const char *oid, const uint8_t *der, size_t len)
{
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext;

	assert_non_null(o);
	assert_non_null(s);
	assert_true(ASN1_OCTET_STRING_set(s, der, (int)len));
	ext = X509_EXTENSION_create_by_OBJ(NULL, o, 0, s);
	assert_non_null(ext);
	assert_true(X509_add_ext(x, ext, -1));
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(s);
	ASN1_OBJECT_free(o);
}

static X509 *mk_cert(const char *cn, const char *issuer_cn, EVP_PKEY *pub, EVP_PKEY *signer, long serial, int ca,
		     long nb, long na)
{
	X509 *x = X509_new();
	X509_NAME *s = amd_x509_name(cn), *i = amd_x509_name(issuer_cn);

	assert_non_null(x);
	assert_true(X509_set_version(x, 2));
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), serial));
	assert_true(X509_set_subject_name(x, s));
	assert_true(X509_set_issuer_name(x, i));
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), nb));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), na));
	assert_true(X509_set_pubkey(x, pub));
	if (ca) {
		add_conf_ext(x, NID_basic_constraints, "critical,CA:TRUE");
		add_conf_ext(x, NID_key_usage, "critical,keyCertSign,cRLSign");
	}
	X509_NAME_free(s);
	X509_NAME_free(i);
	return x;
}

struct leaf_spec {
	const char *product_name;   /* NULL: omitted */
	int vlek;
	uint8_t bl, tee, snp, ucode, fmc, spl4;
	int with_fmc, dup_snp, pkcs1;
	const uint8_t *hwid;        /* NULL: omitted */
	size_t hwid_len;
	long nb, na;
	EVP_PKEY *key;              /* NULL: pki.leaf_key */
};

static void add_spl(X509 *x, int minor, uint8_t v)
{
	char oid[48];
	uint8_t der[4] = { 0x02, 0x01, v };
	size_t len = 3;

	if (v >= 0x80) {
		der[1] = 2;
		der[2] = 0;
		der[3] = v;
		len = 4;
	}
	(void)snprintf(oid, sizeof(oid), "1.3.6.1.4.1.3704.1.3.%d", minor);
	add_raw_ext(x, oid, der, len);
}

static X509 *mk_leaf(const struct leaf_spec *s, const char *issuer_cn, EVP_PKEY *signer)
{
	X509 *x = mk_cert(s->vlek ? "SEV-VLEK" : "SEV-VCEK", issuer_cn, s->key ? s->key : pki.leaf_key, signer, 0, 0,
			  s->nb ? s->nb : SYN_NB, s->na ? s->na : SYN_NA);
	uint8_t der[64];

	add_raw_ext(x, "1.3.6.1.4.1.3704.1.1", (const uint8_t[]){ 0x02, 0x01, 0x01 }, 3);
	if (s->product_name) {
		size_t n = strlen(s->product_name);

		der[0] = 0x16;
		der[1] = (uint8_t)n;
		memcpy(der + 2, s->product_name, n);
		add_raw_ext(x, "1.3.6.1.4.1.3704.1.2", der, n + 2);
	}
	if (s->with_fmc)
		add_spl(x, 9, s->fmc);
	add_spl(x, 1, s->bl);
	add_spl(x, 2, s->tee);
	add_spl(x, 3, s->snp);
	if (s->dup_snp)
		add_spl(x, 3, s->snp);
	add_spl(x, 4, s->spl4);
	for (int m = 5; m <= 7; m++)
		add_spl(x, m, 0);
	add_spl(x, 8, s->ucode);
	if (s->hwid)
		add_raw_ext(x, "1.3.6.1.4.1.3704.1.4", s->hwid, s->hwid_len);
	if (s->vlek) {
		static const char csp[] = "\x16\x0b" "cloud-a.net";

		add_raw_ext(x, "1.3.6.1.4.1.3704.1.5", (const uint8_t *)csp, sizeof(csp) - 1);
	}
	pss_sign_cert(x, signer, !s->pkcs1);
	return x;
}

static uint8_t *der_of(X509 *x, size_t *len)
{
	uint8_t *p = NULL, *copy;
	int n = i2d_X509(x, &p);

	assert_true(n > 0);
	copy = malloc((size_t)n);
	assert_non_null(copy);
	memcpy(copy, p, (size_t)n);
	OPENSSL_free(p);
	*len = (size_t)n;
	return copy;
}

static char *pem_of(X509 *a, X509 *b, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *copy;
	long n;

	assert_non_null(bio);
	assert_true(PEM_write_bio_X509(bio, a));
	if (b)
		assert_true(PEM_write_bio_X509(bio, b));
	n = BIO_get_mem_data(bio, &data);
	assert_true(n > 0);
	copy = malloc((size_t)n);
	assert_non_null(copy);
	memcpy(copy, data, (size_t)n);
	BIO_free(bio);
	*len = (size_t)n;
	return copy;
}

/* A product's dev ARK (self-signed) and ASK/ASVK. */
struct roots {
	X509 *ark, *ask;
	char ask_cn[32];
};

static void mk_roots(struct roots *r, enum attest_snp_product p, int vlek)
{
	char ark_cn[32], ask_cn[32];

	(void)snprintf(ark_cn, sizeof(ark_cn), "ARK-%s", snp_product_name(p));
	(void)snprintf(ask_cn, sizeof(ask_cn), vlek ? "SEV-VLEK-%s" : "SEV-%s", snp_product_name(p));
	memcpy(r->ask_cn, ask_cn, sizeof(ask_cn));
	r->ark = mk_cert(ark_cn, ark_cn, pki.ark_key, pki.ark_key, 0x10000, 1, SYN_NB - 86400, SYN_NA + 86400);
	pss_sign_cert(r->ark, pki.ark_key, 1);
	r->ask = mk_cert(ask_cn, ark_cn, pki.ask_key, pki.ark_key, 0x10001, 1, SYN_NB - 3600, SYN_NA + 3600);
	pss_sign_cert(r->ask, pki.ark_key, 1);
}

static void free_roots(struct roots *r)
{
	X509_free(r->ark);
	X509_free(r->ask);
}

struct rep_spec {
	uint32_t version, vmpl, signing_key, mask_chip_key;
	uint64_t policy, tcb;
	uint8_t fam, mod, step;
	uint8_t chip_id[64];
	EVP_PKEY *key;   /* NULL: pki.leaf_key */
};

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void mk_report(uint8_t out[SNP_REPORT_SIZE], const struct rep_spec *s)
{
	uint8_t sig[96];

	memset(out, 0, SNP_REPORT_SIZE);
	put_le(out + 0x00, s->version, 4);
	put_le(out + 0x08, s->policy ? s->policy : 0x30000, 8);
	put_le(out + 0x30, s->vmpl, 4);
	put_le(out + 0x34, 1, 4);
	put_le(out + 0x38, s->tcb, 8);
	put_le(out + 0x48, (s->signing_key << 2) | (s->mask_chip_key << 1), 4);
	memset(out + 0x50, 0x5a, 64);    /* report data */
	memset(out + 0x90, 0x6b, 48);    /* measurement */
	put_le(out + 0x180, s->tcb, 8);
	if (s->version >= 3) {
		out[0x188] = s->fam;
		out[0x189] = s->mod;
		out[0x18a] = s->step;
	}
	memcpy(out + 0x1a0, s->chip_id, 64);
	put_le(out + 0x1e0, s->tcb, 8);
	put_le(out + 0x1f0, s->tcb, 8);
	assert_int_equal(ecdsa_sign_p384_sha384(s->key ? s->key : pki.leaf_key, out, SNP_SIGNED_SIZE, sig), ERR_OK);
	for (int i = 0; i < 48; i++) {
		out[0x2a0 + i] = sig[47 - i];
		out[0x2e8 + i] = sig[95 - i];
	}
}

static uint8_t *mk_crl(X509 *issuer, EVP_PKEY *signer, X509 *revoked, long last, long next, size_t *len)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	uint8_t *p = NULL, *copy;
	int n;

	assert_non_null(crl);
	assert_non_null(t);
	assert_non_null(m);
	assert_true(X509_CRL_set_version(crl, 1));
	assert_true(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)));
	assert_non_null(ASN1_TIME_set(t, last));
	assert_true(X509_CRL_set1_lastUpdate(crl, t));
	assert_non_null(ASN1_TIME_set(t, next));
	assert_true(X509_CRL_set1_nextUpdate(crl, t));
	if (revoked) {
		X509_REVOKED *r = X509_REVOKED_new();

		assert_non_null(r);
		assert_true(X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked)));
		assert_non_null(ASN1_TIME_set(t, last));
		assert_true(X509_REVOKED_set_revocationDate(r, t));
		assert_true(X509_CRL_add0_revoked(crl, r));
	}
	assert_int_equal(EVP_DigestSignInit(m, &pc, EVP_sha384(), NULL, signer), 1);
	assert_true(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0);
	assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 48) > 0);
	assert_true(X509_CRL_sign_ctx(crl, m) > 0);
	n = i2d_X509_CRL(crl, &p);
	assert_true(n > 0);
	copy = malloc((size_t)n);
	assert_non_null(copy);
	memcpy(copy, p, (size_t)n);
	OPENSSL_free(p);
	EVP_MD_CTX_free(m);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	*len = (size_t)n;
	return copy;
}

/* One synthetic case: build leaf + report, verify with the dev ARK configured (or not). */
struct syn {
	const struct roots *roots;
	int include_ark, trust_dev;
	const uint8_t *crl;
	size_t crl_len;
	const struct attest_policy *policy;
	uint64_t now;
};

static err_t syn_verify(const struct syn *s, const struct leaf_spec *ls, const struct rep_spec *rs,
			struct attest_verdict *v)
{
	struct attest_trust t = prod_trust;
	struct attest_policy p;
	uint8_t rep[SNP_REPORT_SIZE];
	X509 *leaf;
	size_t dl, cl;
	uint8_t *der;
	char *chain;
	err_t err;

	if (s->trust_dev)
		t.amd_dev_ark = s->roots->ark;
	memset(&p, 0, sizeof(p));
	leaf = mk_leaf(ls, s->roots->ask_cn, pki.ask_key);
	der = der_of(leaf, &dl);
	chain = pem_of(s->roots->ask, s->include_ark ? s->roots->ark : NULL, &cl);
	mk_report(rep, rs);
	err = snp_verify(rep, sizeof(rep), der, dl, chain, cl, s->crl, s->crl_len, &t, s->policy ? s->policy : &p,
			 s->now ? s->now : SYN_NOW, NULL, v);
	assert_int_equal(err, v->err);
	X509_free(leaf);
	free(der);
	free(chain);
	return err;
}

static void test_synth_genoa(void **state)
{
	struct roots r;
	struct syn s = { &r, 1, 1, NULL, 0, NULL, 0 };
	struct leaf_spec ls = { .product_name = "Genoa-B1", .bl = 7, .tee = 1, .snp = 0x16, .ucode = 0x54 };
	struct rep_spec rs = { .version = 3, .fam = 0x19, .mod = 0x11, .step = 1 };
	struct attest_verdict v;
	uint8_t hw[64];

	(void)state;
	mk_roots(&r, SNP_PRODUCT_GENOA, 0);
	memset(rs.chip_id, 0x42, 64);
	memset(hw, 0x42, 64);
	ls.hwid = hw;
	ls.hwid_len = 64;
	rs.tcb = 0x5416000000000107ull;

	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_OK);
	assert_int_equal(v.dev, 1);
	assert_int_equal(v.snp.product, SNP_PRODUCT_GENOA);
	assert_int_equal(v.snp.version, 3);
	assert_int_equal(v.collateral_expires_at, (uint64_t)SYN_NA);
	/* Without the dev ARK configured the same chain is untrusted. */
	s.trust_dev = 0;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_ROOT_UNTRUSTED);
	/* ... and without the ARK in the chain the pinned (real) Genoa ARK is used: not our signer. */
	s.include_ark = 0;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CERT_CHAIN);
	s.include_ark = 1;
	s.trust_dev = 1;
	/* v4 and v5 parse the same way. */
	rs.version = 5;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_OK);
	rs.version = 4;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_OK);
	/* Genoa CPUID, Milan VCEK. */
	ls.product_name = "Milan-B0";
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_PRODUCT);
	ls.product_name = NULL;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_PRODUCT);
	ls.product_name = "Genoa-B1";
	/* CPUID of no known product. */
	rs.fam = 0x17;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_PRODUCT);
	rs.fam = 0x19;
	/* v3 with zero CPUID falls back to the productName. */
	rs.mod = 0;
	rs.step = 0;
	rs.fam = 0;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_OK);
	assert_int_equal(v.snp.product, SNP_PRODUCT_GENOA);
	rs.fam = 0x19;
	rs.mod = 0x11;
	/* TCB: any SPL differing. */
	ls.snp = 0x15;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_SNP_TCB);
	ls.snp = 0x16;
	ls.spl4 = 1;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_SNP_TCB);
	ls.spl4 = 0;
	/* ucode >= 128 needs the two-byte INTEGER. */
	ls.ucode = 0xde;
	rs.tcb = 0xde16000000000107ull;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_OK);
	/* Chip id: one byte off, zero without MASK_CHIP_KEY, zero with it. */
	rs.chip_id[63] ^= 1;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_SNP_CHIP_ID);
	rs.chip_id[63] ^= 1;
	memset(rs.chip_id, 0, 64);
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_SNP_CHIP_ID);
	rs.mask_chip_key = 1;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_OK);
	assert_int_equal(v.snp.mask_chip_key, 1);
	/* MASK_CHIP_KEY with a chip id present: it must still match. */
	memset(rs.chip_id, 0x43, 64);
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_SNP_CHIP_ID);
	memcpy(rs.chip_id, hw, 64);
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_OK);
	rs.mask_chip_key = 0;
	/* Duplicate SPL extension; missing hwID; hwID of Turin size. */
	ls.dup_snp = 1;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CERT_DATA);
	ls.dup_snp = 0;
	ls.hwid = NULL;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CERT_DATA);
	ls.hwid = hw;
	ls.hwid_len = 8;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CERT_DATA);
	ls.hwid_len = 64;
	/* PKCS#1 v1.5 instead of PSS; a VCEK signed by another key; a report signed by another key. */
	ls.pkcs1 = 1;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CERT_CHAIN);
	ls.pkcs1 = 0;
	ls.key = pki.leaf_key2;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_SNP_SIGNATURE);
	rs.key = pki.leaf_key2;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_OK);
	ls.key = NULL;
	rs.key = NULL;
	/* Leaf validity window: expired and not yet valid. */
	ls.na = (long)SYN_NOW - 1;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CERT_EXPIRED);
	ls.na = 0;
	ls.nb = (long)SYN_NOW + 1;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CERT_EXPIRED);
	ls.nb = 0;
	/* A VLEK-signed report with a VCEK and its chain. */
	rs.signing_key = SNP_SIGNING_KEY_VLEK;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CERT_CHAIN);
	rs.signing_key = 3;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_SNP_FORMAT);
	rs.signing_key = 0;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_OK);
	free_roots(&r);
}

static void test_synth_turin(void **state)
{
	struct roots r;
	struct syn s = { &r, 1, 1, NULL, 0, NULL, 0 };
	static const uint8_t hw8[8] = { 0x1e, 0x55, 0x0a, 0x8e, 0xe5, 0xcf, 0x9f, 0x4d };
	struct leaf_spec ls = { .product_name = "Turin", .fmc = 1, .bl = 2, .tee = 3, .snp = 4, .ucode = 5,
				.with_fmc = 1, .hwid = hw8, .hwid_len = 8 };
	struct rep_spec rs = { .version = 5, .fam = 0x1a, .mod = 0x02, .step = 0 };
	struct attest_verdict v;

	(void)state;
	mk_roots(&r, SNP_PRODUCT_TURIN, 0);
	memcpy(rs.chip_id, hw8, 8);
	rs.tcb = 0x0500000004030201ull;   /* [0] FMC [1] BL [2] TEE [3] SNP [7] UCODE */
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_OK);
	assert_int_equal(v.snp.product, SNP_PRODUCT_TURIN);
	assert_int_equal(v.dev, 1);
	/* The Milan reading of the same bytes is not what the certificate says. */
	rs.tcb = 0x0504000000000302ull;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_SNP_TCB);
	rs.tcb = 0x0500000004030201ull;
	ls.fmc = 2;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_SNP_TCB);
	ls.fmc = 1;
	/* fmcSPL is required on Turin; spl4 has no byte there. */
	ls.with_fmc = 0;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CERT_DATA);
	ls.with_fmc = 1;
	ls.spl4 = 1;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CERT_DATA);
	ls.spl4 = 0;
	/* Only the first 8 bytes of CHIP_ID are the HWID; the rest must be zero. */
	rs.chip_id[8] = 1;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_SNP_CHIP_ID);
	rs.chip_id[8] = 0;
	rs.chip_id[7] ^= 1;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_SNP_CHIP_ID);
	rs.chip_id[7] ^= 1;
	/* A v2 report (no CPUID) takes Turin from the productName. */
	rs.version = 2;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_OK);
	assert_int_equal(v.snp.product, SNP_PRODUCT_TURIN);
	free_roots(&r);
}

static void test_synth_vlek(void **state)
{
	struct roots r, rv;
	struct syn s = { &rv, 1, 1, NULL, 0, NULL, 0 };
	struct leaf_spec ls = { .product_name = "Milan-B0", .vlek = 1, .bl = 3, .snp = 8, .ucode = 115 };
	struct rep_spec rs = { .version = 3, .fam = 0x19, .mod = 0x01, .step = 1, .signing_key = 1 };
	struct attest_verdict v;

	(void)state;
	mk_roots(&r, SNP_PRODUCT_MILAN, 0);
	mk_roots(&rv, SNP_PRODUCT_MILAN, 1);
	rs.tcb = 0x7308000000000003ull;
	memset(rs.chip_id, 0x77, 64);   /* a VLEK does not bind the chip id */
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_OK);
	assert_int_equal(v.snp.signing_key, SNP_SIGNING_KEY_VLEK);
	/* A VLEK under the ASK (not the ASVK). */
	s.roots = &r;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CERT_CHAIN);
	s.roots = &rv;
	/* A VLEK with a hwID is malformed. */
	ls.hwid = rs.chip_id;
	ls.hwid_len = 64;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CERT_DATA);
	ls.hwid = NULL;
	/* A VCEK-signed report with a VLEK. */
	rs.signing_key = 0;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CERT_CHAIN);
	free_roots(&r);
	free_roots(&rv);
}

static void test_synth_policy(void **state)
{
	struct roots r;
	struct attest_policy p;
	struct syn s = { &r, 1, 1, NULL, 0, &p, 0 };
	struct leaf_spec ls = { .product_name = "Milan-B1", .bl = 3, .snp = 8, .ucode = 115 };
	struct rep_spec rs = { .version = 5, .fam = 0x19, .mod = 0x01, .step = 1 };
	struct attest_verdict v;

	(void)state;
	mk_roots(&r, SNP_PRODUCT_MILAN, 0);
	memset(&p, 0, sizeof(p));
	rs.tcb = 0x7308000000000003ull;
	memset(rs.chip_id, 0x11, 64);
	ls.hwid = rs.chip_id;
	ls.hwid_len = 64;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_OK);
	rs.policy = 0x30000 | SNP_POLICY_MIGRATE_MA;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_SNP_POLICY);
	p.snp_allow_migration_agent = 1;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_OK);
	rs.policy = 0x30000 | SNP_POLICY_DEBUG;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_DEBUG);
	p.allow_debug = 1;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_OK);
	/* Policy bits 25:20 are not judged; 26 and up are reserved. */
	rs.policy = 0x30000 | (1ull << 25);
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_OK);
	rs.policy = 0x30000 | (1ull << 26);
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_SNP_FORMAT);
	rs.policy = 0x10000;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_SNP_FORMAT);
	rs.policy = 0;
	/* VMPL: 0 = VMPL 0 only, n = up to n, negative = any; 4 and up never parse. */
	for (uint32_t vmpl = 0; vmpl <= 4; vmpl++) {
		rs.vmpl = vmpl;
		p.snp_max_vmpl = 0;
		assert_int_equal(syn_verify(&s, &ls, &rs, &v),
				 vmpl == 0 ? ERR_OK : vmpl > 3 ? ERR_ATTEST_SNP_FORMAT : ERR_ATTEST_SNP_VMPL);
		p.snp_max_vmpl = 2;
		assert_int_equal(syn_verify(&s, &ls, &rs, &v),
				 vmpl <= 2 ? ERR_OK : vmpl > 3 ? ERR_ATTEST_SNP_FORMAT : ERR_ATTEST_SNP_VMPL);
		p.snp_max_vmpl = -1;
		assert_int_equal(syn_verify(&s, &ls, &rs, &v), vmpl <= 3 ? ERR_OK : ERR_ATTEST_SNP_FORMAT);
	}
	free_roots(&r);
}

static void test_synth_crl(void **state)
{
	struct roots r, other;
	struct syn s = { &r, 1, 1, NULL, 0, NULL, 0 };
	struct leaf_spec ls = { .product_name = "Milan-B0", .bl = 3, .snp = 8, .ucode = 115 };
	struct rep_spec rs = { .version = 2 };
	struct attest_verdict v;
	long now = (long)SYN_NOW;
	uint8_t *crl;

	(void)state;
	mk_roots(&r, SNP_PRODUCT_MILAN, 0);
	mk_roots(&other, SNP_PRODUCT_GENOA, 0);
	rs.tcb = 0x7308000000000003ull;
	memset(rs.chip_id, 0x22, 64);
	ls.hwid = rs.chip_id;
	ls.hwid_len = 64;

	/* Current, empty: accepted; the CRL's times show up in the verdict. */
	crl = mk_crl(r.ark, pki.ark_key, NULL, now - 100, now + 1000, &s.crl_len);
	s.crl = crl;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_OK);
	assert_int_equal(v.collateral_issued_at, (uint64_t)(now - 100));
	assert_int_equal(v.collateral_expires_at, (uint64_t)(now + 1000));
	free(crl);
	/* Lists the ASK. */
	crl = mk_crl(r.ark, pki.ark_key, r.ask, now - 100, now + 1000, &s.crl_len);
	s.crl = crl;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CERT_REVOKED);
	free(crl);
	/* Expired, and not yet issued. */
	crl = mk_crl(r.ark, pki.ark_key, NULL, now - 1000, now - 1, &s.crl_len);
	s.crl = crl;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CRL_EXPIRED);
	free(crl);
	crl = mk_crl(r.ark, pki.ark_key, NULL, now + 10, now + 1000, &s.crl_len);
	s.crl = crl;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CRL_EXPIRED);
	free(crl);
	/* Signed by another key under the ARK's name; issued by another ARK. */
	crl = mk_crl(r.ark, pki.rogue_key, NULL, now - 100, now + 1000, &s.crl_len);
	s.crl = crl;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CRL_INVALID);
	free(crl);
	crl = mk_crl(other.ark, pki.ark_key, NULL, now - 100, now + 1000, &s.crl_len);
	s.crl = crl;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CRL_INVALID);
	free(crl);
	/* One signature byte flipped. */
	crl = mk_crl(r.ark, pki.ark_key, NULL, now - 100, now + 1000, &s.crl_len);
	crl[s.crl_len - 5] ^= 1;
	s.crl = crl;
	assert_int_equal(syn_verify(&s, &ls, &rs, &v), ERR_ATTEST_CRL_INVALID);
	free(crl);
	free_roots(&r);
	free_roots(&other);
}

/* Names must be AMD's exactly: another O, an extra RDN. */
static void test_synth_names(void **state)
{
	struct roots r;
	struct attest_trust t = prod_trust;
	struct attest_policy p;
	struct attest_verdict v;
	struct leaf_spec ls = { .product_name = "Milan-B0", .bl = 3, .snp = 8, .ucode = 115 };
	struct rep_spec rs = { .version = 2, .tcb = 0x7308000000000003ull };
	uint8_t rep[SNP_REPORT_SIZE];
	X509 *leaf;
	X509_NAME *n;
	uint8_t *der;
	char *chain;
	size_t dl, cl;

	(void)state;
	mk_roots(&r, SNP_PRODUCT_MILAN, 0);
	t.amd_dev_ark = r.ark;
	memset(&p, 0, sizeof(p));
	memset(rs.chip_id, 0x33, 64);
	ls.hwid = rs.chip_id;
	ls.hwid_len = 64;
	mk_report(rep, &rs);
	chain = pem_of(r.ask, r.ark, &cl);

	leaf = mk_leaf(&ls, "SEV-Milan", pki.ask_key);
	n = X509_get_subject_name(leaf);
	assert_true(X509_NAME_add_entry_by_txt(n, "emailAddress", MBSTRING_ASC, (const unsigned char *)"x@y", -1, -1, 0));
	pss_sign_cert(leaf, pki.ask_key, 1);
	der = der_of(leaf, &dl);
	assert_int_equal(snp_verify(rep, sizeof(rep), der, dl, chain, cl, NULL, 0, &t, &p, SYN_NOW, NULL, &v),
			 ERR_ATTEST_CERT_CHAIN);
	X509_free(leaf);
	free(der);

	leaf = mk_leaf(&ls, "SEV-Milan", pki.ask_key);
	n = X509_get_subject_name(leaf);
	{
		X509_NAME_ENTRY *o = X509_NAME_delete_entry(n, 4);   /* O */

		assert_non_null(o);
		X509_NAME_ENTRY_free(o);
	}
	assert_true(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Advanced Micro Device", -1,
					       4, 0));
	pss_sign_cert(leaf, pki.ask_key, 1);
	der = der_of(leaf, &dl);
	assert_int_equal(snp_verify(rep, sizeof(rep), der, dl, chain, cl, NULL, 0, &t, &p, SYN_NOW, NULL, &v),
			 ERR_ATTEST_CERT_CHAIN);
	X509_free(leaf);
	free(der);

	/* Control: the untouched leaf passes. */
	leaf = mk_leaf(&ls, "SEV-Milan", pki.ask_key);
	der = der_of(leaf, &dl);
	assert_int_equal(snp_verify(rep, sizeof(rep), der, dl, chain, cl, NULL, 0, &t, &p, SYN_NOW, NULL, &v), ERR_OK);
	X509_free(leaf);
	free(der);
	free(chain);
	free_roots(&r);
}

/* --- parser boundaries and the sweep --------------------------------------------------------------- */

static void test_parse_boundaries(void **state)
{
	struct attest_snp_report out;
	size_t rl;
	uint8_t *r = load_report(vectors[0].report, &rl);
	uint8_t buf[SNP_REPORT_SIZE];

	(void)state;
	assert_int_equal(rl, SNP_REPORT_SIZE);
	assert_int_equal(snp_report_parse(r, rl, &out), ERR_OK);
	assert_int_equal(snp_report_parse(r, rl - 1, &out), ERR_ATTEST_SNP_FORMAT);
	assert_int_equal(snp_report_parse(NULL, rl, &out), ERR_ATTEST_SNP_FORMAT);
	for (uint32_t ver = 0; ver < 8; ver++) {
		memcpy(buf, r, sizeof(buf));
		buf[0] = (uint8_t)ver;
		assert_int_equal(snp_report_parse(buf, sizeof(buf), &out),
				 ver >= 2 && ver <= 5 ? ERR_OK : ERR_ATTEST_SNP_FORMAT);
	}
	/* Every reserved byte, one at a time (v2 layout). */
	{
		static const size_t mbz[][2] = { { 0x4c, 0x50 },   { 0x188, 0x1a0 }, { 0x1eb, 0x1ec },
						 { 0x1ef, 0x1f0 }, { 0x1f8, 0x2a0 }, { 0x330, 0x4a0 } };

		for (size_t i = 0; i < ARRAY_LEN(mbz); i++)
			for (size_t off = mbz[i][0]; off < mbz[i][1]; off++) {
				memcpy(buf, r, sizeof(buf));
				buf[off] = 0x80;
				assert_int_equal(snp_report_parse(buf, sizeof(buf), &out), ERR_ATTEST_SNP_FORMAT);
			}
	}
	/* v5: 0x1F8..0x207 are the mitigation vectors. */
	memcpy(buf, r, sizeof(buf));
	buf[0] = 5;
	buf[0x1f8] = 1;
	buf[0x207] = 2;
	assert_int_equal(snp_report_parse(buf, sizeof(buf), &out), ERR_OK);
	assert_int_equal(out.launch_mit_vector, 1);
	assert_int_equal(out.current_mit_vector, 0x0200000000000000ull);
	buf[0x208] = 1;
	assert_int_equal(snp_report_parse(buf, sizeof(buf), &out), ERR_ATTEST_SNP_FORMAT);
	/* v3: CPUID fields, the rest of 0x188..0x19F reserved. */
	memcpy(buf, r, sizeof(buf));
	buf[0] = 3;
	buf[0x188] = 0x19;
	buf[0x189] = 0x11;
	buf[0x18a] = 1;
	assert_int_equal(snp_report_parse(buf, sizeof(buf), &out), ERR_OK);
	assert_int_equal(out.product, SNP_PRODUCT_GENOA);
	buf[0x18b] = 1;
	assert_int_equal(snp_report_parse(buf, sizeof(buf), &out), ERR_ATTEST_SNP_FORMAT);
	/* Signer info: reserved bits, signing key 2..7, author key and mask bits allowed. */
	for (uint32_t si = 0; si < 64; si++) {
		uint32_t key = (si >> 2) & 7;

		memcpy(buf, r, sizeof(buf));
		buf[0x48] = (uint8_t)si;
		assert_int_equal(snp_report_parse(buf, sizeof(buf), &out),
				 si < 32 && key <= 1 ? ERR_OK : ERR_ATTEST_SNP_FORMAT);
	}
	free(r);
}

/*
 * Every single-byte change in the signed region [0, 0x2A0) and in the
 * signature [0x2A0, 0x330) of S01 is rejected. Three changes per byte:
 * lowest bit (through the full snp_verify), highest bit and all bits
 * (parse + snp_report_check against the endorsement verified once, which is
 * what snp_verify runs after the report-independent chain checks; a change
 * that alters the signer kind or product goes the full way). The reserved
 * tail after the signature is the parser's alone.
 */
static void test_sweep_s01(void **state)
{
	static const uint8_t masks[] = { 0x01, 0x80, 0xff };
	const struct vec *c = &vectors[0];
	struct attest_policy p;
	struct attest_verdict v;
	struct attest_snp_report base, out;
	struct snp_endorsement e;
	size_t rl, vl, cl, counts[4] = { 0 };
	uint8_t *r = load_report(c->report, &rl), *vc = load(c->vcek, &vl), *ch = load(c->chain, &cl);
	uint64_t t0 = mono_ms();

	(void)state;
	memset(&p, 0, sizeof(p));
	p.allow_debug = 1;
	p.snp_max_vmpl = -1;   /* VMPL flips must fail on the signature, not on the policy */
	p.snp_allow_migration_agent = 1;
	assert_int_equal(snp_verify(r, rl, vc, vl, (const char *)ch, cl, NULL, 0, &prod_trust, &p, T_S01, NULL, &v),
			 ERR_OK);
	assert_int_equal(snp_report_parse(r, rl, &base), ERR_OK);
	assert_int_equal(snp_endorsement_verify(vc, vl, (const char *)ch, cl, NULL, 0, SNP_PRODUCT_UNKNOWN, 0,
						&prod_trust, T_S01, &e, NULL),
			 ERR_OK);
	base.product = e.product;
	assert_int_equal(snp_report_check(r, rl, &base, &e, &p, NULL), ERR_OK);

	for (size_t off = 0; off < SNP_SIGNED_SIZE + 2 * SNP_SIG_COMPONENT_SIZE; off++)
		for (size_t m = 0; m < ARRAY_LEN(masks); m++) {
			err_t err;

			r[off] ^= masks[m];
			if (m == 0) {
				err = snp_verify(r, rl, vc, vl, (const char *)ch, cl, NULL, 0, &prod_trust, &p, T_S01,
						 NULL, &v);
			} else {
				err = snp_report_parse(r, rl, &out);
				if (err == ERR_OK && out.signing_key == base.signing_key &&
				    (out.product == SNP_PRODUCT_UNKNOWN || out.product == e.product)) {
					out.product = e.product;
					err = snp_report_check(r, rl, &out, &e, &p, NULL);
				} else if (err == ERR_OK) {
					err = snp_verify(r, rl, vc, vl, (const char *)ch, cl, NULL, 0, &prod_trust, &p,
							 T_S01, NULL, &v);
				}
			}
			r[off] ^= masks[m];
			if (err == ERR_OK)
				fail_msg("flip 0x%02x at 0x%03zx accepted", masks[m], off);
			if (err == ERR_ATTEST_SNP_FORMAT)
				counts[0]++;
			else if (err == ERR_ATTEST_SNP_SIGNATURE)
				counts[1]++;
			else if (err == ERR_ATTEST_CERT_CHAIN)   /* SIGNING_KEY -> VLEK: no VLEK chain given */
				counts[2]++;
			else
				counts[3]++;
		}
	for (size_t off = SNP_SIGNED_SIZE + 2 * SNP_SIG_COMPONENT_SIZE; off < SNP_REPORT_SIZE; off++) {
		r[off] ^= 0x01;
		assert_int_equal(snp_report_parse(r, rl, &out), ERR_ATTEST_SNP_FORMAT);
		r[off] ^= 0x01;
	}
	print_message("sweep: %zu format, %zu signature, %zu chain, %zu other in %llu ms\n", counts[0], counts[1],
		      counts[2], counts[3], (unsigned long long)(mono_ms() - t0));
	assert_int_equal(counts[0] + counts[1] + counts[2], 3 * (SNP_SIGNED_SIZE + 2 * SNP_SIG_COMPONENT_SIZE));
	assert_int_equal(counts[3], 0);
	snp_endorsement_free(&e);
	free(r);
	free(vc);
	free(ch);
}

/* --- setup ---------------------------------------------------------------------------------------- */

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++) {
		prod_trust.amd_ark[i] = attest_amd_ark((enum attest_snp_product)(i + 1));
		if (!prod_trust.amd_ark[i])
			return -1;
	}
	pki.ark_key = EVP_RSA_gen(2048);
	pki.ask_key = EVP_RSA_gen(2048);
	pki.rogue_key = EVP_RSA_gen(2048);
	pki.leaf_key = EVP_EC_gen("P-384");
	pki.leaf_key2 = EVP_EC_gen("P-384");
	return pki.ark_key && pki.ask_key && pki.rogue_key && pki.leaf_key && pki.leaf_key2 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 3; i++)
		X509_free(prod_trust.amd_ark[i]);
	EVP_PKEY_free(pki.ark_key);
	EVP_PKEY_free(pki.ask_key);
	EVP_PKEY_free(pki.rogue_key);
	EVP_PKEY_free(pki.leaf_key);
	EVP_PKEY_free(pki.leaf_key2);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roots),
		cmocka_unit_test(test_tcb_layouts),
		cmocka_unit_test(test_ext_parser),
		cmocka_unit_test(test_parse_boundaries),
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_vector_fields),
		cmocka_unit_test(test_default_policy),
		cmocka_unit_test(test_expectations),
		cmocka_unit_test(test_real_chain_negatives),
		cmocka_unit_test(test_turin_vcek),
		cmocka_unit_test(test_synth_genoa),
		cmocka_unit_test(test_synth_turin),
		cmocka_unit_test(test_synth_vlek),
		cmocka_unit_test(test_synth_policy),
		cmocka_unit_test(test_synth_crl),
		cmocka_unit_test(test_synth_names),
		cmocka_unit_test(test_sweep_s01),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
