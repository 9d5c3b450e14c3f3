/* SPDX-License-Identifier: Apache-2.0 */
/* The PCCS v4 GET API (TCB info, QE identity, PCK CRL, Root CA CRL) served from the collateral cache. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "attest.h"
#include "attest_collateral.h"
#include "enc.h"
#include "log.h"

/*
 * Paths, parameters, headers and encodings as Intel PCS / PCCS v4 serve them
 * (and as @phala/dcap-qvl's getCollateral asks for them), so any DCAP
 * tooling can use this service as its PCCS:
 *   GET /{sgx,tdx}/certification/v4/tcb?fmspc=<12 hex>      TCB-Info-Issuer-Chain
 *   GET /{sgx,tdx}/certification/v4/qe/identity              SGX-Enclave-Identity-Issuer-Chain
 *   GET /sgx/certification/v4/pckcrl?ca=processor|platform[&encoding=der|pem]   SGX-PCK-CRL-Issuer-Chain
 *   GET /sgx/certification/v4/rootcacrl                      hex text of the DER (as a PCCS sends it)
 * Issuer chains go out URL-encoded (encodeURIComponent), as Intel sends them.
 */

#define MAX_PARAMS 8

enum pccs_route { R_TCB, R_QE, R_PCKCRL, R_ROOTCACRL };

struct pccs_route_def {
	const char *path;
	enum pccs_route route;
	enum attest_coll_tee tee;
};

static const struct pccs_route_def routes[] = {
	{ "/sgx/certification/v4/tcb", R_TCB, ATTEST_COLL_TEE_SGX },
	{ "/tdx/certification/v4/tcb", R_TCB, ATTEST_COLL_TEE_TDX },
	{ "/sgx/certification/v4/qe/identity", R_QE, ATTEST_COLL_TEE_SGX },
	{ "/tdx/certification/v4/qe/identity", R_QE, ATTEST_COLL_TEE_TDX },
	{ "/sgx/certification/v4/pckcrl", R_PCKCRL, ATTEST_COLL_TEE_SGX },
	{ "/sgx/certification/v4/rootcacrl", R_ROOTCACRL, ATTEST_COLL_TEE_SGX },
};

/* A request waiting for the cache; lives in the call arena. */
struct pccs_req {
	struct attest_env *a;
	struct rpc_call *call;
	struct rpc_http_response *resp;
	enum pccs_route route;
	int der;                  /* pckcrl?encoding=der */
};

struct param {
	const char *name, *value;
	size_t nlen, vlen;
};

/* "a=1&b=2" into views; duplicates and more than MAX_PARAMS are errors. */
static int parse_query(const char *q, struct param *p, size_t *n)
{
	*n = 0;
	while (*q) {
		const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q), *eq;
		if (end == q) {
			q++;
			continue;
		}
		if (*n == MAX_PARAMS)
			return 0;
		eq = memchr(q, '=', (size_t)(end - q));
		p[*n].name = q;
		p[*n].nlen = eq ? (size_t)(eq - q) : (size_t)(end - q);
		p[*n].value = eq ? eq + 1 : end;
		p[*n].vlen = eq ? (size_t)(end - eq - 1) : 0;
		for (size_t i = 0; i < *n; i++)
			if (p[i].nlen == p[*n].nlen && memcmp(p[i].name, p[*n].name, p[i].nlen) == 0)
				return 0;
		(*n)++;
		q = amp ? amp + 1 : end;
	}
	return 1;
}

static const struct param *param_get(const struct param *p, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].nlen == strlen(name) && memcmp(p[i].name, name, p[i].nlen) == 0)
			return &p[i];
	return NULL;
}

static int value_is(const struct param *p, const char *want)
{
	return p->vlen == strlen(want) && strncasecmp(p->value, want, p->vlen) == 0;
}

static int fail(struct rpc_http_response *resp, int status, const char *msg)
{
	resp->status = status;
	resp->content_type = "text/plain; charset=utf-8";
	buf_put_str(&resp->body, msg);
	buf_put_u8(&resp->body, '\n');
	return 0;
}

static void add_chain_header(struct rpc_call *call, struct rpc_http_response *resp, const char *name,
			     const struct attest_coll_blob *b)
{
	struct buf_writer w;

	buf_writer_init(&w, (size_t)256 << 10);
	attest_coll_url_encode(b->issuer_chain, b->chain_len, &w);
	if (buf_cstr(&w))
		rpc_http_add_header(call, resp, name, (const char *)w.p);
	buf_writer_free(&w);
}

static void put_pem_crl(struct buf_writer *w, const uint8_t *der, size_t len)
{
	size_t n = base64_encoded_len(len, 0);
	char *b64 = malloc(n + 1);

	if (!b64) {
		w->err = ERR_NOMEM;
		return;
	}
	base64_encode(b64, der, len, 0);
	buf_put_str(w, "-----BEGIN X509 CRL-----\n");
	for (size_t i = 0; i < n; i += 64) {
		buf_put(w, b64 + i, MIN((size_t)64, n - i));
		buf_put_u8(w, '\n');
	}
	buf_put_str(w, "-----END X509 CRL-----\n");
	free(b64);
}

/* The answer for a cache result, in PCS's shape. */
static void respond(const struct pccs_req *q, const struct attest_coll_result *r)
{
	struct rpc_http_response *resp = q->resp;
	const struct attest_coll_blob *b = r->blob;

	if (r->err != ERR_OK) {
		const char *d = r->detail && r->detail[0] ? r->detail : err_str(r->err);
		if (r->err == ERR_NOT_FOUND || r->err == ERR_ATTEST_COLLATERAL_MISSING)
			(void)fail(resp, 404, d);
		else
			(void)fail(resp, 503, d);
		return;
	}
	switch (q->route) {
	case R_TCB:
		resp->content_type = "application/json";
		add_chain_header(q->call, resp, "TCB-Info-Issuer-Chain", b);
		buf_put(&resp->body, b->body, b->body_len);
		break;
	case R_QE:
		resp->content_type = "application/json";
		add_chain_header(q->call, resp, "SGX-Enclave-Identity-Issuer-Chain", b);
		buf_put(&resp->body, b->body, b->body_len);
		break;
	case R_PCKCRL:
		add_chain_header(q->call, resp, "SGX-PCK-CRL-Issuer-Chain", b);
		if (q->der) {
			resp->content_type = "application/pkix-crl";
			buf_put(&resp->body, b->der, b->der_len);
		} else {
			resp->content_type = "application/x-pem-file";
			put_pem_crl(&resp->body, b->der, b->der_len);
		}
		break;
	case R_ROOTCACRL: {
		char *hex = malloc(2 * b->der_len + 1);
		resp->content_type = "text/plain";
		if (!hex) {
			resp->body.err = ERR_NOMEM;
			break;
		}
		hex_encode(hex, b->der, b->der_len);
		buf_put(&resp->body, hex, 2 * b->der_len);
		free(hex);
		break;
	}
	}
	/* RFC 7234's marker for an answer served past its freshness (bounded serve-stale, or offline). */
	if (r->stale)
		rpc_http_add_header(q->call, resp, "Warning", "110 - \"Response is Stale\"");
}

static void on_cache_done(void *arg, const struct attest_coll_result *r)
{
	struct pccs_req *q = arg;

	/* At shutdown the server is gone before the cache: its calls must not be touched. */
	if (q->a->closing)
		return;
	respond(q, r);
	rpc_http_complete(q->call);
}

static int on_pccs(void *arg, struct rpc_call *call, const struct rpc_http_request *req,
		   struct rpc_http_response *resp)
{
	const struct pccs_route_def *def = NULL;
	struct attest_env *a = arg;
	struct param p[MAX_PARAMS];
	size_t np = 0;
	const struct param *v;
	struct attest_coll_key k;
	struct attest_coll_result r;
	struct pccs_req *q;
	err_t err;

	for (size_t i = 0; i < ARRAY_LEN(routes); i++)
		if (strcmp(routes[i].path, req->path) == 0)
			def = &routes[i];
	if (!def)
		return fail(resp, 404, "unknown path");
	if (!parse_query(req->query, p, &np))
		return fail(resp, 400, "malformed query string");
	memset(&k, 0, sizeof(k));
	q = arena_zalloc(rpc_call_arena(call), sizeof(*q));
	if (!q)
		return fail(resp, 503, "out of memory");
	q->a = a;
	q->call = call;
	q->resp = resp;
	q->route = def->route;

	/* update=standard is the default; early updates and pinned evaluation numbers are not cached here. */
	if ((def->route == R_TCB || def->route == R_QE) && (v = param_get(p, np, "update")) && !value_is(v, "standard"))
		return fail(resp, 400, "only update=standard is served");
	if (param_get(p, np, "tcbEvaluationDataNumber"))
		return fail(resp, 400, "tcbEvaluationDataNumber is not supported");
	switch (def->route) {
	case R_TCB: {
		char key[64];
		v = param_get(p, np, "fmspc");
		if (!v || v->vlen != 12)
			return fail(resp, 400, "fmspc must be 12 hex digits");
		snprintf(key, sizeof(key), "%s/%.12s", def->tee == ATTEST_COLL_TEE_TDX ? "tdx_tcb" : "sgx_tcb", v->value);
		if (attest_coll_key_parse(key, strlen(key), &k) != ERR_OK)
			return fail(resp, 400, "fmspc must be 12 hex digits");
		break;
	}
	case R_QE:
		k.kind = def->tee == ATTEST_COLL_TEE_TDX ? ATTEST_COLL_TDX_QE_IDENTITY : ATTEST_COLL_SGX_QE_IDENTITY;
		break;
	case R_PCKCRL:
		v = param_get(p, np, "ca");
		if (!v)
			return fail(resp, 400, "ca is required (processor or platform)");
		if (value_is(v, "processor"))
			k.kind = ATTEST_COLL_PCK_CRL_PROCESSOR;
		else if (value_is(v, "platform"))
			k.kind = ATTEST_COLL_PCK_CRL_PLATFORM;
		else
			return fail(resp, 400, "ca must be processor or platform");
		v = param_get(p, np, "encoding");
		if (v && value_is(v, "der"))
			q->der = 1;
		else if (v && !value_is(v, "pem"))
			return fail(resp, 400, "encoding must be der or pem");
		break;
	case R_ROOTCACRL:
		k.kind = ATTEST_COLL_ROOT_CA_CRL;
		break;
	}

	if (attest_collateral_peek(a->collateral, &k, &r) == ERR_OK) {
		respond(q, &r);
		return 0;
	}
	err = attest_collateral_get(a->collateral, &k, on_cache_done, q);
	if (err != ERR_OK) {
		log_warn(rpc_call_log_prefix(call), "collateral lookup not started: %s", err_str(err));
		return fail(resp, 503, err == ERR_OVERLOADED ? "too many collateral fetches in flight" : err_str(err));
	}
	return RPC_ASYNC;
}

err_t attest_pccs_register(struct attest_env *a, const char **detail)
{
	for (size_t i = 0; i < ARRAY_LEN(routes); i++)
		if (rpc_server_add_http(a->svc->server, routes[i].path, on_pccs, a) != ERR_OK) {
			*detail = "cannot register the PCCS routes";
			return ERR_INTERNAL;
		}
	return ERR_OK;
}
