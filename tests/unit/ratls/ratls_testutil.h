/* SPDX-License-Identifier: Apache-2.0 */
/* Test fixture for RA-TLS: the sim TEE as a quote backend, its dev collateral in a store, and attested certificates. */
#ifndef DS_RATLS_TESTUTIL_H
#define DS_RATLS_TESTUTIL_H

#include "ratls.h"
#include "sim.h"

#define RT_NOW 1760000000ull /* 2025-10-09T08:53:20Z, inside the sim PKI's validity and collateral window */
#define RT_DAY 86400ull

struct rt_sim {
	struct sim_pki *pki;
	X509 *dev_root, *intel_root;
	struct attest_trust trust;          /* Intel root + the sim's dev root */
	struct ratls_coll_store *store;     /* collateral for the sim platform, verified with `trust` */
	uint8_t app_id[20];
	uint8_t compose_hash[32];
	uint8_t instance_id[20];
	/* knobs for the next quote */
	int tamper_log;                     /* change compose-hash's payload after RTMR3 was computed */
	int v2_event;                       /* make compose-hash a V2 event (-> V1 msgpack attestation) */
	int n_init_scripts;                 /* init-script-hash events before system-ready (payload 0xf1 + i) */
	int init_script_len;                /* their payload size; 0 = 32 */
	int empty_key_provider;             /* key-provider with an empty payload */
	int quote_calls;
};

/* Sets up the PKI, collateral for RT_NOW and identity values derived from `tag`. 0 on success. */
int rt_sim_init(struct rt_sim *s, uint8_t tag);
void rt_sim_fini(struct rt_sim *s);
/* A ratls_quote_fn: a sim TDX quote over report_data with an RTMR3 that replays dstack's boot events. */
err_t rt_sim_quote(void *arg, const uint8_t report_data[64], struct ratls_quote *out);
/* The event log JSON rt_sim_quote returns (malloc'd), and the RTMR3 it replays to; for legacy-extension tests. */
char *rt_sim_event_log(const struct rt_sim *s, size_t *len);
/* A self-signed attested leaf for key (CN "RA-TLS TEMP Cert", clientAuth + serverAuth). NULL on failure. */
X509 *rt_attested_cert(struct rt_sim *s, EVP_PKEY *key, uint64_t not_before, uint64_t not_after, const char *usage,
		       X509 *issuer, EVP_PKEY *issuer_key);
/* Seed files for the fuzz corpora: dir/name (dir created when missing). */
err_t rt_write_seed(const char *dir, const char *name, const void *p, size_t n) MUST_CHECK;
/* A verifier config over the fixture's trust and store (mode required, default cache). */
void rt_verifier_config(struct rt_sim *s, struct ratls_verifier_config *cfg);

#endif
