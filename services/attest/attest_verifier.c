/* SPDX-License-Identifier: Apache-2.0 */
/* The caching verifier: collateral resolution (request or cache, async on a miss), verified-collateral and verdict caches, metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest_verify.h"
#include "crypto.h"
#include "log.h"
#include "pbcodec.h"

typedef Dstack__Attest__V1__VerifyRequest pb_verify_req;
typedef Dstack__Common__V1__Verdict pb_verdict;

#define LOG_PFX "attest-verify"
#define DEFAULT_VCOLL 32u
#define DEFAULT_PLATFORM_SLOTS 1024u
#define EXPLICIT_TIME_TTL 3600u       /* verdicts at a caller-given time are deterministic; keep them an hour */
#define VERDICT_MAX_PACKED (64u << 10)      /* larger verdicts (many runtime events) are not cached */
#define VERDICT_MAX_BYTES ((size_t)64 << 20) /* all cached verdicts together */
#define DETAIL_MAX 200u

enum { RES_ACCEPTED = 0, RES_REJECTED, RES_ERROR, RES_COUNT };
static const char *const res_names[RES_COUNT] = { "accepted", "rejected", "error" };
static const char *const tee_names[4] = { "unknown", "sgx", "tdx", "sev_snp" };

/* Verified DCAP collateral, by content. */
struct vcoll_entry {
	int used;
	uint8_t id[32];                          /* SHA-256 of the collateral as given (JSON or proto) */
	struct attest_coll_blob *blobs[4];       /* the cache blobs it was built from (refs), or NULLs */
	struct dcap_vcoll *vc;                   /* NULL when the collateral did not verify */
	err_t err;
	char detail[DETAIL_MAX];
	uint64_t last_used;
};

struct verdict_entry {
	uint8_t key[32];
	uint8_t *packed;
	size_t len;
	uint64_t expires_at;                     /* collateral clock, unix s */
	struct verdict_entry *hnext;
	struct verdict_entry *prev, *next;       /* LRU: head = most recent */
};

struct attest_verifier {
	struct attest_verifier_config cfg;
	struct dcap_cache *platforms;
	struct vcoll_entry *vcolls;
	size_t nvcoll;
	uint64_t tick;
	int closing;
	/* verdict cache */
	struct verdict_entry **buckets;
	size_t nbuckets, count, bytes;
	struct verdict_entry lru;
	uint64_t hits, misses;
	struct metric *m_hits, *m_misses, *m_verify[RES_COUNT][4];
};

/* ---------------------------------------------------------------------------------------------- */
/* Lifecycle                                                                                       */

struct attest_verifier *attest_verifier_new(const struct attest_verifier_config *cfg)
{
	struct attest_verifier *vf = calloc(1, sizeof(*vf));
	char labels[64];

	if (!vf)
		return NULL;
	vf->cfg = *cfg;
	vf->nvcoll = cfg->vcoll_cache_entries ? cfg->vcoll_cache_entries : DEFAULT_VCOLL;
	vf->vcolls = calloc(vf->nvcoll, sizeof(*vf->vcolls));
	vf->platforms = dcap_cache_new(cfg->platform_cache_slots ? cfg->platform_cache_slots : DEFAULT_PLATFORM_SLOTS);
	vf->lru.next = vf->lru.prev = &vf->lru;
	if (cfg->verdict_cache_entries) {
		vf->nbuckets = 1;
		while (vf->nbuckets < cfg->verdict_cache_entries)
			vf->nbuckets <<= 1;
		vf->buckets = calloc(vf->nbuckets, sizeof(*vf->buckets));
	}
	if (!vf->vcolls || !vf->platforms || (cfg->verdict_cache_entries && !vf->buckets)) {
		attest_verifier_free(vf);
		return NULL;
	}
	if (cfg->metrics) {
		vf->m_hits = metrics_series(cfg->metrics, METRIC_COUNTER, "attest_verdict_cache_hits_total",
					    "Verify answers served from the verdict cache.", NULL);
		vf->m_misses = metrics_series(cfg->metrics, METRIC_COUNTER, "attest_verdict_cache_misses_total",
					      "Verifications that were not in the verdict cache (or bypassed it).", NULL);
		for (unsigned r = 0; r < RES_COUNT; r++)
			for (unsigned t = 0; t < 4; t++) {
				snprintf(labels, sizeof(labels), "result=\"%s\",tee=\"%s\"", res_names[r], tee_names[t]);
				vf->m_verify[r][t] = metrics_series(cfg->metrics, METRIC_COUNTER, "attest_verify_total",
								    "Verifications by outcome (accepted, rejected, "
								    "error = no verdict) and TEE type.",
								    labels);
			}
	}
	return vf;
}

static void vcoll_clear(struct vcoll_entry *e)
{
	for (int i = 0; i < 4; i++)
		attest_coll_blob_unref(e->blobs[i]);
	dcap_vcoll_free(e->vc);
	memset(e, 0, sizeof(*e));
}

void attest_verifier_close(struct attest_verifier *vf)
{
	if (vf)
		vf->closing = 1;
}

void attest_verifier_free(struct attest_verifier *vf)
{
	if (!vf)
		return;
	for (size_t i = 0; vf->vcolls && i < vf->nvcoll; i++)
		vcoll_clear(&vf->vcolls[i]);
	free(vf->vcolls);
	dcap_cache_free(vf->platforms);
	while (vf->lru.next != &vf->lru) {
		struct verdict_entry *e = vf->lru.next;

		vf->lru.next = e->next;
		free(e->packed);
		free(e);
	}
	free(vf->buckets);
	free(vf);
}

void attest_verifier_stats(const struct attest_verifier *vf, struct attest_verifier_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->verdict_hits = vf->hits;
	out->verdict_misses = vf->misses;
	out->verdict_entries = vf->count;
	out->verdict_capacity = vf->cfg.verdict_cache_entries;
	for (size_t i = 0; i < vf->nvcoll; i++)
		out->vcoll_entries += vf->vcolls[i].used;
}

/* ---------------------------------------------------------------------------------------------- */
/* Verified collateral                                                                              */

static struct vcoll_entry *vcoll_by_id(struct attest_verifier *vf, const uint8_t id[32])
{
	for (size_t i = 0; i < vf->nvcoll; i++)
		if (vf->vcolls[i].used && memcmp(vf->vcolls[i].id, id, 32) == 0)
			return &vf->vcolls[i];
	return NULL;
}

static struct vcoll_entry *vcoll_by_blobs(struct attest_verifier *vf, struct attest_coll_blob *const blobs[4])
{
	for (size_t i = 0; i < vf->nvcoll; i++) {
		struct vcoll_entry *e = &vf->vcolls[i];

		if (e->used && e->blobs[0] && memcmp(e->blobs, blobs, sizeof(e->blobs)) == 0)
			return e;
	}
	return NULL;
}

/* A free slot, else the expired or least recently used one. */
static struct vcoll_entry *vcoll_slot(struct attest_verifier *vf, uint64_t clock_now)
{
	struct vcoll_entry *victim = NULL;

	for (size_t i = 0; i < vf->nvcoll; i++) {
		struct vcoll_entry *e = &vf->vcolls[i];

		if (!e->used)
			return e;
		if (e->vc && e->vc->expires_at < clock_now) {
			victim = e;
			break;
		}
		if (!victim || e->last_used < victim->last_used)
			victim = e;
	}
	vcoll_clear(victim);
	return victim;
}

static void vcoll_set_blobs(struct vcoll_entry *e, struct attest_coll_blob *const blobs[4])
{
	for (int i = 0; i < 4; i++) {
		attest_coll_blob_unref(e->blobs[i]);
		e->blobs[i] = blobs ? attest_coll_blob_ref(blobs[i]) : NULL;
	}
}

/*
 * Build (or find) the verified collateral for `c`, whose content hash is
 * `id`; `pre` (may be NULL) is what of it is already parsed.
 */
static struct vcoll_entry *vcoll_get(struct attest_verifier *vf, const uint8_t id[32], const struct dcap_collateral *c,
				     const struct dcap_preparsed *pre, uint64_t clock_now)
{
	struct vcoll_entry *e = vcoll_by_id(vf, id);
	const char *detail = NULL;

	if (e)
		goto out;
	e = vcoll_slot(vf, clock_now);
	e->used = 1;
	memcpy(e->id, id, 32);
	e->err = dcap_vcoll_new_pre(c, vf->cfg.trust, pre, &e->vc, &detail);
	if (e->err != ERR_OK) {
		e->vc = NULL;
		snprintf(e->detail, sizeof(e->detail), "%s", detail ? detail : err_str(e->err));
		log_info(LOG_PFX, "collateral did not verify: %s (%s)", err_name(e->err), e->detail);
	}
out:
	e->last_used = ++vf->tick;
	return e;
}

/* The blobs' chain certificates, each once (the cache shares them between chains), at most DCAP_KNOWN_MAX. */
static size_t blob_certs(struct attest_coll_blob *const blobs[4], X509 *known[DCAP_KNOWN_MAX])
{
	size_t n = 0;

	for (int i = 0; i < 4; i++)
		for (size_t k = 0; k < blobs[i]->ncerts; k++) {
			size_t d = 0;

			while (d < n && known[d] != blobs[i]->certs[k])
				d++;
			if (d == n && n < DCAP_KNOWN_MAX)
				known[n++] = blobs[i]->certs[k];
		}
	return n;
}

/*
 * From the four cache blobs (TCB info, QE identity, PCK CRL, Root CA CRL):
 * the collateral as views into the blobs, and the issuer chains' certificates
 * and the CRLs as the cache parsed them when it checked the blobs, so none of
 * it is parsed again.
 */
static struct vcoll_entry *vcoll_from_blobs(struct attest_verifier *vf, struct attest_coll_blob *const blobs[4],
					    uint64_t clock_now, err_t *err, const char **detail)
{
	struct vcoll_entry *e = vcoll_by_blobs(vf, blobs);
	struct dcap_collateral c;
	X509 *known[DCAP_KNOWN_MAX];
	struct dcap_preparsed pre = { known, 0, NULL, NULL };
	uint8_t id[32];

	if (e) {
		e->last_used = ++vf->tick;
		return e;
	}
	if ((*err = av_intel_collateral_from_blobs((const struct attest_coll_blob *const *)blobs, &c, id)) != ERR_OK) {
		*detail = "cannot assemble the cached collateral";
		return NULL;
	}
	e = vcoll_by_id(vf, id);
	if (e) {
		e->last_used = ++vf->tick;
	} else {
		pre.n_certs = blob_certs(blobs, known);
		pre.root_ca_crl = blobs[3]->crl;
		pre.pck_crl = blobs[2]->crl;
		e = vcoll_get(vf, id, &c, &pre, clock_now);
	}
	vcoll_set_blobs(e, blobs);
	return e;
}

/* ---------------------------------------------------------------------------------------------- */
/* Verdict cache                                                                                   */

static struct verdict_entry **vbucket(struct attest_verifier *vf, const uint8_t key[32])
{
	size_t h = (size_t)key[0] | (size_t)key[1] << 8 | (size_t)key[2] << 16 | (size_t)key[3] << 24;

	return &vf->buckets[h & (vf->nbuckets - 1)];
}

static void lru_unlink(struct verdict_entry *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static void lru_push(struct attest_verifier *vf, struct verdict_entry *e)
{
	e->next = vf->lru.next;
	e->prev = &vf->lru;
	vf->lru.next->prev = e;
	vf->lru.next = e;
}

static void ventry_drop(struct attest_verifier *vf, struct verdict_entry *e)
{
	struct verdict_entry **pp = vbucket(vf, e->key);

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	lru_unlink(e);
	vf->bytes -= e->len;
	free(e->packed);
	free(e);
	vf->count--;
}

static struct verdict_entry *vcache_find(struct attest_verifier *vf, const uint8_t key[32], uint64_t clock_now)
{
	struct verdict_entry *e;

	if (!vf->buckets)
		return NULL;
	for (e = *vbucket(vf, key); e; e = e->hnext)
		if (memcmp(e->key, key, 32) == 0)
			break;
	if (!e)
		return NULL;
	if (clock_now >= e->expires_at) {
		ventry_drop(vf, e);
		return NULL;
	}
	lru_unlink(e);
	lru_push(vf, e);
	return e;
}

static void vcache_put(struct attest_verifier *vf, const uint8_t key[32], const pb_verdict *v, uint64_t expires_at)
{
	struct verdict_entry *e, **pp;
	size_t len;

	if (!vf->buckets)
		return;
	len = protobuf_c_message_get_packed_size(&v->base);
	if (len > VERDICT_MAX_PACKED)
		return;
	for (e = *vbucket(vf, key); e; e = e->hnext)
		if (memcmp(e->key, key, 32) == 0) {
			ventry_drop(vf, e);
			break;
		}
	while ((vf->count >= vf->cfg.verdict_cache_entries || vf->bytes + len > VERDICT_MAX_BYTES) &&
	       vf->lru.prev != &vf->lru)
		ventry_drop(vf, vf->lru.prev);
	e = calloc(1, sizeof(*e));
	if (!e || !(e->packed = malloc(len ? len : 1))) {
		free(e);
		return;
	}
	e->len = protobuf_c_message_pack(&v->base, e->packed);
	vf->bytes += e->len;
	memcpy(e->key, key, 32);
	e->expires_at = expires_at;
	pp = vbucket(vf, key);
	e->hnext = *pp;
	*pp = e;
	lru_push(vf, e);
	vf->count++;
}

/* ---------------------------------------------------------------------------------------------- */
/* One verification                                                                                */

struct av_job {
	struct attest_verifier *vf;
	const pb_verify_req *req;
	struct arena *a;
	attest_verify_cb cb;
	void *arg;
	uint64_t now, clock_now;
	struct av_evidence ev;
	struct av_locator loc;
	struct av_policy pol;
	uint8_t ev_hash[32], pol_hash[32];
	/* request-supplied collateral */
	struct dcap_collateral req_intel;
	int has_req_intel;
	struct av_amd req_amd;
	int has_req_amd;
	uint8_t req_coll_id[32];
	/* warnings to pass on (static text) */
	const char *warnings[4];
	size_t n_warnings;
};

static int setb_hash(struct arena *a, pb_verdict *v, const uint8_t h[32])
{
	v->evidence_sha256.data = arena_memdup(a, h, 32);
	v->evidence_sha256.len = v->evidence_sha256.data ? 32 : 0;
	return v->evidence_sha256.data != NULL;
}

static void count(struct attest_verifier *vf, int res, enum attest_tee tee)
{
	metric_add(vf->m_verify[res][(unsigned)tee < 4 ? (unsigned)tee : 0], 1);
}

static void job_warn(struct av_job *j, const char *w)
{
	if (j->n_warnings < ARRAY_LEN(j->warnings))
		j->warnings[j->n_warnings++] = w;
}

/* The verdict cache key: evidence, policy, collateral identity, evaluation time, options. */
static void verdict_key(const struct av_job *j, const uint8_t coll_id[32], uint8_t out[32])
{
	static const char tag[] = "dstack-attest verdict v1";
	uint8_t t[8], inc = (uint8_t)(j->req->include_runtime_events ? 1 : 0), has_pol = j->req->policy != NULL;
	const void *parts[7] = { tag, j->ev_hash, &has_pol, j->pol_hash, coll_id, t, &inc };
	const size_t lens[7] = { sizeof(tag), 32, 1, 32, 32, 8, 1 };

	for (int i = 0; i < 8; i++)
		t[i] = (uint8_t)(j->req->evaluate_at_unix >> (8 * i));
	sha256_parts(parts, lens, 7, out);
}

/*
 * Verify with resolved collateral (vc for Intel, amd for SEV-SNP, or
 * coll_err) and answer from / into the verdict cache. coll_id NULL = no
 * collateral identity (nothing cached).
 */
static err_t finish_verify(struct av_job *j, const struct dcap_vcoll *vc, const struct av_amd *amd, err_t coll_err,
			   const char *coll_detail, const uint8_t *coll_id, pb_verdict **out)
{
	struct attest_verifier *vf = j->vf;
	struct av_inputs in;
	uint8_t key[32];
	pb_verdict *v = NULL;
	err_t err;

	if (coll_id) {
		verdict_key(j, coll_id, key);
		if (!j->req->bypass_cache) {
			struct verdict_entry *e = vcache_find(vf, key, j->clock_now);

			if (e) {
				ProtobufCAllocator alloc;

				pb_arena_allocator(&alloc, j->a);
				v = (pb_verdict *)protobuf_c_message_unpack(&dstack__common__v1__verdict__descriptor, &alloc,
									     e->len, e->packed);
				if (v) {
					v->cached = 1;
					vf->hits++;
					metric_add(vf->m_hits, 1);
					count(vf, v->ok ? RES_ACCEPTED : RES_REJECTED, j->loc.tee);
					*out = v;
					return ERR_OK;
				}
			}
		}
		if (vf->buckets) {
			vf->misses++;
			metric_add(vf->m_misses, 1);
		}
	}
	memset(&in, 0, sizeof(in));
	in.trust = vf->cfg.trust;
	in.now = j->now;
	in.vc = vc;
	in.amd = amd;
	in.coll_err = coll_err;
	in.coll_detail = coll_detail;
	in.cache = vf->platforms;
	in.include_runtime_events = j->req->include_runtime_events;
	for (size_t i = 0; i < j->n_warnings; i++)
		in.warnings[in.n_warnings++] = j->warnings[i];
	err = av_verify(&j->ev, &j->loc, &j->pol, &in, j->a, &v);
	if (err != ERR_OK)
		return err;
	if (!setb_hash(j->a, v, j->ev_hash))
		return arena_err(j->a);
	count(vf, v->ok ? RES_ACCEPTED : RES_REJECTED, j->loc.tee);
	if (coll_id) {
		uint64_t exp = 0;

		if (j->req->evaluate_at_unix) {
			exp = j->clock_now + EXPLICIT_TIME_TTL;
		} else if (v->ok && v->collateral_expires_at_unix) {
			exp = v->collateral_expires_at_unix;
			if (j->pol.lib.max_collateral_age_s && v->collateral_issued_at_unix)
				exp = MIN(exp, v->collateral_issued_at_unix + j->pol.lib.max_collateral_age_s);
		}
		if (exp > j->clock_now)
			vcache_put(vf, key, v, exp);
	}
	*out = v;
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Collateral resolution                                                                           */

static err_t intel_with_blobs(struct av_job *j, struct attest_coll_blob *const blobs[4], pb_verdict **out)
{
	const char *detail = NULL;
	err_t err = ERR_OK;
	struct vcoll_entry *e = vcoll_from_blobs(j->vf, blobs, j->clock_now, &err, &detail);

	if (!e)
		return err == ERR_BUDGET || err == ERR_NOMEM
			       ? err
			       : finish_verify(j, NULL, NULL, ERR_ATTEST_COLLATERAL_MISSING,
					       detail ? detail : "cached collateral does not parse", NULL, out);
	return finish_verify(j, e->vc, NULL, e->err, e->detail, e->id, out);
}

static err_t amd_with_blobs(struct av_job *j, struct attest_coll_blob *const blobs[3], pb_verdict **out)
{
	struct av_amd amd;
	uint8_t id[32];
	const void *parts[3];
	size_t lens[3];

	memset(&amd, 0, sizeof(amd));
	if (!blobs[0]->der || !blobs[1]->body)
		return finish_verify(j, NULL, NULL, ERR_ATTEST_COLLATERAL_MISSING, "cached AMD collateral is incomplete",
				     NULL, out);
	amd.vcek = blobs[0]->der;
	amd.vcek_len = blobs[0]->der_len;
	amd.chain_pem = (const char *)blobs[1]->body;
	amd.chain_len = blobs[1]->body_len;
	if (blobs[2] && blobs[2]->der) {
		amd.crl = blobs[2]->der;
		amd.crl_len = blobs[2]->der_len;
	} else {
		job_warn(j, "AMD KDS CRL unavailable: ASK revocation was not checked");
	}
	parts[0] = amd.vcek;
	lens[0] = amd.vcek_len;
	parts[1] = amd.chain_pem;
	lens[1] = amd.chain_len;
	parts[2] = amd.crl ? (const void *)amd.crl : "";
	lens[2] = amd.crl_len;
	sha256_parts(parts, lens, 3, id);
	return finish_verify(j, NULL, &amd, ERR_OK, NULL, id, out);
}

static void on_collateral(void *arg, const struct attest_coll_multi *m)
{
	struct av_job *j = arg;
	struct attest_verifier *vf = j->vf;
	pb_verdict *v = NULL;
	const char *detail = NULL;
	err_t err;

	if (vf->closing || m->err == ERR_CANCELLED) {
		/* The request and its arena may be gone: answer without touching them. */
		j->cb(j->arg, ERR_CANCELLED, "verifier shutting down", NULL);
		free(j);
		return;
	}
	if (m->err == ERR_ATTEST_COLLATERAL_MISSING || m->err == ERR_NOT_FOUND || m->upstream_status == 404) {
		err = finish_verify(j, NULL, NULL, ERR_ATTEST_COLLATERAL_MISSING,
				    m->detail ? m->detail : "no collateral for this platform", NULL, &v);
	} else if (m->err != ERR_OK) {
		count(vf, RES_ERROR, j->loc.tee);
		log_info(LOG_PFX, "collateral unavailable: %s (%s)", err_name(m->err), m->detail ? m->detail : "-");
		j->cb(j->arg, ERR_UNAVAILABLE, m->detail ? m->detail : "collateral upstream unavailable", NULL);
		free(j);
		return;
	} else {
		if (m->stale)
			job_warn(j, "collateral served stale: past its nextUpdate (upstream failing, or offline)");
		err = j->loc.tee == ATTEST_TEE_SEV_SNP ? amd_with_blobs(j, m->blobs, &v) : intel_with_blobs(j, m->blobs, &v);
	}
	if (err != ERR_OK) {
		count(vf, RES_ERROR, j->loc.tee);
		detail = "out of memory building the verdict";
		v = NULL;
	}
	j->cb(j->arg, err, detail, v);
	free(j);
}

/* Every key in memory now (borrowed blobs in out[]), or 0. Optional keys may be missing. */
static int peek_all(struct attest_collateral *c, const struct attest_coll_key *keys, size_t n, unsigned optional,
		    struct attest_coll_blob *out[4], int *stale)
{
	*stale = 0;
	for (size_t i = 0; i < n; i++) {
		struct attest_coll_result r;

		out[i] = NULL;
		if (attest_collateral_peek(c, &keys[i], &r) != ERR_OK || r.err != ERR_OK || !r.blob) {
			if (optional & (1u << i))
				continue;
			return 0;
		}
		out[i] = r.blob;
		*stale |= r.stale;
	}
	return 1;
}

static int fetch(struct av_job *j, const struct attest_coll_key *keys, size_t n, unsigned optional, pb_verdict **out,
		 const char **detail)
{
	struct attest_coll_blob *blobs[4] = { NULL, NULL, NULL, NULL };
	int stale = 0;
	err_t err;

	if (peek_all(j->vf->cfg.coll, keys, n, optional, blobs, &stale)) {
		if (stale)
			job_warn(j, "collateral served stale: past its nextUpdate (upstream failing, or offline)");
		return n == 3 ? amd_with_blobs(j, blobs, out) : intel_with_blobs(j, blobs, out);
	}
	err = attest_collateral_get_many(j->vf->cfg.coll, keys, n, optional, on_collateral, j);
	if (err != ERR_OK) {
		*detail = "cannot start a collateral fetch";
		return err == ERR_OVERLOADED ? ERR_OVERLOADED : ERR_UNAVAILABLE;
	}
	return AV_PENDING;
}

static int resolve_snp(struct av_job *j, pb_verdict **out, const char **detail)
{
	struct attest_coll_key keys[3];
	const struct attest_snp_report *r = &j->loc.snp;
	const char *prod;
	uint8_t zero[32] = { 0 };
	err_t err;

	if (j->has_req_amd)
		return finish_verify(j, NULL, &j->req_amd, ERR_OK, NULL, j->req_coll_id, out);
	if (j->ev.n_certs) {
		struct av_amd amd;

		if ((err = av_amd_from_certs(j->ev.certs, j->ev.n_certs, j->a, &amd, detail)) != ERR_OK)
			return err;
		/* The certificates are part of the evidence hash already. */
		return finish_verify(j, NULL, &amd, ERR_OK, NULL, zero, out);
	}
	if (!j->vf->cfg.coll)
		return finish_verify(j, NULL, NULL, ERR_ATTEST_COLLATERAL_MISSING,
				     "no VCEK: give evidence.cert_chain or collateral.amd", NULL, out);
	if (r->signing_key == SNP_SIGNING_KEY_VLEK)
		return finish_verify(j, NULL, NULL, ERR_ATTEST_COLLATERAL_MISSING,
				     "VLEK-signed report: AMD KDS does not serve VLEKs; give evidence.cert_chain", NULL, out);
	if (j->loc.product == SNP_PRODUCT_UNKNOWN)
		return finish_verify(j, NULL, NULL, ERR_ATTEST_COLLATERAL_MISSING,
				     "report names no product line (v2, no CPUID): give evidence.cert_chain", NULL, out);
	prod = snp_product_name(j->loc.product);
	memset(keys, 0, sizeof(keys));
	keys[0].kind = ATTEST_COLL_AMD_VCEK;
	keys[0].hwid_len = j->loc.product == SNP_PRODUCT_TURIN ? SNP_TURIN_HWID_SIZE : SNP_CHIP_ID_SIZE;
	memcpy(keys[0].hwid, r->chip_id, keys[0].hwid_len);
	keys[0].reported_tcb = r->reported_tcb;
	keys[1].kind = ATTEST_COLL_AMD_CERT_CHAIN;
	keys[2].kind = ATTEST_COLL_AMD_CRL;
	for (int i = 0; i < 3; i++)
		snprintf(keys[i].product, sizeof(keys[i].product), "%s", prod);
	return fetch(j, keys, 3, 1u << 2, out, detail);
}

static int resolve_intel(struct av_job *j, pb_verdict **out, const char **detail)
{
	struct attest_coll_key keys[4];

	if (j->has_req_intel) {
		struct vcoll_entry *e = vcoll_get(j->vf, j->req_coll_id, &j->req_intel, NULL, j->clock_now);

		return finish_verify(j, e->vc, NULL, e->err, e->detail, e->id, out);
	}
	if (!j->vf->cfg.coll)
		return finish_verify(j, NULL, NULL, ERR_ATTEST_COLLATERAL_MISSING,
				     "no collateral: give collateral.intel (or configure the collateral cache)", NULL, out);
	if (!j->loc.has_fmspc)
		return finish_verify(j, NULL, NULL, j->loc.pck_err ? j->loc.pck_err : ERR_ATTEST_CERT_DATA,
				     j->loc.pck_detail ? j->loc.pck_detail : "no PCK certificate to find collateral by",
				     NULL, out);
	attest_coll_dcap_keys(j->loc.tee == ATTEST_TEE_TDX ? ATTEST_COLL_TEE_TDX : ATTEST_COLL_TEE_SGX, j->loc.fmspc,
			      j->loc.ca_platform ? ATTEST_COLL_CA_PLATFORM : ATTEST_COLL_CA_PROCESSOR, keys);
	return fetch(j, keys, 4, 0, out, detail);
}

int attest_verifier_verify(struct attest_verifier *vf, const pb_verify_req *req, uint64_t now, struct arena *a,
			   attest_verify_cb cb, void *arg, pb_verdict **out, const char **detail)
{
	struct av_job *j;
	const Dstack__Attest__V1__Collateral *col = req->collateral;
	int snp_kind, rc;
	err_t err;

	*out = NULL;
	if (!req->evidence) {
		*detail = "evidence is required";
		return ERR_INVALID_ARG;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		*detail = "out of memory";
		return ERR_NOMEM;
	}
	j->vf = vf;
	j->req = req;
	j->a = a;
	j->cb = cb;
	j->arg = arg;
	j->clock_now = now;
	j->now = req->evaluate_at_unix ? req->evaluate_at_unix : now;
	if ((err = av_evidence_from_proto(req->evidence, a, &j->ev, detail)) != ERR_OK ||
	    (err = av_policy_from_proto(req->policy, vf->cfg.default_tcb_mode, a, &j->pol, detail)) != ERR_OK) {
		rc = err;
		goto done;
	}
	snp_kind = j->ev.kind == DSTACK__COMMON__V1__EVIDENCE_KIND__EVIDENCE_KIND_SEV_SNP_REPORT;
	if (col && (col->intel || col->amd)) {
		if (col->intel && col->amd) {
			*detail = "collateral: set intel or amd, not both";
			rc = ERR_INVALID_ARG;
			goto done;
		}
		if ((col->amd != NULL) != snp_kind) {
			*detail = "collateral: intel collateral goes with quotes, amd collateral with SEV-SNP reports";
			rc = ERR_INVALID_ARG;
			goto done;
		}
		if (col->intel) {
			if ((err = av_intel_collateral_from_proto(col->intel, &j->req_intel, detail)) != ERR_OK) {
				rc = err;
				goto done;
			}
			j->has_req_intel = 1;
			av_message_sha256(&col->intel->base, j->req_coll_id);
		} else {
			if ((err = av_amd_from_proto(col->amd, a, &j->req_amd, detail)) != ERR_OK) {
				rc = err;
				goto done;
			}
			j->has_req_amd = 1;
			av_message_sha256(&col->amd->base, j->req_coll_id);
		}
	}
	av_evidence_sha256(req->evidence, j->ev_hash);
	if (req->policy)
		av_message_sha256(&req->policy->base, j->pol_hash);
	av_locate(&j->ev, &j->loc);
	if (j->loc.err != ERR_OK)
		rc = finish_verify(j, NULL, NULL, ERR_OK, NULL, NULL, out);
	else if (j->loc.tee == ATTEST_TEE_SEV_SNP)
		rc = resolve_snp(j, out, detail);
	else
		rc = resolve_intel(j, out, detail);
	if (rc == AV_PENDING)
		return rc;
done:
	if (rc != ERR_OK) {
		count(vf, RES_ERROR, j->loc.tee);
		if (rc == ERR_BUDGET || rc == ERR_NOMEM)
			*detail = "out of memory building the verdict";
	}
	free(j);
	return rc;
}
