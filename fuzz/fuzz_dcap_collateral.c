/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz dcap-qvl collateral JSON and Intel PCS response bodies: parse, re-serialise and re-parse, then verify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "attest.h"
#include "dcap.h"
#include "enc.h"
#include "json.h"

/*
 * The input is one document, read three ways: as QuoteCollateralV3 JSON
 * (dcap_collateral_parse_json), and as the PCS tcbInfo and enclaveIdentity
 * response bodies. What the collateral parser accepts is written back as
 * JSON and must parse to the same thing; its inner documents go to the TCB
 * info / QE identity parsers, and the whole to dcap_vcoll_new against the
 * pinned Intel root (chains, CRLs and signatures: nearly every mutant fails
 * there, but the PEM/DER readers in front of it see hostile bytes).
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ARENA_BUDGET (16u << 20)

static void check(int ok)
{
	if (!ok)
		abort();
}

static X509 *intel_root(void)
{
	static X509 *root;   /* fuzz harness state, loaded once */

	if (!root)
		root = attest_intel_root();
	check(root != NULL);
	return root;
}

/* A string the parser handed out: non-NULL, NUL-terminated at its length, not absurdly long. */
static void check_text(const char *s, size_t n)
{
	check(s != NULL && s[n] == 0 && n <= DCAP_COLLATERAL_JSON_MAX);
}

static void put_text(struct buf_writer *w, const char *key, const char *s, size_t n)
{
	buf_put_u8(w, ',');
	json_put_string(w, key, strlen(key));
	buf_put_u8(w, ':');
	json_put_string(w, s, n);
}

static void put_hex(struct buf_writer *w, const char *key, const uint8_t *p, size_t n)
{
	char *dst;

	buf_put_u8(w, ',');
	json_put_string(w, key, strlen(key));
	buf_put_str(w, ":\"");
	dst = (char *)buf_reserve(w, 2 * n + 1);
	if (dst) {
		hex_encode(dst, p, n);
		buf_commit(w, 2 * n);
	}
	buf_put_u8(w, '"');
}

static void serialise(const struct dcap_collateral *c, struct buf_writer *w)
{
	buf_put_str(w, "{\"v\":3");
	put_text(w, "pck_crl_issuer_chain", c->pck_crl_issuer_chain, c->pck_crl_issuer_chain_len);
	put_hex(w, "root_ca_crl", c->root_ca_crl, c->root_ca_crl_len);
	put_hex(w, "pck_crl", c->pck_crl, c->pck_crl_len);
	put_text(w, "tcb_info_issuer_chain", c->tcb_info_issuer_chain, c->tcb_info_issuer_chain_len);
	put_text(w, "tcb_info", c->tcb_info, c->tcb_info_len);
	put_hex(w, "tcb_info_signature", c->tcb_info_signature, 64);
	put_text(w, "qe_identity_issuer_chain", c->qe_identity_issuer_chain, c->qe_identity_issuer_chain_len);
	put_text(w, "qe_identity", c->qe_identity, c->qe_identity_len);
	put_hex(w, "qe_identity_signature", c->qe_identity_signature, 64);
	if (c->pck_certificate_chain)
		put_text(w, "pck_certificate_chain", c->pck_certificate_chain, c->pck_certificate_chain_len);
	buf_put_u8(w, '}');
}

#define SAME_TEXT(x, y, f) ((x)->f##_len == (y)->f##_len && memcmp((x)->f, (y)->f, (x)->f##_len) == 0)

static int same(const struct dcap_collateral *x, const struct dcap_collateral *y)
{
	return SAME_TEXT(x, y, pck_crl_issuer_chain) && SAME_TEXT(x, y, root_ca_crl) && SAME_TEXT(x, y, pck_crl) &&
	       SAME_TEXT(x, y, tcb_info_issuer_chain) && SAME_TEXT(x, y, tcb_info) &&
	       SAME_TEXT(x, y, qe_identity_issuer_chain) && SAME_TEXT(x, y, qe_identity) &&
	       memcmp(x->tcb_info_signature, y->tcb_info_signature, 64) == 0 &&
	       memcmp(x->qe_identity_signature, y->qe_identity_signature, 64) == 0 &&
	       (x->pck_certificate_chain == NULL) == (y->pck_certificate_chain == NULL) &&
	       (!x->pck_certificate_chain || SAME_TEXT(x, y, pck_certificate_chain));
}

static void check_inner(const char *tcb, size_t tcb_len, const char *qe, size_t qe_len, struct arena *a)
{
	struct dcap_tcb_info ti;
	struct dcap_qe_identity qi;
	const char *detail = NULL;

	if (tcb && dcap_tcb_info_parse(tcb, tcb_len, a, &ti, &detail) == ERR_OK)
		check(ti.n_levels >= 1 && ti.issue_date <= ti.next_update);
	if (qe && dcap_qe_identity_parse(qe, qe_len, a, &qi, &detail) == ERR_OK)
		check(qi.n_levels >= 1 && qi.issue_date <= qi.next_update);
}

static void check_vcoll(const struct dcap_collateral *c)
{
	struct attest_trust t;
	struct dcap_vcoll *vc = NULL;
	const char *detail = NULL;
	err_t err;

	memset(&t, 0, sizeof(t));
	t.intel_root = intel_root();
	err = dcap_vcoll_new(c, &t, &vc, &detail);
	if (err == ERR_OK) {
		check(vc != NULL && vc->n_win <= DCAP_MAX_WINDOWS && vc->anchor != NULL && !vc->dev);
		for (size_t i = 0; i < vc->n_win; i++)
			check(vc->expires_at <= vc->win[i].to);
		dcap_vcoll_free(vc);
	} else {
		check(vc == NULL && err != ERR_INTERNAL && (detail != NULL || err == ERR_NOMEM));
	}
	ERR_clear_error();
}

static void collateral(const uint8_t *data, size_t size, struct arena *a)
{
	struct dcap_collateral c, again;
	struct buf_writer w;
	struct arena a2;
	const char *detail = NULL;
	err_t err;

	err = dcap_collateral_parse_json((const char *)data, size, a, &c, &detail);
	if (err != ERR_OK) {
		check(detail != NULL);
		return;
	}
	check_text(c.pck_crl_issuer_chain, c.pck_crl_issuer_chain_len);
	check_text(c.tcb_info_issuer_chain, c.tcb_info_issuer_chain_len);
	check_text(c.tcb_info, c.tcb_info_len);
	check_text(c.qe_identity_issuer_chain, c.qe_identity_issuer_chain_len);
	check_text(c.qe_identity, c.qe_identity_len);
	check(c.root_ca_crl && c.root_ca_crl_len > 0 && c.pck_crl && c.pck_crl_len > 0);
	if (c.pck_certificate_chain)
		check_text(c.pck_certificate_chain, c.pck_certificate_chain_len);
	else
		check(c.pck_certificate_chain_len == 0);

	/* Written back (escapes may differ: a document near the cap may then fail by size only), it parses the same. */
	buf_writer_init(&w, 8u << 20);
	arena_init(&a2, ARENA_BUDGET, 0);
	serialise(&c, &w);
	check(buf_writer_status(&w) == ERR_OK);
	err = dcap_collateral_parse_json((const char *)w.p, w.len, &a2, &again, &detail);
	check(err == ERR_OK || (w.len > DCAP_COLLATERAL_JSON_MAX && err_group(err) == ERR_PROTO));
	if (err == ERR_OK)
		check(same(&c, &again));
	arena_fini(&a2);
	buf_writer_free(&w);

	check_inner(c.tcb_info, c.tcb_info_len, c.qe_identity, c.qe_identity_len, a);
	check_vcoll(&c);
}

static void pcs(const uint8_t *data, size_t size, struct arena *a, int tcb)
{
	const char *inner = NULL, *detail = NULL;
	size_t inner_len = 0;
	uint8_t sig[64];
	err_t err;

	if (tcb)
		err = dcap_pcs_tcb_info_parse((const char *)data, size, a, &inner, &inner_len, sig, &detail);
	else
		err = dcap_pcs_qe_identity_parse((const char *)data, size, a, &inner, &inner_len, sig, &detail);
	if (err != ERR_OK) {
		check(detail != NULL);
		return;
	}
	/* The signed span is the object exactly as served: inside the input, braces at both ends. */
	check(inner >= (const char *)data && inner_len >= 2 && inner_len <= size &&
	      inner + inner_len <= (const char *)data + size);
	check(inner[0] == '{' && inner[inner_len - 1] == '}');
	if (tcb)
		check_inner(inner, inner_len, NULL, 0, a);
	else
		check_inner(NULL, 0, inner, inner_len, a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;

	arena_init(&a, ARENA_BUDGET, 0);
	collateral(data, size, &a);
	arena_reset(&a);
	pcs(data, size, &a, 1);
	arena_reset(&a);
	pcs(data, size, &a, 0);
	arena_fini(&a);
	return 0;
}
