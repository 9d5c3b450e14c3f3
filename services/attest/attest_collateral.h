/* SPDX-License-Identifier: Apache-2.0 */
/* The collateral cache: Intel PCS/PCCS and AMD KDS artefacts in memory and on disk, one fetch per key, bounded stale. */
#ifndef DS_ATTEST_COLLATERAL_H
#define DS_ATTEST_COLLATERAL_H

#include <event2/event.h>
#include "base.h"
#include "buf.h"
#include "err.h"
#include "metrics.h"

/*
 * What is cached is what upstream returned: the response body and the
 * issuer-chain header (URL-decoded PEM), per key. Validity comes from the
 * artefact itself (TCB Info / QE Identity `nextUpdate`, CRL nextUpdate,
 * certificate notAfter), never from HTTP caching headers. Nothing here
 * verifies a signature: collateral is signed by Intel/AMD and every verifier
 * checks it itself; the cache only refuses bodies that do not even parse as
 * the artefact asked for (wrong FMSPC, wrong id, not a CRL ...), so garbage
 * is neither cached nor served. See docs/attest-collateral.md.
 */

enum attest_coll_kind {
	ATTEST_COLL_TDX_TCB = 0,        /* TDX TCB Info for an FMSPC */
	ATTEST_COLL_SGX_TCB,            /* SGX TCB Info for an FMSPC */
	ATTEST_COLL_TDX_QE_IDENTITY,    /* TD_QE identity */
	ATTEST_COLL_SGX_QE_IDENTITY,    /* QE identity */
	ATTEST_COLL_PCK_CRL_PROCESSOR,  /* PCK CRL of the Processor CA */
	ATTEST_COLL_PCK_CRL_PLATFORM,   /* PCK CRL of the Platform CA */
	ATTEST_COLL_ROOT_CA_CRL,        /* Intel SGX Root CA CRL */
	ATTEST_COLL_AMD_CERT_CHAIN,     /* ASK + ARK (PEM) for a product */
	ATTEST_COLL_AMD_VCEK,           /* VCEK (DER) for a product, hwid and reported TCB */
	ATTEST_COLL_AMD_CRL,            /* KDS CRL for a product */
	ATTEST_COLL_KIND_COUNT
};

/* Values match lib/attest's enum attest_tee (SGX = 1, TDX = 2), so a cast converts. */
enum attest_coll_tee { ATTEST_COLL_TEE_SGX = 1, ATTEST_COLL_TEE_TDX = 2 };
enum attest_coll_ca { ATTEST_COLL_CA_PROCESSOR = 0, ATTEST_COLL_CA_PLATFORM = 1 };

#define ATTEST_COLL_FMSPC_LEN 6
#define ATTEST_COLL_HWID_MAX 64
/* Longest key text: "amd_vcek/" + product + "/" + 128 hex + "/" + 16 hex. */
#define ATTEST_COLL_KEY_MAX 192

/* Certificates in an issuer chain (or in an AMD_CERT_CHAIN body): at most this many. */
#define ATTEST_COLL_CHAIN_MAX 8

struct x509_st;
struct X509_crl_st;

/* Identifies one cached artefact. Unused fields stay zero. */
struct attest_coll_key {
	enum attest_coll_kind kind;
	uint8_t fmspc[ATTEST_COLL_FMSPC_LEN];  /* *_TCB */
	char product[8];                       /* AMD_*: "Milan", "Genoa" or "Turin" */
	uint8_t hwid[ATTEST_COLL_HWID_MAX];    /* AMD_VCEK: CHIP_ID, 64 bytes (Turin: 8) */
	size_t hwid_len;
	uint64_t reported_tcb;                 /* AMD_VCEK: REPORTED_TCB (the report's little-endian u64) */
};

/* "tdx_tcb", "amd_vcek" ...; NULL for an out-of-range kind. */
const char *attest_coll_kind_name(enum attest_coll_kind k);

/*
 * The key as text, also its file name stem in the cache directory:
 *   tdx_tcb/<FMSPC>  sgx_tcb/<FMSPC>          (12 uppercase hex)
 *   tdx_qe_identity  sgx_qe_identity  pck_crl_processor  pck_crl_platform  root_ca_crl
 *   amd_cert_chain/<product>  amd_crl/<product>
 *   amd_vcek/<product>/<hwid lowercase hex>/<reported_tcb as 16 lowercase hex>
 * ERR_INVALID_ARG for an invalid key, ERR_PROTO_TOO_LARGE when cap is short.
 */
err_t attest_coll_key_format(const struct attest_coll_key *k, char *out, size_t cap) MUST_CHECK;
/* The inverse, strict (FMSPC hex in either case; nothing else varies). ERR_PROTO_MALFORMED on anything else. */
err_t attest_coll_key_parse(const char *s, size_t len, struct attest_coll_key *k) MUST_CHECK;
/* Checks the fields a kind uses (product name, hwid length 64, or 8 for Turin). */
int attest_coll_key_valid(const struct attest_coll_key *k);

/*
 * A cached artefact: immutable once made, shared by reference count (one
 * event-loop thread; no locking). Every pointer is owned by the blob.
 */
struct attest_coll_blob {
	unsigned refs;
	struct attest_coll_key key;
	uint8_t *body;               /* the response body as returned; NUL-terminated (not counted) */
	size_t body_len;
	char *issuer_chain;          /* PEM (URL-decoded header value); NULL for kinds without one */
	size_t chain_len;
	uint8_t *der;                /* CRL kinds and AMD_VCEK: the DER (upstream may send DER, PEM or hex) */
	size_t der_len;
	/* TCB Info / QE Identity: the signed inner object and the signature, as spans of `body`. */
	size_t inner_off, inner_len;
	size_t sig_off, sig_len;     /* 128 hex characters */
	uint64_t issued_at;          /* issueDate / thisUpdate / notBefore (latest in a chain), unix s */
	uint64_t next_update;        /* nextUpdate / notAfter (earliest in a chain), unix s */
	uint64_t fetched_at;         /* when it came from upstream (or was read from a file), unix s */
	char *source;                /* upstream URL, "offline:<path>" or "cache:<path>" */
	/* The issuer chain (AMD_CERT_CHAIN: the body) as parsed when the blob was made, in order; owned references. */
	struct x509_st *certs[ATTEST_COLL_CHAIN_MAX];
	size_t ncerts;
	struct X509_crl_st *crl;     /* CRL kinds: `der` as parsed when the blob was made; owned */
};

/*
 * Certificates already parsed, found by their exact DER bytes (a few; the
 * least recently used goes). Issuer chains repeat the same handful (the
 * Intel root, the TCB Signing and PCK CA certificates), and in OpenSSL 3.0
 * one d2i_X509 costs more than a signature check. What is found for some
 * bytes is the certificate d2i_X509 made from exactly those bytes, or a
 * certificate added with attest_coll_certs_add whose DER they are (d2i of
 * them gives an equal one): the result of parsing them again. One thread.
 */
struct attest_coll_certs;
struct attest_coll_certs *attest_coll_certs_new(void);
void attest_coll_certs_free(struct attest_coll_certs *m);
/* Remember `x` (borrowed; a reference is taken) under its DER encoding (e.g. a trust anchor). */
err_t attest_coll_certs_add(struct attest_coll_certs *m, struct x509_st *x) MUST_CHECK;
/*
 * Remember Intel's current intermediates (attest_intel_intermediates: TCB
 * Signing, PCK Platform CA, PCK Processor CA), so the first collateral's
 * issuer chains need no parse. Known, not trusted: nothing is decided here.
 */
err_t attest_coll_certs_add_intel(struct attest_coll_certs *m) MUST_CHECK;
/* The certificate remembered under exactly these bytes, with a new reference; NULL when none. */
struct x509_st *attest_coll_certs_find(struct attest_coll_certs *m, const uint8_t *der, size_t len);

/*
 * Make a blob from an upstream response: checks that `body` is the artefact
 * `k` names (JSON shape, FMSPC and id for Intel JSON, a CRL for CRL kinds,
 * certificates for AMD) and that the issuer chain, when the kind has one,
 * is PEM certificates (ASCII text). Copies everything. *detail names what is wrong
 * (static text). Errors: ERR_PROTO_MALFORMED, ERR_PROTO_JSON,
 * ERR_ATTEST_TCB_INFO_FORMAT, ERR_ATTEST_QE_IDENTITY_FORMAT,
 * ERR_ATTEST_CRL_INVALID, ERR_ATTEST_CERT_CHAIN, ERR_NOMEM.
 */
err_t attest_coll_blob_new(const struct attest_coll_key *k, const uint8_t *body, size_t body_len, const char *chain,
			   size_t chain_len, uint64_t fetched_at, const char *source, struct attest_coll_blob **out,
			   const char **detail) MUST_CHECK;
/* The same, parsing chain certificates through `certs` (borrowed; NULL = parse every one). */
err_t attest_coll_blob_new_certs(const struct attest_coll_key *k, const uint8_t *body, size_t body_len,
				 const char *chain, size_t chain_len, uint64_t fetched_at, const char *source,
				 struct attest_coll_certs *certs, struct attest_coll_blob **out,
				 const char **detail) MUST_CHECK;
struct attest_coll_blob *attest_coll_blob_ref(struct attest_coll_blob *b);
void attest_coll_blob_unref(struct attest_coll_blob *b);

/* --- pure helpers (exposed for tests and the PCCS routes) --- */

/* "2025-07-19T10:16:03Z" (optional fraction, 'Z' or "+00:00") to unix seconds; ERR_PROTO_MALFORMED otherwise. */
err_t attest_coll_parse_rfc3339(const char *s, size_t len, uint64_t *out) MUST_CHECK;
/* A CRL body as DER whether it came as DER, PEM or hex text; *der is malloc'd (caller frees). */
err_t attest_coll_crl_to_der(const uint8_t *body, size_t len, uint8_t **der, size_t *der_len) MUST_CHECK;
/* Percent-decoding of a header value (no '+' to space, as Intel encodes with encodeURIComponent). */
err_t attest_coll_url_decode(const char *s, size_t len, struct buf_writer *out) MUST_CHECK;
/* encodeURIComponent: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) as %XX. */
void attest_coll_url_encode(const char *s, size_t len, struct buf_writer *out);

/*
 * dcap-qvl's QuoteCollateralV3 JSON from the four Intel artefacts (TCB info,
 * QE identity, PCK CRL, Root CA CRL), appended to `out`:
 * pck_crl_issuer_chain, root_ca_crl (hex DER), pck_crl (hex DER),
 * tcb_info_issuer_chain, tcb_info (the exact signed bytes), tcb_info_signature
 * (hex), qe_identity_issuer_chain, qe_identity, qe_identity_signature.
 */
err_t attest_coll_dcap_json(const struct attest_coll_blob *tcb, const struct attest_coll_blob *qe,
			    const struct attest_coll_blob *pck_crl, const struct attest_coll_blob *root_crl,
			    struct buf_writer *out) MUST_CHECK;

/*
 * The blobs a dcap-qvl QuoteCollateralV3 JSON file holds (TCB info, QE
 * identity, PCK CRL, Root CA CRL), rebuilt as the upstream bodies a PCCS
 * would have sent. Byte fields may be hex strings or arrays of numbers.
 * Returns how many were made in *n (at most 4); each out[i] is the caller's.
 */
err_t attest_coll_from_dcap_json(const char *json, size_t len, uint64_t fetched_at, const char *source,
				 struct attest_coll_blob *out[4], size_t *n, const char **detail) MUST_CHECK;

/* --- the cache --- */

enum attest_coll_mode { ATTEST_COLL_MODE_OFFLINE = 0, ATTEST_COLL_MODE_PCCS = 1 };

/* Everything borrowed; strings must outlive the cache (the service config does). */
struct attest_coll_config {
	int mode;                    /* enum attest_coll_mode */
	const char *pccs_url;        /* Intel PCS or a PCCS base URL */
	const char *amd_kds_url;     /* AMD KDS base URL */
	const char *root_ca_crl_url; /* NULL: <pccs>/sgx/certification/v4/rootcacrl, or Intel's CDP for Intel PCS */
	const char *cache_dir;       /* on-disk cache; NULL = memory only */
	const char *dir;             /* offline directory; NULL = none */
	const char *ca_file;         /* trust anchors for https upstreams; NULL = system */
	uint32_t timeout_ms;         /* per upstream attempt; 0 = 10 s */
	unsigned retries;            /* extra attempts on transport errors, 429 and 5xx */
	uint32_t retry_backoff_ms;   /* first backoff, doubled per retry; 0 = 200 ms */
	uint64_t max_stale_s;        /* serve past expiry for this long while upstream fails */
	uint64_t max_age_s;          /* treat entries as expired this long after the fetch; 0 = artefact only */
	uint64_t refresh_before_s;   /* refetch in the background this long before expiry; 0 = never early */
	uint64_t error_holdoff_s;    /* after a failed fetch, answer from what we have for this long */
	uint64_t not_found_ttl_s;    /* remember an upstream 404 for this long */
	uint64_t test_now;           /* tests only: the clock reads this at start, then advances; 0 = real */
	size_t max_entries;          /* 0 = 4096 */
};

/* The outcome of a lookup. */
struct attest_coll_result {
	err_t err;                   /* ERR_OK, or why there is nothing to serve */
	const char *detail;          /* static or valid during the callback; safe to show to clients */
	int upstream_status;         /* the HTTP status of a failed upstream answer (404 for unknown), else 0 */
	struct attest_coll_blob *blob; /* ERR_OK: borrowed for the callback; take a reference to keep it */
	int stale;                   /* the artefact is past its expiry (served within max_stale, or offline) */
	int from_cache;              /* answered without an upstream fetch */
};

/* Runs exactly once, from the event loop, never from inside the call that started it. */
typedef void (*attest_coll_cb)(void *arg, const struct attest_coll_result *r);

struct attest_collateral;

/*
 * Create the cache on `base` and register its metrics in `m` (both
 * borrowed; must outlive it). Loads the disk cache (and, offline, the
 * offline directory); unreadable or corrupt files are logged and skipped.
 * In pccs mode with a cache_dir, fetched artefacts are written by a
 * struct attest_coll_writer: `base` must then be evthread-enabled.
 * NULL with a static *detail on failure.
 */
struct attest_collateral *attest_collateral_new(struct event_base *base, struct metrics *m,
						const struct attest_coll_config *cfg, const char **detail);
/*
 * Free. Requests still waiting get their callback with ERR_CANCELLED,
 * synchronously, inside this function. NULL is a no-op.
 */
void attest_collateral_free(struct attest_collateral *c);

/*
 * A certificate (borrowed; a reference is taken) that issuer chains may
 * repeat, e.g. a trust anchor: a chain block with exactly its DER is then
 * not parsed again (struct attest_coll_certs).
 */
err_t attest_collateral_add_cert(struct attest_collateral *c, struct x509_st *x) MUST_CHECK;

/* The cache's clock (unix seconds; honours test_now). */
uint64_t attest_collateral_now(const struct attest_collateral *c);
/* Number of entries held, and the mode. */
size_t attest_collateral_entries(const struct attest_collateral *c);
int attest_collateral_mode(const struct attest_collateral *c);

/*
 * A fresh entry, now: ERR_OK with *out filled (counted as a hit; the blob is
 * borrowed until control returns to the loop), or ERR_NOT_FOUND when the
 * key needs attest_collateral_get (nothing counted). In offline mode every
 * entry held is answered here, expired ones marked stale.
 */
err_t attest_collateral_peek(struct attest_collateral *c, const struct attest_coll_key *k,
			     struct attest_coll_result *out) MUST_CHECK;

/*
 * The artefact for `k`: from memory when fresh, else fetched (one fetch per
 * key; concurrent requests wait for it), else stale within max_stale when
 * upstream fails. Returns an error only when nothing was started (then no
 * callback): ERR_INVALID_ARG, ERR_OVERLOADED (too many fetches or waiters),
 * ERR_NOMEM, ERR_SHUTTING_DOWN.
 */
err_t attest_collateral_get(struct attest_collateral *c, const struct attest_coll_key *k, attest_coll_cb cb,
			    void *arg) MUST_CHECK;

/*
 * Several artefacts at once (e.g. a platform's TCB info, QE identity and
 * CRLs). The callback runs once, from the loop, when all parts are in.
 * `err`/`detail`/`upstream_status` are the first failing required part's;
 * parts whose bit is set in `optional` may fail (their blob is then NULL).
 * Blobs are borrowed for the callback, in the order of `keys`.
 */
#define ATTEST_COLL_MULTI_MAX 4
struct attest_coll_multi {
	err_t err;
	const char *detail;
	int upstream_status;
	struct attest_coll_blob *blobs[ATTEST_COLL_MULTI_MAX];
	int stale;                   /* any part is past its expiry */
	int from_cache;              /* no part needed an upstream fetch */
	uint64_t expires_at;         /* the earliest expiry among the parts */
	uint64_t issued_at;          /* the oldest issue time among the parts */
	uint64_t fetched_at;         /* the oldest fetch among the parts */
};
typedef void (*attest_coll_multi_cb)(void *arg, const struct attest_coll_multi *r);

err_t attest_collateral_get_many(struct attest_collateral *c, const struct attest_coll_key *keys, size_t n,
				 unsigned optional, attest_coll_multi_cb cb, void *arg) MUST_CHECK;

/* The four keys of a DCAP bundle: TCB info, QE identity, PCK CRL, Root CA CRL. */
void attest_coll_dcap_keys(enum attest_coll_tee tee, const uint8_t fmspc[ATTEST_COLL_FMSPC_LEN],
			   enum attest_coll_ca ca, struct attest_coll_key keys[4]);

/*
 * Everything a DCAP verification needs for one platform (TCB info and QE
 * identity for `tee`, the PCK CRL of `ca`, the Root CA CRL), as dcap-qvl
 * QuoteCollateralV3 JSON (`json`, `len`; valid during the callback), and the
 * four blobs (`parts`, same order; borrowed for the callback). On failure
 * `err`/`detail` are the first failing item's. `stale` is set when any item
 * is past its expiry; `expires_at` is the earliest expiry.
 */
struct attest_coll_dcap {
	err_t err;
	const char *detail;
	const char *json;
	size_t len;
	int stale;
	uint64_t expires_at;
	uint64_t issued_at;          /* the oldest issue time among the four */
	const struct attest_coll_blob *parts[4];
};
typedef void (*attest_coll_dcap_cb)(void *arg, const struct attest_coll_dcap *r);

err_t attest_collateral_get_dcap(struct attest_collateral *c, enum attest_coll_tee tee,
				 const uint8_t fmspc[ATTEST_COLL_FMSPC_LEN], enum attest_coll_ca ca,
				 attest_coll_dcap_cb cb, void *arg) MUST_CHECK;

/* --- on-disk cache and offline directory (attest_collateral_store.c) --- */

/* The cache file name for a key: the key text with '/' as '.', plus ".json". */
err_t attest_coll_cache_file_name(const struct attest_coll_key *k, char *out, size_t cap) MUST_CHECK;
/* Serialise a blob as a cache file, and read one back (checks the key against `expect_name` when not NULL). */
err_t attest_coll_cache_encode(const struct attest_coll_blob *b, struct buf_writer *out) MUST_CHECK;
err_t attest_coll_cache_decode(const uint8_t *text, size_t len, const char *expect_name, const char *source,
			       struct attest_coll_blob **out, const char **detail) MUST_CHECK;
/* Write atomically: <dir>/.<name>.tmp.<pid>, fsync, rename, fsync the directory; mode 0600. */
err_t attest_coll_cache_write(const char *dir, const struct attest_coll_blob *b, const char **detail) MUST_CHECK;

/*
 * Cache files written off the event loop. A fetched artefact is answered
 * from memory first and written afterwards: one thread, in order (a later
 * copy of a key lands last), at idle CPU priority so it never takes the
 * CPU from a request, each file with attest_coll_cache_write (temporary
 * file, fsync, rename, fsync of the directory). A crash before a file is
 * written loses that file, never a file already there: the next start
 * fetches it again. attest_coll_writer_free writes everything queued before
 * it returns, so a clean stop loses nothing.
 */
struct attest_coll_writer;
/* Runs on the loop for every blob put (err = attest_coll_cache_write's, detail static). */
typedef void (*attest_coll_written_fn)(void *arg, const struct attest_coll_blob *b, err_t err, const char *detail);
/*
 * `base` and `dir` as for the cache (dir is copied); NULL when the thread or
 * memory cannot be had. The thread activates an event on `base`, so the base
 * must have been made after evthread_use_pthreads() (svc_main does that).
 */
struct attest_coll_writer *attest_coll_writer_new(struct event_base *base, const char *dir,
						  attest_coll_written_fn on_written, void *arg);
/* Queue `b` (a reference is taken until it is written). ERR_OVERLOADED when 1024 are queued, ERR_SHUTTING_DOWN, ERR_NOMEM. */
err_t attest_coll_writer_put(struct attest_coll_writer *w, struct attest_coll_blob *b) MUST_CHECK;
/* Blobs put whose callback has not run yet (it runs after the file is written, or was not). */
size_t attest_coll_writer_pending(struct attest_coll_writer *w);
/* Write what is queued, run the callbacks (from here), stop the thread and free. NULL is a no-op. */
void attest_coll_writer_free(struct attest_coll_writer *w);

/* Called for every blob found by a directory scan; takes the blob's reference. */
typedef void (*attest_coll_found_fn)(void *arg, struct attest_coll_blob *b);
/* Load every cache file of `dir`; returns how many files were skipped as corrupt (each logged). */
size_t attest_coll_cache_load_dir(const char *dir, uint64_t now, attest_coll_found_fn fn, void *arg);
/* Load the offline layout and dcap-qvl JSON files of `dir` (docs/attest-collateral.md); skipped count as above. */
size_t attest_coll_offline_load_dir(const char *dir, uint64_t now, attest_coll_found_fn fn, void *arg);

#endif
