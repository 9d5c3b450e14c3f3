/* SPDX-License-Identifier: Apache-2.0 */
/* ratls_verify: sim evidence bound to a fresh key verifies with the dev root; each failing step gives its own error; the verdict cache. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "crypto.h"
#include "ratls_testutil.h"
#include "rpc_status.h"
#include "snp.h"

struct fx {
	struct rt_sim s;
	EVP_PKEY *key;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || rt_sim_init(&f->s, 0xa1) != 0)
		return -1;
	f->key = ratls_key_new();
	if (!f->key)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	EVP_PKEY_free(f->key);
	rt_sim_fini(&f->s);
	free(f);
	return 0;
}

static struct ratls_verifier *verifier(struct fx *f, void (*tweak)(struct ratls_verifier_config *))
{
	struct ratls_verifier_config cfg;
	struct ratls_verifier *v;

	rt_verifier_config(&f->s, &cfg);
	if (tweak)
		tweak(&cfg);
	v = ratls_verifier_new(&cfg);
	assert_non_null(v);
	return v;
}

static X509 *good_cert(struct fx *f)
{
	X509 *x = rt_attested_cert(&f->s, f->key, 0, RT_NOW + 30 * RT_DAY, NULL, NULL, NULL);

	assert_non_null(x);
	return x;
}

static void test_verify_ok_dev_claims(void **state)
{
	struct fx *f = *state;
	struct ratls_verifier *v = verifier(f, NULL);
	X509 *x = good_cert(f);
	const struct ratls_verdict *vd = NULL;
	struct ratls_failure why;
	struct attest_boot_info bi;

	assert_int_equal(ratls_verify_cert(v, x, RT_NOW, &vd, &why), ERR_OK);
	assert_non_null(vd);
	assert_int_equal(why.err, ERR_OK);
	assert_int_equal(vd->platform, RATLS_PLATFORM_TDX);
	assert_int_equal(vd->attestation_version, 0);
	assert_int_equal(vd->claims.tee, ATTEST_TEE_TDX);
	assert_int_equal(vd->claims.dev, 1);   /* the sim chains to the development root */
	assert_int_equal(vd->claims.has_tcb, 1);
	assert_int_equal(vd->claims.tcb_status, TCB_UP_TO_DATE);
	assert_int_equal(vd->claims.rtmr3_verified, 1);
	assert_int_equal(vd->claims.has_app_id, 1);
	assert_memory_equal(vd->claims.app_id, f->s.app_id, 20);
	assert_int_equal(vd->claims.has_compose_hash, 1);
	assert_memory_equal(vd->claims.compose_hash, f->s.compose_hash, 32);
	assert_int_equal(vd->claims.has_instance_id, 1);
	assert_memory_equal(vd->claims.instance_id, f->s.instance_id, 20);
	assert_int_equal(vd->claims.has_device_id, 1);
	assert_int_equal(vd->claims.has_key_provider, 1);
	assert_string_equal(vd->claims.key_provider_name, "kms");
	/* boot-time MR (SignCert): RTMR3 stops at boot-mr-done, so it differs from the full one */
	assert_int_equal(vd->claims.has_mr_aggregated_boot, 1);
	assert_memory_not_equal(vd->claims.mr_aggregated_boot, vd->claims.mr_aggregated, 32);
	assert_string_equal(vd->config, "{}");
	assert_int_equal(vd->has_usage, 0);
	assert_true(vd->expires_at > RT_NOW && vd->expires_at <= RT_NOW + 300);
	attest_claims_boot_info(&vd->claims, 1, &bi);
	assert_string_equal(bi.tee_variant, "dstack-tdx");
	assert_string_equal(bi.tcb_status, "UpToDate");
	assert_memory_equal(bi.mr_aggregated, vd->claims.mr_aggregated_boot, 32);
	ratls_verdict_unref(vd);
	/* the same through DER */
	{
		struct buf_writer w;

		buf_writer_init(&w, 1 << 20);
		assert_int_equal(ratls_cert_der(x, &w), ERR_OK);
		assert_int_equal(ratls_verify_der(v, w.p, w.len, RT_NOW, &vd, NULL), ERR_OK);
		ratls_verdict_unref(vd);
		/* trailing bytes after the certificate */
		buf_put_u8(&w, 0);
		assert_int_equal(ratls_verify_der(v, w.p, w.len, RT_NOW, &vd, &why), ERR_RATLS_EVIDENCE_FORMAT);
		assert_null(vd);
		buf_writer_free(&w);
	}
	X509_free(x);
	ratls_verifier_free(v);
}

static void no_dev_root(struct ratls_verifier_config *c)
{
	c->trust.intel_dev_root = NULL;
}

static void test_without_dev_root(void **state)
{
	struct fx *f = *state;
	struct ratls_verifier *v = verifier(f, no_dev_root);
	X509 *x = good_cert(f);
	const struct ratls_verdict *vd = NULL;
	struct ratls_failure why;
	struct ratls_stats st;

	assert_int_equal(ratls_verify_cert(v, x, RT_NOW, &vd, &why), ERR_ATTEST_ROOT_UNTRUSTED);
	assert_null(vd);
	assert_int_equal(why.step, RATLS_STEP_PLATFORM);
	assert_int_equal(rpc_code_from_err(why.err), RPC_PERMISSION_DENIED);
	ratls_verifier_stats(v, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.last_err, ERR_ATTEST_ROOT_UNTRUSTED);
	assert_int_equal(st.platform_checks, 0);   /* refused before any quote signature work */
	X509_free(x);
	ratls_verifier_free(v);
}

static void test_binding_other_key(void **state)
{
	struct fx *f = *state;
	struct ratls_verifier *v = verifier(f, NULL);
	EVP_PKEY *other = ratls_key_new();
	struct ratls_cert_params p;
	struct ratls_quote q;
	struct buf_writer w;
	uint8_t rd[64];
	const struct ratls_verdict *vd = NULL;
	struct ratls_failure why;
	X509 *x = NULL;

	/* evidence for f->key, certificate for `other` */
	assert_non_null(other);
	assert_int_equal(ratls_report_data(f->key, rd), ERR_OK);
	assert_int_equal(rt_sim_quote(&f->s, rd, &q), ERR_OK);
	buf_writer_init(&w, RATLS_ATTESTATION_MAX);
	assert_int_equal(ratls_attestation_from_quote(&q, rd, &w, NULL), ERR_OK);
	memset(&p, 0, sizeof(p));
	p.cn = "replayed";
	p.not_after = RT_NOW + RT_DAY;
	p.attestation = w.p;
	p.attestation_len = w.len;
	assert_int_equal(ratls_cert_build(&p, other, NULL, other, &x), ERR_OK);
	assert_int_equal(ratls_verify_cert(v, x, RT_NOW, &vd, &why), ERR_RATLS_BINDING);
	assert_int_equal(why.step, RATLS_STEP_BINDING);
	/* the backend refuses to wrap a quote over other report data */
	rd[0] ^= 1;
	buf_writer_clear(&w);
	assert_int_equal(ratls_attestation_from_quote(&q, rd, &w, NULL), ERR_RATLS_BINDING);
	buf_writer_free(&w);
	ratls_quote_clear(&q);
	X509_free(x);
	EVP_PKEY_free(other);
	ratls_verifier_free(v);
}

static void test_tampered_event_log(void **state)
{
	struct fx *f = *state;
	struct ratls_verifier *v = verifier(f, NULL);
	const struct ratls_verdict *vd = NULL;
	struct ratls_failure why;
	X509 *x;

	f->s.tamper_log = 1;
	x = good_cert(f);
	f->s.tamper_log = 0;
	assert_int_equal(ratls_verify_cert(v, x, RT_NOW, &vd, &why), ERR_RATLS_RTMR3_MISMATCH);
	assert_int_equal(why.step, RATLS_STEP_EVENTLOG);
	assert_null(vd);
	X509_free(x);
	ratls_verifier_free(v);
}

static void test_expired_cert(void **state)
{
	struct fx *f = *state;
	struct ratls_verifier *v = verifier(f, NULL);
	const struct ratls_verdict *vd = NULL;
	struct ratls_failure why;
	X509 *x = rt_attested_cert(&f->s, f->key, 0, RT_NOW - 1, NULL, NULL, NULL);

	assert_non_null(x);
	assert_int_equal(ratls_verify_cert(v, x, RT_NOW, &vd, &why), ERR_RATLS_CERT_EXPIRED);
	assert_int_equal(why.step, RATLS_STEP_CERT);
	X509_free(x);
	/* not yet valid */
	x = rt_attested_cert(&f->s, f->key, RT_NOW + 10, RT_NOW + RT_DAY, NULL, NULL, NULL);
	assert_non_null(x);
	assert_int_equal(ratls_verify_cert(v, x, RT_NOW, &vd, &why), ERR_RATLS_CERT_EXPIRED);
	/* valid at its first second */
	assert_int_equal(ratls_verify_cert(v, x, RT_NOW + 10, &vd, &why), ERR_OK);
	ratls_verdict_unref(vd);
	X509_free(x);
	ratls_verifier_free(v);
}

static const uint8_t other_app[1][20] = { { 0xee } };
static const uint8_t fx_app[1][20] = { { 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1,
					  0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1 } };
static const char *const kms_usage[] = { RATLS_USAGE_KMS_RPC };

static void policy_other_app(struct ratls_verifier_config *c)
{
	c->policy.app_ids = other_app;
	c->policy.n_app_ids = 1;
}

static void policy_own_app_kms(struct ratls_verifier_config *c)
{
	c->policy.app_ids = fx_app;
	c->policy.n_app_ids = 1;
	c->policy.usages = kms_usage;
	c->policy.n_usages = 1;
}

static void test_policy(void **state)
{
	struct fx *f = *state;
	struct ratls_verifier *v = verifier(f, policy_other_app);
	const struct ratls_verdict *vd = NULL;
	struct ratls_failure why;
	X509 *x = good_cert(f), *kms;

	assert_int_equal(ratls_verify_cert(v, x, RT_NOW, &vd, &why), ERR_RATLS_POLICY);
	assert_int_equal(why.step, RATLS_STEP_POLICY);
	assert_non_null(strstr(why.detail, "app id"));
	ratls_verifier_free(v);
	/* the right app id, but the usage must be kms:rpc */
	v = verifier(f, policy_own_app_kms);
	assert_int_equal(ratls_verify_cert(v, x, RT_NOW, &vd, &why), ERR_RATLS_POLICY);
	assert_non_null(strstr(why.detail, "usage"));
	kms = rt_attested_cert(&f->s, f->key, 0, RT_NOW + RT_DAY, RATLS_USAGE_KMS_RPC, NULL, NULL);
	assert_non_null(kms);
	assert_int_equal(ratls_verify_cert(v, kms, RT_NOW, &vd, &why), ERR_OK);
	assert_int_equal(vd->has_usage, 1);
	assert_string_equal(vd->usage, "kms:rpc");
	ratls_verdict_unref(vd);
	X509_free(kms);
	X509_free(x);
	ratls_verifier_free(v);
}

static void ttl_60(struct ratls_verifier_config *c)
{
	c->cache_max_ttl_s = 60;
}

static void test_cache_hit_and_expiry(void **state)
{
	struct fx *f = *state;
	struct ratls_verifier *v = verifier(f, ttl_60);
	const struct ratls_verdict *a = NULL, *b = NULL, *c = NULL;
	struct ratls_stats st;
	X509 *x = good_cert(f);

	assert_int_equal(ratls_verify_cert(v, x, RT_NOW, &a, NULL), ERR_OK);
	assert_int_equal(ratls_verify_cert(v, x, RT_NOW + 59, &b, NULL), ERR_OK);
	ratls_verifier_stats(v, &st);
	assert_int_equal(st.platform_checks, 1);   /* the second verification did no quote / ECDSA work */
	assert_int_equal(st.cache_hits, 1);
	assert_int_equal(st.cache_misses, 1);
	assert_ptr_equal(a, b);                    /* the same shared verdict */
	assert_int_equal(a->expires_at, RT_NOW + 60);
	/* past the TTL the verdict is recomputed */
	assert_int_equal(ratls_verify_cert(v, x, RT_NOW + 60, &c, NULL), ERR_OK);
	ratls_verifier_stats(v, &st);
	assert_int_equal(st.platform_checks, 2);
	assert_int_equal(st.cache_misses, 2);
	assert_ptr_not_equal(c, a);
	/* the old verdict stays valid for whoever still holds it */
	assert_memory_equal(a->claims.app_id, f->s.app_id, 20);
	ratls_verdict_unref(a);
	ratls_verdict_unref(b);
	ratls_verdict_unref(c);
	/* flushing forgets everything */
	ratls_verifier_flush(v);
	assert_int_equal(ratls_verify_cert(v, x, RT_NOW + 61, &c, NULL), ERR_OK);
	ratls_verifier_stats(v, &st);
	assert_int_equal(st.platform_checks, 3);
	ratls_verdict_unref(c);
	X509_free(x);
	ratls_verifier_free(v);
}

static void ttl_year(struct ratls_verifier_config *c)
{
	c->cache_max_ttl_s = 365 * RT_DAY;
}

/* A cached verdict never outlives the certificate or the collateral it was checked with. */
static void test_cache_expiry_bounds(void **state)
{
	struct fx *f = *state;
	struct ratls_verifier *v = verifier(f, ttl_year);
	const struct ratls_verdict *vd = NULL;
	struct ratls_stats st;
	X509 *x = rt_attested_cert(&f->s, f->key, 0, RT_NOW + 90 * RT_DAY, NULL, NULL, NULL);
	X509 *y = rt_attested_cert(&f->s, f->key, 0, RT_NOW + RT_DAY, NULL, NULL, NULL);

	assert_int_equal(ratls_verify_cert(v, x, RT_NOW, &vd, NULL), ERR_OK);
	assert_int_equal(vd->expires_at, RT_NOW + 30 * RT_DAY + 1);   /* the sim TCB info's nextUpdate */
	ratls_verdict_unref(vd);
	assert_int_equal(ratls_verify_cert(v, y, RT_NOW, &vd, NULL), ERR_OK);
	assert_int_equal(vd->expires_at, RT_NOW + RT_DAY + 1);        /* the certificate's notAfter */
	ratls_verdict_unref(vd);
	/* a hit one second before the collateral runs out, then a fresh check that lib/attest refuses */
	assert_int_equal(ratls_verify_cert(v, x, RT_NOW + 30 * RT_DAY, &vd, NULL), ERR_OK);
	ratls_verdict_unref(vd);
	ratls_verifier_stats(v, &st);
	assert_int_equal(st.cache_hits, 1);
	assert_int_not_equal(ratls_verify_cert(v, x, RT_NOW + 30 * RT_DAY + 1, &vd, NULL), ERR_OK);
	ratls_verifier_stats(v, &st);
	assert_int_equal(st.platform_checks, 3);
	X509_free(x);
	X509_free(y);
	ratls_verifier_free(v);
}

static void tiny_cache(struct ratls_verifier_config *c)
{
	c->cache_entries = 4;
}

static void test_cache_bounded(void **state)
{
	struct fx *f = *state;
	struct ratls_verifier *v = verifier(f, tiny_cache);
	const struct ratls_verdict *vd;
	struct ratls_stats st;
	X509 *x[6];

	for (size_t i = 0; i < 6; i++) {
		x[i] = good_cert(f);
		assert_int_equal(ratls_verify_cert(v, x[i], RT_NOW, &vd, NULL), ERR_OK);
		ratls_verdict_unref(vd);
	}
	ratls_verifier_stats(v, &st);
	assert_int_equal(st.cache_evictions, 2);   /* 4 entries: the two oldest went */
	assert_int_equal(ratls_verify_cert(v, x[5], RT_NOW, &vd, NULL), ERR_OK);
	ratls_verdict_unref(vd);
	assert_int_equal(ratls_verify_cert(v, x[0], RT_NOW, &vd, NULL), ERR_OK);
	ratls_verdict_unref(vd);
	ratls_verifier_stats(v, &st);
	assert_int_equal(st.cache_hits, 1);
	assert_int_equal(st.platform_checks, 7);
	for (size_t i = 0; i < 6; i++)
		X509_free(x[i]);
	ratls_verifier_free(v);
}

static void test_no_evidence_and_no_collateral(void **state)
{
	struct fx *f = *state;
	struct ratls_verifier *v = verifier(f, NULL);
	struct ratls_verifier_config cfg;
	struct ratls_cert_params p;
	const struct ratls_verdict *vd = NULL;
	struct ratls_failure why;
	struct ratls_coll_store *empty = ratls_coll_store_new();
	X509 *plain = NULL, *x = good_cert(f);

	memset(&p, 0, sizeof(p));
	p.cn = "plain";
	p.not_after = RT_NOW + RT_DAY;
	assert_int_equal(ratls_cert_build(&p, f->key, NULL, f->key, &plain), ERR_OK);
	assert_int_equal(ratls_verify_cert(v, plain, RT_NOW, &vd, &why), ERR_RATLS_NO_EVIDENCE);
	assert_int_equal(why.step, RATLS_STEP_EVIDENCE);
	ratls_verifier_free(v);
	/* nothing prefetched for the platform: a retryable UNAVAILABLE, never a blocking fetch */
	rt_verifier_config(&f->s, &cfg);
	cfg.collateral_arg = empty;
	v = ratls_verifier_new(&cfg);
	assert_int_equal(ratls_verify_cert(v, x, RT_NOW, &vd, &why), ERR_RATLS_COLLATERAL_UNAVAILABLE);
	assert_int_equal(why.step, RATLS_STEP_COLLATERAL);
	assert_int_equal(rpc_code_from_err(ERR_RATLS_COLLATERAL_UNAVAILABLE), RPC_UNAVAILABLE);
	ratls_verifier_free(v);
	ratls_coll_store_free(empty);
	X509_free(plain);
	X509_free(x);
}

static void test_platform_rejects(void **state)
{
	struct fx *f = *state;
	struct ratls_verifier *v = verifier(f, NULL);
	const struct ratls_verdict *vd = NULL;
	struct ratls_failure why;
	X509 *x = good_cert(f);

	/* the collateral's window has passed: lib/attest's own error comes through */
	assert_int_equal(ratls_verify_cert(v, x, RT_NOW + 29 * RT_DAY + 86399, &vd, &why), ERR_OK);
	ratls_verdict_unref(vd);
	ratls_verifier_flush(v);
	assert_int_not_equal(ratls_verify_cert(v, x, RT_NOW + 31 * RT_DAY, &vd, &why), ERR_OK);
	assert_int_equal(why.step, RATLS_STEP_CERT);   /* the certificate ran out first */
	X509_free(x);
	x = rt_attested_cert(&f->s, f->key, 0, RT_NOW + 90 * RT_DAY, NULL, NULL, NULL);
	assert_int_equal(ratls_verify_cert(v, x, RT_NOW + 31 * RT_DAY, &vd, &why), ERR_ATTEST_TCB_INFO_EXPIRED);
	assert_int_equal(why.step, RATLS_STEP_PLATFORM);
	assert_int_equal(err_group(why.err), ERR_ATTEST);
	X509_free(x);
	ratls_verifier_free(v);
}

static void test_v1_and_legacy_evidence(void **state)
{
	struct fx *f = *state;
	struct ratls_verifier *v = verifier(f, NULL);
	const struct ratls_verdict *vd = NULL;
	struct ratls_failure why;
	struct ratls_cert_params p;
	struct ratls_quote q;
	uint8_t rd[64];
	X509 *x;

	/* a V2 event makes the attestation V1 (msgpack) */
	f->s.v2_event = 1;
	x = good_cert(f);
	f->s.v2_event = 0;
	assert_int_equal(ratls_verify_cert(v, x, RT_NOW, &vd, &why), ERR_OK);
	assert_int_equal(vd->attestation_version, 1);
	assert_memory_equal(vd->claims.compose_hash, f->s.compose_hash, 32);
	ratls_verdict_unref(vd);
	X509_free(x);
	/* legacy TDX_QUOTE + EVENT_LOG extensions */
	assert_int_equal(ratls_report_data(f->key, rd), ERR_OK);
	assert_int_equal(rt_sim_quote(&f->s, rd, &q), ERR_OK);
	memset(&p, 0, sizeof(p));
	p.cn = "legacy";
	p.not_after = RT_NOW + RT_DAY;
	p.tdx_quote = q.quote;
	p.tdx_quote_len = q.quote_len;
	p.event_log = (const uint8_t *)q.event_log;
	p.event_log_len = q.event_log_len;
	x = NULL;
	assert_int_equal(ratls_cert_build(&p, f->key, NULL, f->key, &x), ERR_OK);
	assert_int_equal(ratls_verify_cert(v, x, RT_NOW, &vd, &why), ERR_OK);
	assert_int_equal(vd->attestation_version, -1);
	assert_memory_equal(vd->claims.app_id, f->s.app_id, 20);
	ratls_verdict_unref(vd);
	X509_free(x);
	/* gzip-compressed legacy logs are refused explicitly */
	p.event_log = (const uint8_t *)"ELGZv1\x1f\x8b";
	p.event_log_len = 8;
	x = NULL;
	assert_int_equal(ratls_cert_build(&p, f->key, NULL, f->key, &x), ERR_OK);
	assert_int_equal(ratls_verify_cert(v, x, RT_NOW, &vd, &why), ERR_RATLS_UNSUPPORTED);
	X509_free(x);
	ratls_quote_clear(&q);
	ratls_verifier_free(v);
}

static void test_snp(void **state)
{
	struct fx *f = *state;
	struct ratls_verifier_config cfg;
	struct ratls_verifier *v;
	struct ratls_attestation att;
	struct attest_snp_report rep;
	struct ratls_blob chain[3];
	struct ratls_cert_params p;
	static const enum sim_cert which[3] = { SIM_CERT_VCEK, SIM_CERT_ASK, SIM_CERT_ARK };
	uint8_t report[SIM_SNP_REPORT_LEN];
	const struct ratls_verdict *vd = NULL;
	struct ratls_failure why;
	struct buf_writer w;
	X509 *ark, *x = NULL;

	for (int i = 0; i < 3; i++)
		assert_int_equal(sim_cert_der(f->s.pki, which[i], &chain[i].p, &chain[i].len), ERR_OK);
	ark = x509_from_bytes(chain[2].p, chain[2].len);
	assert_non_null(ark);
	sim_snp_report_default(f->s.pki, &rep);
	assert_int_equal(ratls_report_data(f->key, rep.report_data), ERR_OK);
	assert_int_equal(sim_snp_report(f->s.pki, &rep, report), ERR_OK);
	memset(&att, 0, sizeof(att));
	att.platform = RATLS_PLATFORM_SEV_SNP;
	att.quote = report;
	att.quote_len = sizeof(report);
	att.cert_chain = chain;
	att.n_cert_chain = 3;
	att.mr_config = "{}";
	att.mr_config_len = 2;
	memcpy(att.report_data, rep.report_data, 64);
	att.config = "";
	buf_writer_init(&w, RATLS_ATTESTATION_MAX);
	assert_int_equal(ratls_attestation_encode(&att, &w), ERR_OK);
	memset(&p, 0, sizeof(p));
	p.cn = "snp";
	p.not_after = RT_NOW + RT_DAY;
	p.attestation = w.p;
	p.attestation_len = w.len;
	assert_int_equal(ratls_cert_build(&p, f->key, NULL, f->key, &x), ERR_OK);
	rt_verifier_config(&f->s, &cfg);
	cfg.trust.amd_dev_ark = ark;
	v = ratls_verifier_new(&cfg);
	assert_int_equal(ratls_verify_cert(v, x, RT_NOW, &vd, &why), ERR_OK);
	assert_int_equal(vd->platform, RATLS_PLATFORM_SEV_SNP);
	assert_int_equal(vd->claims.tee, ATTEST_TEE_SEV_SNP);
	assert_int_equal(vd->claims.dev, 1);
	assert_int_equal(vd->claims.has_app_id, 0);   /* nothing hardware-measured names an app on SNP */
	assert_true(vd->expires_at > RT_NOW && vd->expires_at <= RT_NOW + 300);
	ratls_verdict_unref(vd);
	ratls_verifier_free(v);
	/* without the dev ARK */
	cfg.trust.amd_dev_ark = NULL;
	v = ratls_verifier_new(&cfg);
	assert_int_not_equal(ratls_verify_cert(v, x, RT_NOW, &vd, &why), ERR_OK);
	assert_int_equal(why.step, RATLS_STEP_PLATFORM);
	ratls_verifier_free(v);
	buf_writer_free(&w);
	X509_free(x);
	X509_free(ark);
}

static void test_bad_config(void **state)
{
	struct ratls_verifier_config cfg;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.policy.n_app_ids = 1;   /* a count without a list */
	assert_null(ratls_verifier_new(&cfg));
	memset(&cfg, 0, sizeof(cfg));
	cfg.mode = (enum ratls_mode)7;
	assert_null(ratls_verifier_new(&cfg));
	assert_null(ratls_verifier_new(NULL));
	assert_string_equal(ratls_step_name(RATLS_STEP_BINDING), "binding");
}

static void write_seed(const char *dir, const char *name, uint8_t prefix, int with_prefix, const void *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	if (with_prefix)
		assert_int_equal(fwrite(&prefix, 1, 1, f), 1);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

/* Evidence without a certificate (SignCert CSRs): the same steps from the binding on, bound to a given SPKI. */
static void test_evidence_without_cert(void **state)
{
	struct fx *f = *state;
	struct ratls_verifier *v = verifier(f, NULL);
	EVP_PKEY *other = ratls_key_new();
	const struct ratls_verdict *vd = NULL;
	struct ratls_failure why;
	struct ratls_stats st;
	struct ratls_attestation legacy;
	struct attest_boot_info bi;
	struct buf_writer att, spki, ospki;
	struct ratls_quote q;
	struct arena a;
	uint8_t rd[64], zero[32] = { 0 };

	assert_non_null(other);
	arena_init(&a, 16u << 20, 0);
	buf_writer_init(&att, RATLS_ATTESTATION_MAX);
	buf_writer_init(&spki, 4096);
	buf_writer_init(&ospki, 4096);
	assert_int_equal(ratls_spki_der(f->key, &spki), ERR_OK);
	assert_int_equal(ratls_spki_der(other, &ospki), ERR_OK);
	assert_int_equal(ratls_report_data(f->key, rd), ERR_OK);
	assert_int_equal(rt_sim_quote(&f->s, rd, &q), ERR_OK);
	assert_int_equal(ratls_attestation_from_quote(&q, rd, &att, NULL), ERR_OK);

	/* bound to f->key: accepted, with the claims SignCert needs; nothing cached */
	assert_int_equal(ratls_verify_attestation(v, att.p, att.len, spki.p, spki.len, RT_NOW, &vd, &why), ERR_OK);
	assert_int_equal(why.err, ERR_OK);
	assert_int_equal(vd->platform, RATLS_PLATFORM_TDX);
	assert_int_equal(vd->attestation_version, 0);
	assert_int_equal(vd->claims.dev, 1);
	assert_memory_equal(vd->claims.app_id, f->s.app_id, 20);
	assert_int_equal(vd->claims.has_mr_aggregated_boot, 1);
	assert_int_equal(vd->not_after, 0);
	assert_memory_equal(vd->cert_sha256, zero, 32);
	assert_int_equal(vd->has_usage, 0);
	assert_int_equal(vd->has_cert_app_id, 0);
	assert_true(vd->expires_at > RT_NOW && vd->expires_at <= RT_NOW + 300);
	attest_claims_boot_info(&vd->claims, 1, &bi);
	assert_memory_equal(bi.mr_aggregated, vd->claims.mr_aggregated_boot, 32);
	ratls_verdict_unref(vd);
	assert_int_equal(ratls_verify_attestation(v, att.p, att.len, spki.p, spki.len, RT_NOW, &vd, NULL), ERR_OK);
	ratls_verdict_unref(vd);
	ratls_verifier_stats(v, &st);
	assert_int_equal(st.verifications, 2);
	assert_int_equal(st.accepted, 2);
	assert_int_equal(st.cache_hits + st.cache_misses, 0);
	assert_int_equal(st.platform_checks, 2);   /* no verdict cache for evidence on its own */

	/* bound to another key: the binding step */
	assert_int_equal(ratls_verify_attestation(v, att.p, att.len, ospki.p, ospki.len, RT_NOW, &vd, &why),
			 ERR_RATLS_BINDING);
	assert_null(vd);
	assert_int_equal(why.step, RATLS_STEP_BINDING);
	assert_non_null(strstr(why.detail, "key to certify"));
	ratls_verifier_stats(v, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.last_err, ERR_RATLS_BINDING);
	assert_int_equal(st.last_step, RATLS_STEP_BINDING);
	assert_int_equal(st.platform_checks, 2);   /* refused before any ECDSA work */

	/* malformed bytes: the evidence step */
	assert_int_equal(ratls_verify_attestation(v, att.p, att.len - 1, spki.p, spki.len, RT_NOW, &vd, &why),
			 ERR_RATLS_EVIDENCE_FORMAT);
	assert_int_equal(why.step, RATLS_STEP_EVIDENCE);
	assert_int_equal(ratls_verify_attestation(v, (const uint8_t *)"\x42", 1, spki.p, spki.len, RT_NOW, &vd, &why),
			 ERR_RATLS_UNSUPPORTED);
	/* the clock still matters: collateral past its nextUpdate */
	assert_int_not_equal(ratls_verify_attestation(v, att.p, att.len, spki.p, spki.len, RT_NOW + 400 * RT_DAY, &vd,
						      &why),
			     ERR_OK);
	assert_int_equal(why.step, RATLS_STEP_PLATFORM);

	/* a V1 CSR's legacy quote + JSON event log */
	assert_int_equal(ratls_attestation_legacy(q.quote, q.quote_len, (const uint8_t *)q.event_log, q.event_log_len, &a,
						  &legacy, NULL),
			 ERR_OK);
	assert_int_equal(legacy.version, -1);
	assert_int_equal(ratls_verify_evidence(v, &legacy, spki.p, spki.len, RT_NOW, &vd, &why), ERR_OK);
	assert_int_equal(vd->attestation_version, -1);
	assert_memory_equal(vd->claims.compose_hash, f->s.compose_hash, 32);
	ratls_verdict_unref(vd);
	assert_int_equal(ratls_verify_evidence(v, &legacy, ospki.p, ospki.len, RT_NOW, &vd, &why), ERR_RATLS_BINDING);
	assert_int_equal(ratls_attestation_legacy(q.quote, 100, NULL, 0, &a, &legacy, NULL), ERR_RATLS_EVIDENCE_FORMAT);
	assert_int_equal(ratls_attestation_legacy(NULL, 0, NULL, 0, &a, &legacy, NULL), ERR_RATLS_EVIDENCE_FORMAT);
	assert_int_equal(ratls_attestation_legacy(q.quote, q.quote_len, (const uint8_t *)"ELGZv1..", 8, &a, &legacy, NULL),
			 ERR_RATLS_UNSUPPORTED);
	assert_int_equal(ratls_attestation_legacy(q.quote, q.quote_len, (const uint8_t *)"[{", 2, &a, &legacy, NULL),
			 ERR_RATLS_EVIDENCE_FORMAT);
	/* without a key */
	assert_int_equal(ratls_verify_attestation(v, att.p, att.len, NULL, 0, RT_NOW, &vd, &why), ERR_INVALID_ARG);
	ratls_verifier_free(v);

	/* a policy on usages refuses evidence that has no certificate to carry one; app ids still apply */
	v = verifier(f, policy_own_app_kms);
	assert_int_equal(ratls_verify_attestation(v, att.p, att.len, spki.p, spki.len, RT_NOW, &vd, &why),
			 ERR_RATLS_POLICY);
	assert_non_null(strstr(why.detail, "usage"));
	ratls_verifier_free(v);
	v = verifier(f, policy_other_app);
	assert_int_equal(ratls_verify_attestation(v, att.p, att.len, spki.p, spki.len, RT_NOW, &vd, &why),
			 ERR_RATLS_POLICY);
	assert_non_null(strstr(why.detail, "app id"));
	ratls_verifier_free(v);

	ratls_quote_clear(&q);
	buf_writer_free(&att);
	buf_writer_free(&spki);
	buf_writer_free(&ospki);
	EVP_PKEY_free(other);
	arena_fini(&a);
}

/* DS_RATLS_WRITE_CORPUS=<fuzz/corpus> writes real sim evidence as fuzz seeds (attestations, certificate, extensions). */
static void test_write_corpus(void **state)
{
	struct fx *f = *state;
	const char *dir = getenv("DS_RATLS_WRITE_CORPUS");
	struct ratls_cert_ext ext;
	struct buf_writer w;
	char sub[400];
	X509 *x;

	if (!dir)
		skip();
	buf_writer_init(&w, 1 << 24);
	for (int v2 = 0; v2 < 2; v2++) {
		f->s.v2_event = v2;
		x = good_cert(f);
		assert_int_equal(ratls_cert_ext_read(x, &ext, NULL), ERR_OK);
		snprintf(sub, sizeof(sub), "%s/ratls_attestation", dir);
		write_seed(sub, v2 ? "sim_tdx_v1.bin" : "sim_tdx_v0.bin", 0, 0, ext.attestation.p, ext.attestation.len);
		snprintf(sub, sizeof(sub), "%s/ratls_cert", dir);
		buf_writer_clear(&w);
		assert_int_equal(ratls_cert_der(x, &w), ERR_OK);
		write_seed(sub, v2 ? "sim_leaf_v1.der" : "sim_leaf_v0.der", 0x01, 1, w.p, w.len);
		if (!v2) {
			/* extension values as extnValue octets: 0x08 -> ATTESTATION, 0x04 -> APP_ID, 0x06 -> CERT_USAGE */
			const ASN1_OCTET_STRING *os;
			ASN1_OBJECT *o = OBJ_txt2obj(RATLS_OID_ATTESTATION, 1);

			os = X509_EXTENSION_get_data(X509_get_ext(x, X509_get_ext_by_OBJ(x, o, -1)));
			write_seed(sub, "ext_attestation.bin", 0x08, 1, os->data, (size_t)os->length);
			ASN1_OBJECT_free(o);
			write_seed(sub, "ext_app_id.bin", 0x04, 1, "\x04\x14" "aaaaaaaaaaaaaaaaaaaa", 22);
			write_seed(sub, "ext_usage.bin", 0x06, 1, "\x04\x07kms:rpc", 9);
		}
		X509_free(x);
	}
	f->s.v2_event = 0;
	/* the legacy pair: 0x00 -> TDX_QUOTE, 0x02 -> EVENT_LOG (as raw DER OCTET STRING values) */
	{
		struct ratls_quote q;
		uint8_t rd[64];
		uint8_t hdr[4];

		assert_int_equal(ratls_report_data(f->key, rd), ERR_OK);
		assert_int_equal(rt_sim_quote(&f->s, rd, &q), ERR_OK);
		buf_writer_clear(&w);
		hdr[0] = 0x04;
		hdr[1] = 0x82;
		hdr[2] = (uint8_t)(q.quote_len >> 8);
		hdr[3] = (uint8_t)q.quote_len;
		buf_put(&w, hdr, 4);
		buf_put(&w, q.quote, q.quote_len);
		write_seed(sub, "ext_legacy_quote.bin", 0x00, 1, w.p, w.len);
		buf_writer_clear(&w);
		hdr[2] = (uint8_t)(q.event_log_len >> 8);
		hdr[3] = (uint8_t)q.event_log_len;
		buf_put(&w, hdr, 4);
		buf_put(&w, q.event_log, q.event_log_len);
		write_seed(sub, "ext_legacy_event_log.bin", 0x02, 1, w.p, w.len);
		ratls_quote_clear(&q);
	}
	buf_writer_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify_ok_dev_claims),
		cmocka_unit_test(test_without_dev_root),
		cmocka_unit_test(test_binding_other_key),
		cmocka_unit_test(test_tampered_event_log),
		cmocka_unit_test(test_expired_cert),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_cache_hit_and_expiry),
		cmocka_unit_test(test_cache_bounded),
		cmocka_unit_test(test_cache_expiry_bounds),
		cmocka_unit_test(test_no_evidence_and_no_collateral),
		cmocka_unit_test(test_platform_rejects),
		cmocka_unit_test(test_v1_and_legacy_evidence),
		cmocka_unit_test(test_snp),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_evidence_without_cert),
		cmocka_unit_test(test_write_corpus),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
