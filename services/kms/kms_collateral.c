/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Collateral for client evidence: a lookup in the verifier's store (it runs
 * inside TLS handshakes and must not block), filled from collateral.file at
 * start and, when attest.url is set, from the attest service's GetCollateral
 * on the first miss for a platform, then refreshed in the background. A
 * client that met a miss gets its handshake refused and succeeds on retry.
 */
#include <stdlib.h>
#include <string.h>

#include "dstack/attest/v1/attest.pb-c.h"
#include "enc.h"
#include "kms.h"
#include "log.h"
#include "ratls.h"
#include "rpc_client.h"

#define MAX_PLATFORMS 64
#define RETRY_MS 2000u
#define REFRESH_S 600

struct platform {
	uint8_t fmspc[6];
	int ca_platform;
	int inflight;
	uint64_t last_try_ms;
};

struct kms_coll {
	struct ratls_coll_store *store;   /* borrowed from kms_tls */
	const struct attest_trust *trust; /* borrowed */
	struct rpc_client *client;        /* the attest service, or NULL */
	struct platform p[MAX_PLATFORMS];
	size_t n;
	struct event *refresh;
};

struct fetch {
	struct kms_coll *c;
	size_t idx;
};

static void on_collateral(void *arg, const struct rpc_result *res)
{
	struct fetch *f = arg;
	struct kms_coll *c = f->c;
	struct platform *p = &c->p[f->idx];
	const Dstack__Attest__V1__GetCollateralResponse *r = (const void *)res->resp;
	const Dstack__Attest__V1__IntelCollateral *ic;
	struct dcap_collateral dc;
	const char *detail = "";
	char fm[13];
	err_t err;

	p->inflight = 0;
	hex_encode(fm, p->fmspc, 6);
	free(f);
	if (res->err != ERR_OK || !r->collateral || !(ic = r->collateral->intel)) {
		log_warn("kms", "collateral for FMSPC %s: the attest service answered %s%s%s", fm, rpc_code_name(res->code),
			 res->message && *res->message ? ": " : "", res->message ? res->message : "");
		return;
	}
	memset(&dc, 0, sizeof(dc));
	if (ic->tcb_info_signature.len != 64 || ic->qe_identity_signature.len != 64) {
		log_warn("kms", "collateral for FMSPC %s: malformed signatures", fm);
		return;
	}
	dc.pck_crl_issuer_chain = ic->pck_crl_issuer_chain;
	dc.pck_crl_issuer_chain_len = strlen(ic->pck_crl_issuer_chain);
	dc.root_ca_crl = ic->root_ca_crl.data;
	dc.root_ca_crl_len = ic->root_ca_crl.len;
	dc.pck_crl = ic->pck_crl.data;
	dc.pck_crl_len = ic->pck_crl.len;
	dc.tcb_info_issuer_chain = ic->tcb_info_issuer_chain;
	dc.tcb_info_issuer_chain_len = strlen(ic->tcb_info_issuer_chain);
	dc.tcb_info = ic->tcb_info;
	dc.tcb_info_len = strlen(ic->tcb_info);
	memcpy(dc.tcb_info_signature, ic->tcb_info_signature.data, 64);
	dc.qe_identity_issuer_chain = ic->qe_identity_issuer_chain;
	dc.qe_identity_issuer_chain_len = strlen(ic->qe_identity_issuer_chain);
	dc.qe_identity = ic->qe_identity;
	dc.qe_identity_len = strlen(ic->qe_identity);
	memcpy(dc.qe_identity_signature, ic->qe_identity_signature.data, 64);
	if (ic->pck_certificate_chain && *ic->pck_certificate_chain) {
		dc.pck_certificate_chain = ic->pck_certificate_chain;
		dc.pck_certificate_chain_len = strlen(ic->pck_certificate_chain);
	}
	/* Verified here against our own trust anchors: where collateral comes from is not a trust question. */
	if ((err = ratls_coll_store_put_parsed(c->store, &dc, c->trust, &detail)) != ERR_OK)
		log_warn("kms", "collateral for FMSPC %s from the attest service refused: %s (%s)", fm, err_name(err), detail);
	else
		log_info("kms", "collateral for FMSPC %s loaded from the attest service", fm);
}

static void fetch(struct kms_coll *c, size_t idx)
{
	struct platform *p = &c->p[idx];
	Dstack__Attest__V1__GetCollateralRequest q;
	Dstack__Attest__V1__CollateralKey key;
	struct rpc_call_opts co = { .idempotent = 1 };
	struct fetch *f;

	if (!c->client || p->inflight || (p->last_try_ms && mono_ms() - p->last_try_ms < RETRY_MS))
		return;
	if (!(f = calloc(1, sizeof(*f))))
		return;
	f->c = c;
	f->idx = idx;
	dstack__attest__v1__collateral_key__init(&key);
	key.tee_type = DSTACK__COMMON__V1__TEE_TYPE__TEE_TYPE_TDX;
	key.fmspc = (ProtobufCBinaryData){ 6, p->fmspc };
	key.pck_ca = p->ca_platform ? DSTACK__COMMON__V1__PCK_CA__PCK_CA_PLATFORM : DSTACK__COMMON__V1__PCK_CA__PCK_CA_PROCESSOR;
	dstack__attest__v1__get_collateral_request__init(&q);
	q.key = &key;
	p->last_try_ms = mono_ms();
	if (rpc_client_call(c->client, "/dstack.attest.v1.Attest/GetCollateral", &q.base,
			    &dstack__attest__v1__get_collateral_response__descriptor, &co, on_collateral, f) != ERR_OK) {
		free(f);
		return;
	}
	p->inflight = 1;
}

err_t kms_coll_get(void *arg, const uint8_t fmspc[6], int ca_platform, const struct dcap_vcoll **out)
{
	struct kms_coll *c = arg;
	err_t err = ratls_coll_store_get(c->store, fmspc, ca_platform, out);
	size_t i;

	if (err == ERR_OK || !c->client)
		return err;
	for (i = 0; i < c->n; i++)
		if (memcmp(c->p[i].fmspc, fmspc, 6) == 0 && c->p[i].ca_platform == ca_platform)
			break;
	if (i == c->n) {
		if (c->n == MAX_PLATFORMS)
			return err;
		memcpy(c->p[c->n].fmspc, fmspc, 6);
		c->p[c->n].ca_platform = ca_platform;
		c->n++;
	}
	fetch(c, i);
	return err;
}

static void on_refresh(evutil_socket_t fd, short what, void *arg)
{
	struct kms_coll *c = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < c->n; i++) {
		c->p[i].last_try_ms = 0;
		fetch(c, i);
	}
}

struct kms_coll *kms_coll_new(struct event_base *base, const char *attest_url, struct ratls_coll_store *store,
			      const struct attest_trust *trust)
{
	struct kms_coll *c = calloc(1, sizeof(*c));
	struct timeval tv = { REFRESH_S, 0 };

	if (!c)
		return NULL;
	c->store = store;
	c->trust = trust;
	if (attest_url && *attest_url) {
		/* Connect over HTTP/1.1: kept-alive connections (see kms_authz.c). */
		struct rpc_client_opts o = {
			.base_url = attest_url, .wire = RPC_WIRE_CONNECT_PROTO, .timeout_ms = 10000, .max_retries = 1,
		};

		if (!(c->client = rpc_client_new(base, &o)) ||
		    !(c->refresh = event_new(base, -1, EV_PERSIST, on_refresh, c)) || event_add(c->refresh, &tv) != 0) {
			kms_coll_free(c);
			return NULL;
		}
	}
	return c;
}

void kms_coll_free(struct kms_coll *c)
{
	if (!c)
		return;
	if (c->refresh)
		event_free(c->refresh);
	rpc_client_free(c->client);
	free(c);
}
