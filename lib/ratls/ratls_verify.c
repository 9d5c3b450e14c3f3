/* SPDX-License-Identifier: Apache-2.0 */
/* RA-TLS verification: evidence -> binding -> platform (lib/attest) -> RTMR3 replay -> claims -> policy, a bounded verdict cache, the TLS hook and a collateral store. */
#include "ratls.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "eventlog.h"
#include "log.h"
#include "snp.h"

#define VERDICT_MAGIC 0x52544c53u   /* "RTLS" */
#define DEFAULT_CACHE_ENTRIES 1024u
#define DEFAULT_MAX_TTL_S 300u
#define WAYS 4u
#define SCRATCH_BUDGET ((size_t)48 << 20)   /* a 10 MiB attestation decodes into far less than this */
#define VERDICT_BUDGET ((size_t)4 << 20)   /* claims: a 64 KiB key-provider JSON parsed is the largest part */
#define PCACHE_SLOTS 64u
#define LOG_PREFIX "ratls"

const char *ratls_step_name(enum ratls_step s)
{
	switch (s) {
	case RATLS_STEP_NONE: return "none";
	case RATLS_STEP_CERT: return "certificate";
	case RATLS_STEP_EVIDENCE: return "evidence";
	case RATLS_STEP_BINDING: return "binding";
	case RATLS_STEP_COLLATERAL: return "collateral";
	case RATLS_STEP_PLATFORM: return "platform";
	case RATLS_STEP_EVENTLOG: return "event log";
	case RATLS_STEP_POLICY: return "policy";
	default: return "unknown";
	}
}

/* ---- verdicts ---- */

void ratls_verdict_ref(const struct ratls_verdict *v)
{
	if (v)
		((struct ratls_verdict *)UNCONST(v))->refs++;
}

void ratls_verdict_unref(const struct ratls_verdict *cv)
{
	struct ratls_verdict *v = UNCONST(cv);

	if (!v || --v->refs > 0)
		return;
	v->magic = 0;
	arena_fini(&v->arena);
	free(v);
}

/* ---- the verifier ---- */

struct cache_entry {
	uint8_t key[32];
	const struct ratls_verdict *v;   /* a reference, or NULL for a free way */
	uint64_t last_used;
};

struct ratls_verifier {
	struct ratls_verifier_config cfg;
	struct dcap_cache *pcache;        /* platforms whose certification data already verified */
	struct cache_entry *slots;
	size_t nsets;
	uint64_t tick;
	struct ratls_stats stats;
};

struct ratls_verifier *ratls_verifier_new(const struct ratls_verifier_config *cfg)
{
	struct ratls_verifier *v;
	size_t entries;

	if (!cfg || (unsigned)cfg->mode > RATLS_OPTIONAL || (cfg->policy.n_app_ids && !cfg->policy.app_ids) ||
	    (cfg->policy.n_mr_aggregated && !cfg->policy.mr_aggregated) || (cfg->policy.n_usages && !cfg->policy.usages))
		return NULL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->cfg = *cfg;
	/* The binding is ours to check; a fixed expectation from the caller would refuse every certificate. */
	v->cfg.attest.expected_report_data = NULL;
	if (!v->cfg.cache_max_ttl_s)
		v->cfg.cache_max_ttl_s = DEFAULT_MAX_TTL_S;
	entries = cfg->cache_entries ? cfg->cache_entries : DEFAULT_CACHE_ENTRIES;
	v->nsets = (entries + WAYS - 1) / WAYS;
	v->slots = calloc(v->nsets * WAYS, sizeof(*v->slots));
	v->pcache = dcap_cache_new(PCACHE_SLOTS);
	if (!v->slots || !v->pcache) {
		ratls_verifier_free(v);
		return NULL;
	}
	return v;
}

void ratls_verifier_flush(struct ratls_verifier *v)
{
	if (!v)
		return;
	for (size_t i = 0; v->slots && i < v->nsets * WAYS; i++) {
		ratls_verdict_unref(v->slots[i].v);
		v->slots[i].v = NULL;
	}
	if (v->pcache)
		dcap_cache_clear(v->pcache);
}

void ratls_verifier_free(struct ratls_verifier *v)
{
	if (!v)
		return;
	ratls_verifier_flush(v);
	free(v->slots);
	dcap_cache_free(v->pcache);
	free(v);
}

void ratls_verifier_stats(const struct ratls_verifier *v, struct ratls_stats *out)
{
	*out = v->stats;
}

static struct cache_entry *cache_set(struct ratls_verifier *v, const uint8_t key[32])
{
	uint64_t h = 0;

	memcpy(&h, key, sizeof(h));
	return &v->slots[(h % v->nsets) * WAYS];
}

static const struct ratls_verdict *cache_get(struct ratls_verifier *v, const uint8_t key[32], uint64_t now)
{
	struct cache_entry *set = cache_set(v, key);

	for (unsigned i = 0; i < WAYS; i++) {
		struct cache_entry *e = &set[i];

		if (!e->v || memcmp(e->key, key, 32) != 0)
			continue;
		if (now >= e->v->expires_at) {
			ratls_verdict_unref(e->v);
			e->v = NULL;
			return NULL;
		}
		e->last_used = ++v->tick;
		return e->v;
	}
	return NULL;
}

static void cache_put(struct ratls_verifier *v, const uint8_t key[32], const struct ratls_verdict *vd, uint64_t now)
{
	struct cache_entry *set = cache_set(v, key), *victim = &set[0];

	for (unsigned i = 0; i < WAYS; i++) {
		struct cache_entry *e = &set[i];

		if (!e->v || now >= e->v->expires_at) {
			victim = e;
			break;
		}
		if (e->last_used < victim->last_used)
			victim = e;
	}
	if (victim->v) {
		if (now < victim->v->expires_at)
			v->stats.cache_evictions++;
		ratls_verdict_unref(victim->v);
	}
	memcpy(victim->key, key, 32);
	ratls_verdict_ref(vd);
	victim->v = vd;
	victim->last_used = ++v->tick;
}

/* ---- one verification ---- */

struct run {
	struct ratls_verifier *v;
	X509 *leaf;                       /* the certificate, or NULL for evidence on its own */
	const uint8_t *spki;              /* without a certificate: the key the evidence must bind */
	size_t spki_len;
	uint64_t now;
	struct arena scratch;
	struct ratls_attestation att;
	struct ratls_cert_ext ext;
	struct attest_verdict lv;
	struct ratls_verdict *vd;
	struct ratls_failure *why;
};

static err_t reject(struct run *r, err_t e, enum ratls_step step, const char *detail)
{
	if (r->why) {
		r->why->err = e;
		r->why->step = step;
		snprintf(r->why->detail, sizeof(r->why->detail), "%s", detail ? detail : err_str(e));
	}
	return e;
}

static err_t arena_fail(struct run *r, struct arena *a)
{
	err_t e = arena_err(a);

	return reject(r, e, RATLS_STEP_EVIDENCE, "out of memory while verifying");
}

/* SHA-512("ratls-cert:" || SPKI DER) of the certificate's key. */
static err_t expected_report_data(X509 *x, uint8_t out[64])
{
	unsigned char *der = NULL;
	int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);

	if (n <= 0)
		return ERR_CRYPTO;
	attest_ratls_report_data(der, (size_t)n, out);
	OPENSSL_free(der);
	return ERR_OK;
}

static err_t check_binding(struct run *r, const uint8_t platform_rd[64])
{
	uint8_t want[64];

	if (!r->leaf)
		attest_ratls_report_data(r->spki, r->spki_len, want);
	else if (expected_report_data(r->leaf, want) != ERR_OK)
		return reject(r, ERR_RATLS_EVIDENCE_FORMAT, RATLS_STEP_CERT, "the certificate's public key does not encode");
	if (!ct_equal(r->att.report_data, want, 64))
		return reject(r, ERR_RATLS_BINDING, RATLS_STEP_BINDING,
			      r->leaf ? "report_data is not SHA-512(\"ratls-cert:\" || SPKI) of this certificate"
				      : "report_data is not SHA-512(\"ratls-cert:\" || SPKI) of the key to certify");
	if (!ct_equal(platform_rd, want, 64))
		return reject(r, ERR_RATLS_BINDING, RATLS_STEP_BINDING,
			      "the quote's report data differs from the attestation's report_data");
	return ERR_OK;
}

/* FMSPC and PCK CA type from the quote's PCK leaf, to pick the collateral. */
static int anchor_trusted(const struct attest_trust *t, X509 *anchor);

static err_t locate(struct run *r, const struct dcap_quote *q, uint8_t fmspc[6], int *ca_platform)
{
	STACK_OF(X509) *sk = NULL;
	X509 *last;
	struct dcap_pck_info info;
	const char *d = NULL;
	err_t e;

	if (q->cert_type != DCAP_CERT_PCK_CHAIN)
		return reject(r, ERR_ATTEST_CERT_DATA, RATLS_STEP_PLATFORM,
			      "the quote carries no PCK certificate chain (certification data type 5)");
	sk = pem_certs_parse((const char *)q->cert_data, q->cert_data_len);
	if (!sk || sk_X509_num(sk) < 1) {
		sk_X509_pop_free(sk, X509_free);
		return reject(r, ERR_ATTEST_CERT_CHAIN, RATLS_STEP_PLATFORM, "the quote's PCK chain does not parse");
	}
	/*
	 * A chain that ends at a self-issued root we do not trust (e.g. the
	 * simulator's, on a verifier without the dev root) is refused here,
	 * with the error that says so, before looking for collateral.
	 */
	last = sk_X509_value(sk, sk_X509_num(sk) - 1);
	if (X509_check_issued(last, last) == X509_V_OK && !anchor_trusted(&r->v->cfg.trust, last)) {
		sk_X509_pop_free(sk, X509_free);
		return reject(r, ERR_ATTEST_ROOT_UNTRUSTED, RATLS_STEP_PLATFORM,
			      "the quote's PCK chain ends at a root this verifier does not trust");
	}
	e = dcap_pck_cert_info(sk_X509_value(sk, 0), &info, &d);
	sk_X509_pop_free(sk, X509_free);
	if (e != ERR_OK)
		return reject(r, e, RATLS_STEP_PLATFORM, d);
	memcpy(fmspc, info.fmspc, 6);
	*ca_platform = info.ca_platform;
	return ERR_OK;
}

static int anchor_trusted(const struct attest_trust *t, X509 *anchor)
{
	return anchor && ((t->intel_root && X509_cmp(anchor, t->intel_root) == 0) ||
			  (t->intel_dev_root && X509_cmp(anchor, t->intel_dev_root) == 0));
}

static err_t platform_tdx(struct run *r)
{
	const struct ratls_verifier_config *cfg = &r->v->cfg;
	const struct dcap_vcoll *vc = NULL;
	struct attest_td_report td;
	struct dcap_quote q;
	const char *d = NULL;
	uint8_t fmspc[6];
	int ca_platform = 0;
	err_t e;

	e = dcap_quote_parse(r->att.quote, r->att.quote_len, &q, &d);
	if (e != ERR_OK)
		return reject(r, e, RATLS_STEP_PLATFORM, d);
	if (q.tee_type != DCAP_TEE_TDX)
		return reject(r, ERR_ATTEST_TEE_TYPE, RATLS_STEP_PLATFORM, "the TDX evidence holds an SGX quote");
	dcap_td_report_decode(q.body, q.body_len, &td);
	if ((e = check_binding(r, td.report_data)) != ERR_OK)
		return e;
	if ((e = locate(r, &q, fmspc, &ca_platform)) != ERR_OK)
		return e;
	if (!cfg->get_collateral || cfg->get_collateral(cfg->collateral_arg, fmspc, ca_platform, &vc) != ERR_OK || !vc)
		return reject(r, ERR_RATLS_COLLATERAL_UNAVAILABLE, RATLS_STEP_COLLATERAL,
			      "no prefetched collateral for this platform's FMSPC");
	if (!anchor_trusted(&cfg->trust, vc->anchor))
		return reject(r, ERR_ATTEST_ROOT_UNTRUSTED, RATLS_STEP_PLATFORM,
			      vc->dev ? "the collateral chains to the development root, which this verifier does not trust"
				      : "the collateral chains to a root this verifier does not trust");
	r->v->stats.platform_checks++;
	e = dcap_verify_quote(vc, r->att.quote, r->att.quote_len, &cfg->attest, r->now, r->v->pcache, &r->scratch, &r->lv);
	if (e != ERR_OK)
		return reject(r, e, RATLS_STEP_PLATFORM, r->lv.detail);
	return ERR_OK;
}

/* The runtime events (what RTMR3 replays), then the claims from the verdict and them. */
static err_t replay_and_claims(struct run *r)
{
	struct attest_eventlog log;
	const char *d = NULL;
	err_t e;

	e = ratls_attestation_event_log(&r->att, &r->scratch, &log, &d);
	if (e == ERR_NOMEM || e == ERR_BUDGET)
		return reject(r, e, RATLS_STEP_EVENTLOG, NULL);
	if (e != ERR_OK)
		return reject(r, ERR_ATTEST_EVENT_LOG, RATLS_STEP_EVENTLOG, d);
	e = attest_claims_from_verdict(&r->lv, &log, NULL, 0, &r->vd->arena, &r->vd->claims, &d);
	if (e == ERR_ATTEST_RTMR_MISMATCH)
		return reject(r, ERR_RATLS_RTMR3_MISMATCH, RATLS_STEP_EVENTLOG, d);
	if (e != ERR_OK)
		return reject(r, e, RATLS_STEP_EVENTLOG, d);
	return ERR_OK;
}

/* DER certificates after the first as one PEM text (snp_verify's chain argument). */
static err_t der_chain_pem(struct run *r, const struct ratls_blob *certs, size_t n, const char **pem, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL;
	long got;
	err_t e = ERR_OK;

	if (!b)
		return ERR_NOMEM;
	for (size_t i = 0; i < n && e == ERR_OK; i++) {
		X509 *x = x509_from_bytes(certs[i].p, certs[i].len);

		if (!x || PEM_write_bio_X509(b, x) != 1)
			e = ERR_ATTEST_CERT_CHAIN;
		X509_free(x);
	}
	got = BIO_get_mem_data(b, &data);
	if (e == ERR_OK && (got <= 0 || !(*pem = arena_memdup(&r->scratch, data, (size_t)got))))
		e = got <= 0 ? ERR_ATTEST_CERT_CHAIN : arena_err(&r->scratch);
	*len = got > 0 ? (size_t)got : 0;
	BIO_free(b);
	ERR_clear_error();
	return e;
}

static err_t platform_snp(struct run *r)
{
	const struct ratls_verifier_config *cfg = &r->v->cfg;
	struct attest_snp_report rep;
	const char *pem = NULL;
	size_t pem_len = 0;
	err_t e;

	e = snp_report_parse(r->att.quote, r->att.quote_len, &rep);
	if (e != ERR_OK)
		return reject(r, e, RATLS_STEP_PLATFORM, "the SEV-SNP report does not parse");
	if ((e = check_binding(r, rep.report_data)) != ERR_OK)
		return e;
	if (r->att.n_cert_chain < 2)
		return reject(r, ERR_ATTEST_COLLATERAL_MISSING, RATLS_STEP_PLATFORM,
			      "SEV-SNP evidence needs cert_chain = VCEK, ASK[, ARK]");
	if ((e = der_chain_pem(r, r->att.cert_chain + 1, r->att.n_cert_chain - 1, &pem, &pem_len)) != ERR_OK)
		return reject(r, e, RATLS_STEP_PLATFORM, "the SEV-SNP certificate chain does not parse");
	r->v->stats.platform_checks++;
	e = snp_verify(r->att.quote, r->att.quote_len, r->att.cert_chain[0].p, r->att.cert_chain[0].len, pem, pem_len,
		       NULL, 0, &cfg->trust, &cfg->attest, r->now, &r->scratch, &r->lv);
	if (e != ERR_OK)
		return reject(r, e, RATLS_STEP_PLATFORM, r->lv.detail);
	/* No RTMR on SEV-SNP: runtime events are not hardware-measured, so no identity comes from them. */
	e = attest_claims_from_verdict(&r->lv, NULL, NULL, 0, &r->vd->arena, &r->vd->claims, NULL);
	return e == ERR_OK ? ERR_OK : reject(r, e, RATLS_STEP_PLATFORM, NULL);
}

static int in_list(const uint8_t *have, const uint8_t *list, size_t n, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(list + i * len, have, len) == 0)
			return 1;
	return 0;
}

static err_t check_policy(struct run *r)
{
	const struct ratls_policy *p = &r->v->cfg.policy;
	const struct attest_claims *c = &r->vd->claims;

	if (p->n_app_ids && (!c->has_app_id || !in_list(c->app_id, &p->app_ids[0][0], p->n_app_ids, RATLS_APP_ID_LEN)))
		return reject(r, ERR_RATLS_POLICY, RATLS_STEP_POLICY, "the attested app id is not allowed");
	if (p->n_mr_aggregated && !in_list(c->mr_aggregated, &p->mr_aggregated[0][0], p->n_mr_aggregated, 32))
		return reject(r, ERR_RATLS_POLICY, RATLS_STEP_POLICY, "mr_aggregated is not allowed");
	if (p->n_usages) {
		int ok = 0;

		for (size_t i = 0; i < p->n_usages && r->vd->has_usage && !ok; i++)
			ok = strcmp(p->usages[i], r->vd->usage) == 0;
		if (!ok)
			return reject(r, ERR_RATLS_POLICY, RATLS_STEP_POLICY, "the certificate usage is not allowed");
	}
	return ERR_OK;
}

static uint64_t min_nonzero(uint64_t a, uint64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return MIN(a, b);
}

/* The steps shared by certificates and evidence on its own, from r->att on. On success r->vd is complete. */
static err_t verify_evidence(struct run *r)
{
	struct ratls_verdict *vd = r->vd;
	err_t e;

	vd->platform = r->att.platform;
	vd->attestation_version = r->att.version;
	switch (r->att.platform) {
	case RATLS_PLATFORM_TDX:
		if ((e = platform_tdx(r)) != ERR_OK || (e = replay_and_claims(r)) != ERR_OK)
			return e;
		break;
	case RATLS_PLATFORM_SEV_SNP:
		if ((e = platform_snp(r)) != ERR_OK)
			return e;
		break;
	default:
		return reject(r, ERR_RATLS_UNSUPPORTED, RATLS_STEP_EVIDENCE,
			      "evidence for this platform cannot be verified here (TDX and SEV-SNP only)");
	}
	vd->config = arena_memdup(&vd->arena, r->att.config_len ? r->att.config : "", r->att.config_len);
	if (!vd->config)
		return arena_fail(r, &vd->arena);
	vd->config_len = r->att.config_len;
	if ((e = check_policy(r)) != ERR_OK)
		return e;
	/* Usable while now < expires_at: through the last valid second of the certificate and the collateral. */
	vd->expires_at = min_nonzero(min_nonzero(vd->not_after ? vd->not_after + 1 : 0,
						 r->lv.collateral_expires_at ? r->lv.collateral_expires_at + 1 : 0),
				     r->now + r->v->cfg.cache_max_ttl_s);
	return ERR_OK;
}

/* A certificate after the cache missed: its evidence and extensions, then the shared steps. */
static err_t verify_fresh(struct run *r)
{
	struct ratls_verdict *vd = r->vd;
	const char *d = NULL;
	err_t e;

	e = ratls_cert_evidence(r->leaf, &r->scratch, &r->att, &d);
	if (e != ERR_OK)
		return reject(r, e, RATLS_STEP_EVIDENCE, d);
	if (ratls_cert_ext_read(r->leaf, &r->ext, NULL) == ERR_OK) {
		if (r->ext.usage.p) {
			memcpy(vd->usage, r->ext.usage.p, r->ext.usage.len);
			vd->usage[r->ext.usage.len] = 0;
			vd->has_usage = 1;
		}
		if (r->ext.app_id.p) {
			memcpy(vd->cert_app_id, r->ext.app_id.p, RATLS_APP_ID_LEN);
			vd->has_cert_app_id = 1;
		}
		/* The verdict outlives the certificate: decode a copy it owns. */
		if (r->ext.app_info.p) {
			const uint8_t *copy = arena_memdup(&vd->arena, r->ext.app_info.p, r->ext.app_info.len);

			if (!copy)
				return arena_fail(r, &vd->arena);
			e = ratls_app_info_decode(copy, r->ext.app_info.len, &vd->app_info, &d);
			if (e != ERR_OK)
				return reject(r, ERR_RATLS_EVIDENCE_FORMAT, RATLS_STEP_EVIDENCE,
					      d ? d : "the APP_INFO extension does not decode");
			vd->has_app_info = 1;
		}
	}
	return verify_evidence(r);
}

static err_t cert_window(struct run *r, uint64_t *not_after)
{
	uint64_t nb = 0, na = 0;

	if (!dcap_asn1_time_unix(X509_get0_notBefore(r->leaf), &nb) ||
	    !dcap_asn1_time_unix(X509_get0_notAfter(r->leaf), &na))
		return reject(r, ERR_RATLS_CERT_EXPIRED, RATLS_STEP_CERT, "the certificate's validity does not parse");
	if (r->now < nb)
		return reject(r, ERR_RATLS_CERT_EXPIRED, RATLS_STEP_CERT, "the certificate is not yet valid");
	if (r->now > na)
		return reject(r, ERR_RATLS_CERT_EXPIRED, RATLS_STEP_CERT, "the certificate has expired");
	*not_after = na;
	return ERR_OK;
}

static struct ratls_verdict *verdict_new(void)
{
	struct ratls_verdict *vd = calloc(1, sizeof(*vd));

	if (!vd)
		return NULL;
	vd->refs = 1;
	vd->magic = VERDICT_MAGIC;
	arena_init(&vd->arena, VERDICT_BUDGET, 4096);
	return vd;
}

static void tally(struct ratls_verifier *v, err_t e, const struct ratls_failure *why)
{
	if (e == ERR_OK) {
		v->stats.accepted++;
	} else {
		v->stats.rejected++;
		v->stats.last_err = e;
		v->stats.last_step = why ? why->step : RATLS_STEP_NONE;
	}
}

err_t ratls_verify_cert(struct ratls_verifier *v, X509 *leaf, uint64_t now, const struct ratls_verdict **out,
			struct ratls_failure *why)
{
	struct run r;
	uint8_t key[32];
	unsigned int klen = 0;
	uint64_t not_after = 0;
	const struct ratls_verdict *hit;
	err_t e;

	*out = NULL;
	if (why)
		memset(why, 0, sizeof(*why));
	if (!v || !leaf)
		return ERR_INVALID_ARG;
	memset(&r, 0, sizeof(r));
	r.v = v;
	r.leaf = leaf;
	r.now = now;
	r.why = why;
	v->stats.verifications++;
	if ((e = cert_window(&r, &not_after)) != ERR_OK)
		goto done;
	if (X509_digest(leaf, EVP_sha256(), key, &klen) != 1 || klen != sizeof(key)) {
		e = reject(&r, ERR_CRYPTO, RATLS_STEP_CERT, "cannot hash the certificate");
		goto done;
	}
	if ((hit = cache_get(v, key, now)) != NULL) {
		v->stats.cache_hits++;
		ratls_verdict_ref(hit);
		*out = hit;
		e = ERR_OK;
		goto done;
	}
	v->stats.cache_misses++;
	if (!(r.vd = verdict_new())) {
		e = reject(&r, ERR_NOMEM, RATLS_STEP_EVIDENCE, NULL);
		goto done;
	}
	memcpy(r.vd->cert_sha256, key, 32);
	r.vd->not_after = not_after;
	arena_init(&r.scratch, SCRATCH_BUDGET, 64u << 10);
	e = verify_fresh(&r);
	arena_fini(&r.scratch);
	if (e == ERR_OK) {
		cache_put(v, key, r.vd, now);
		*out = r.vd;
	} else {
		ratls_verdict_unref(r.vd);
	}
done:
	tally(v, e, why);
	return e;
}

err_t ratls_verify_der(struct ratls_verifier *v, const uint8_t *der, size_t len, uint64_t now,
		       const struct ratls_verdict **out, struct ratls_failure *why)
{
	const unsigned char *p = der;
	X509 *x;
	err_t e;

	*out = NULL;
	if (why)
		memset(why, 0, sizeof(*why));
	if (!der || !len || len > RATLS_ATTESTATION_MAX + 64u * 1024 || len > (size_t)LONG_MAX)
		return ERR_INVALID_ARG;
	x = d2i_X509(NULL, &p, (long)len);
	if (!x || p != der + len) {
		X509_free(x);
		ERR_clear_error();
		if (why) {
			why->err = ERR_RATLS_EVIDENCE_FORMAT;
			why->step = RATLS_STEP_CERT;
			snprintf(why->detail, sizeof(why->detail), "not one DER certificate");
		}
		return ERR_RATLS_EVIDENCE_FORMAT;
	}
	e = ratls_verify_cert(v, x, now, out, why);
	X509_free(x);
	return e;
}

/* The key evidence binds: a SubjectPublicKeyInfo is far smaller than this. */
#define SPKI_MAX (64u * 1024)

err_t ratls_verify_evidence(struct ratls_verifier *v, const struct ratls_attestation *att, const uint8_t *spki,
			    size_t spki_len, uint64_t now, const struct ratls_verdict **out, struct ratls_failure *why)
{
	struct ratls_failure local;
	struct run r;
	err_t e;

	*out = NULL;
	if (!why)
		why = &local;
	memset(why, 0, sizeof(*why));
	if (!v || !att || !spki || !spki_len || spki_len > SPKI_MAX)
		return ERR_INVALID_ARG;
	memset(&r, 0, sizeof(r));
	r.v = v;
	r.spki = spki;
	r.spki_len = spki_len;
	r.now = now;
	r.why = why;
	r.att = *att;   /* a shallow copy: the pointers stay the caller's for the call */
	v->stats.verifications++;
	if (!(r.vd = verdict_new())) {
		e = reject(&r, ERR_NOMEM, RATLS_STEP_EVIDENCE, NULL);
	} else {
		arena_init(&r.scratch, SCRATCH_BUDGET, 64u << 10);
		e = verify_evidence(&r);
		arena_fini(&r.scratch);
		if (e == ERR_OK)
			*out = r.vd;
		else
			ratls_verdict_unref(r.vd);
	}
	tally(v, e, why);
	return e;
}

err_t ratls_verify_attestation(struct ratls_verifier *v, const uint8_t *att, size_t att_len, const uint8_t *spki,
			       size_t spki_len, uint64_t now, const struct ratls_verdict **out, struct ratls_failure *why)
{
	struct ratls_attestation a;
	struct ratls_failure local;
	struct arena mem;
	const char *d = NULL;
	err_t e;

	*out = NULL;
	if (!why)
		why = &local;
	memset(why, 0, sizeof(*why));
	if (!v || !att || !att_len)
		return ERR_INVALID_ARG;
	arena_init(&mem, SCRATCH_BUDGET, 64u << 10);
	e = ratls_attestation_decode(att, att_len, &mem, &a, &d);
	if (e != ERR_OK) {
		/* As ratls_cert_evidence maps them: a malformed attestation is evidence that does not parse. */
		if (e != ERR_BUDGET && e != ERR_NOMEM && e != ERR_RATLS_UNSUPPORTED)
			e = ERR_RATLS_EVIDENCE_FORMAT;
		why->err = e;
		why->step = RATLS_STEP_EVIDENCE;
		snprintf(why->detail, sizeof(why->detail), "%s", d ? d : err_str(e));
		v->stats.verifications++;
		tally(v, e, why);
	} else {
		e = ratls_verify_evidence(v, &a, spki, spki_len, now, out, why);
	}
	arena_fini(&mem);
	return e;
}

/* ---- TLS adapter ---- */

static err_t tls_hook(void *arg, X509 *leaf, STACK_OF(X509) *chain, struct tls_peer *peer)
{
	struct ratls_verifier *v = arg;
	const struct ratls_verifier_config *cfg = &v->cfg;
	const struct ratls_verdict *vd = NULL;
	struct ratls_failure why;
	uint64_t now = cfg->clock ? cfg->clock(cfg->clock_arg) : wall_s();
	err_t e;

	(void)chain;
	if (!leaf)
		return ERR_AUTH_PEER_REQUIRED;
	e = ratls_verify_cert(v, leaf, now, &vd, &why);
	if (e == ERR_RATLS_NO_EVIDENCE && cfg->mode == RATLS_OPTIONAL) {
		if (peer->chain_ok)
			return ERR_OK;   /* a plain certificate: a PEER, not ATTESTED */
		v->stats.last_err = ERR_AUTH_PEER_REJECTED;
		log_warn(LOG_PREFIX, "peer %s rejected: no attestation and the chain does not verify", peer->subject);
		return ERR_AUTH_PEER_REJECTED;
	}
	if (e != ERR_OK) {
		log_warn(LOG_PREFIX, "peer %s rejected at the %s step: %s (%s)", peer->subject, ratls_step_name(why.step),
			 err_name(e), why.detail);
		return e;
	}
	if (cfg->require_chain && !peer->chain_ok) {
		ratls_verdict_unref(vd);
		v->stats.last_err = ERR_AUTH_PEER_REJECTED;
		log_warn(LOG_PREFIX, "peer %s rejected: attested, but the chain does not verify", peer->subject);
		return ERR_AUTH_PEER_REJECTED;
	}
	if (peer->data) {
		/* Another handshake callback on the same connection: keep one reference only. */
		ratls_verdict_unref(peer->data);
	}
	peer->attested = 1;
	peer->data = UNCONST(vd);
	return ERR_OK;
}

static void tls_free_data(void *arg, void *data)
{
	(void)arg;
	ratls_verdict_unref(data);
}

void ratls_tls_verifier(struct ratls_verifier *v, struct tls_verifier *out)
{
	memset(out, 0, sizeof(*out));
	out->verify = tls_hook;
	out->free_data = tls_free_data;
	out->arg = v;
}

const struct ratls_verdict *ratls_peer_verdict(const struct tls_peer *peer)
{
	const struct ratls_verdict *vd;

	if (!peer || !peer->attested || !peer->data)
		return NULL;
	vd = peer->data;
	return vd->magic == VERDICT_MAGIC ? vd : NULL;
}

/* ---- collateral store ---- */

#define STORE_MAX 64

struct store_entry {
	uint8_t fmspc[6];
	int ca_platform;
	struct dcap_vcoll *vc;
};

struct ratls_coll_store {
	struct store_entry e[STORE_MAX];
	size_t n;
};

struct ratls_coll_store *ratls_coll_store_new(void)
{
	return calloc(1, sizeof(struct ratls_coll_store));
}

void ratls_coll_store_free(struct ratls_coll_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		dcap_vcoll_free(s->e[i].vc);
	free(s);
}

err_t ratls_coll_store_put(struct ratls_coll_store *s, const char *json, size_t len, const struct attest_trust *t,
			   const char **detail)
{
	struct dcap_collateral dc;
	struct arena a;
	err_t e;

	if (!s || !json || !t)
		return ERR_INVALID_ARG;
	arena_init(&a, 8u << 20, 64u << 10);
	e = dcap_collateral_parse_json(json, len, &a, &dc, detail);
	if (e == ERR_OK)
		e = ratls_coll_store_put_parsed(s, &dc, t, detail);
	arena_fini(&a);
	return e;
}

err_t ratls_coll_store_put_parsed(struct ratls_coll_store *s, const struct dcap_collateral *dc,
				  const struct attest_trust *t, const char **detail)
{
	struct dcap_vcoll *vc = NULL;
	size_t i;
	err_t e;

	if (!s || !dc || !t)
		return ERR_INVALID_ARG;
	if ((e = dcap_vcoll_new(dc, t, &vc, detail)) != ERR_OK)
		return e;
	for (i = 0; i < s->n; i++)
		if (memcmp(s->e[i].fmspc, vc->tcb.fmspc, 6) == 0 && s->e[i].ca_platform == vc->pck_ca_platform)
			break;
	if (i == s->n) {
		if (s->n == STORE_MAX) {
			dcap_vcoll_free(vc);
			return ERR_OVERLOADED;
		}
		s->n++;
	} else {
		dcap_vcoll_free(s->e[i].vc);
	}
	memcpy(s->e[i].fmspc, vc->tcb.fmspc, 6);
	s->e[i].ca_platform = vc->pck_ca_platform;
	s->e[i].vc = vc;
	return ERR_OK;
}

err_t ratls_coll_store_get(void *store, const uint8_t fmspc[6], int ca_platform, const struct dcap_vcoll **out)
{
	struct ratls_coll_store *s = store;

	*out = NULL;
	for (size_t i = 0; s && i < s->n; i++)
		if (memcmp(s->e[i].fmspc, fmspc, 6) == 0 && s->e[i].ca_platform == ca_platform) {
			*out = s->e[i].vc;
			return ERR_OK;
		}
	return ERR_UNAVAILABLE;
}
