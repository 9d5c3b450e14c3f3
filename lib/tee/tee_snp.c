/* SPDX-License-Identifier: Apache-2.0 */
/* The `sev-snp` backend: configfs-tsm reports with the host's certificate table, and the strict table parser. */
#include <stdlib.h>
#include <string.h>

#include "snp.h"
#include "tee_internal.h"

#define SET_DETAIL(d, s)            \
	do {                        \
		if (d)              \
			*(d) = (s); \
	} while (0)

/*
 * Kernel ABI: configfs-tsm with provider "sev_guest" (Linux >= 6.7):
 * outblob is the 1184-byte ATTESTATION_REPORT, auxblob the certificate
 * table the host attached to the extended guest request, cut by the kernel
 * at the end of the last certificate (empty when the host gave none).
 *
 * SEV-SNP has no runtime-extendable register. dstack's reference (§4)
 * describes RTMR3 runtime events for TDX only and is silent on what its
 * guest does with them on SEV-SNP; lib/attest/claims.h reads no identity
 * from an SNP event log, and dstack's SNP mr_aggregated is
 * sha256(measurement || host_data). So here the events are logged and
 * hash-chained in software (tee_info's log_rtmr[3]) but measure nothing:
 * a verifier must not trust them.
 */

/* ---- certificate table ---- */

#define ENTRY_LEN 24

static const struct {
	enum tee_snp_cert_kind kind;
	uint8_t guid[16];
} known_guids[] = {
	{ TEE_SNP_CERT_VCEK, { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd } },
	{ TEE_SNP_CERT_VLEK, { 0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1 } },
	{ TEE_SNP_CERT_ASK, { 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82 } },
	{ TEE_SNP_CERT_ARK, { 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae } },
	{ TEE_SNP_CERT_CRL, { 0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d, 0x97, 0xff, 0xd1, 0x9f, 0x88, 0xdc, 0x67, 0xea } },
};

static enum tee_snp_cert_kind kind_of(const uint8_t guid[16])
{
	for (size_t i = 0; i < ARRAY_LEN(known_guids); i++) {
		if (memcmp(known_guids[i].guid, guid, 16) == 0)
			return known_guids[i].kind;
	}
	return TEE_SNP_CERT_OTHER;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i])
			return 0;
	}
	return 1;
}

/* Exactly one DER SEQUENCE with a minimal definite length, filling p[0..n). */
static int is_one_der_sequence(const uint8_t *p, size_t n)
{
	size_t hdr, body = 0;

	if (n < 2 || p[0] != 0x30)
		return 0;
	if (p[1] < 0x80) {
		hdr = 2;
		body = p[1];
	} else {
		size_t k = p[1] & 0x7f;

		if (k == 0 || k > 3 || n < 2 + k || p[2] == 0)
			return 0;
		for (size_t i = 0; i < k; i++)
			body = (body << 8) | p[2 + i];
		if (body < 0x80)
			return 0;
		hdr = 2 + k;
	}
	return hdr + body == n;
}

err_t tee_snp_certs_parse(const uint8_t *p, size_t len, struct tee_snp_certs *out, const char **detail)
{
	struct buf_reader r;
	uint32_t off[TEE_SNP_MAX_CERTS], n_bytes[TEE_SNP_MAX_CERTS];
	size_t order[TEE_SNP_MAX_CERTS], table_end, pos;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return ERR_OK;
	if (len > TEE_SNP_MAX_TABLE_LEN) {
		SET_DETAIL(detail, "SEV-SNP certificate table larger than 1 MiB");
		return ERR_PROTO_TOO_LARGE;
	}
	buf_reader_init(&r, p, len);
	for (;;) {
		const uint8_t *guid = NULL;
		uint32_t o = 0, l = 0;

		if (buf_get_view(&r, 16, &guid) != ERR_OK || buf_get_u32le(&r, &o) != ERR_OK ||
		    buf_get_u32le(&r, &l) != ERR_OK) {
			SET_DETAIL(detail, "SEV-SNP certificate table has no terminating entry");
			return ERR_PROTO_TRUNCATED;
		}
		if (all_zero(guid, 16)) {
			if (o || l) {
				SET_DETAIL(detail, "SEV-SNP certificate table: zero GUID with an offset or length");
				return ERR_PROTO_MALFORMED;
			}
			break;
		}
		if (n == TEE_SNP_MAX_CERTS) {
			SET_DETAIL(detail, "SEV-SNP certificate table has more than 16 entries");
			return ERR_PROTO_TOO_LARGE;
		}
		memcpy(out->cert[n].guid, guid, 16);
		out->cert[n].kind = kind_of(guid);
		off[n] = o;
		n_bytes[n] = l;
		n++;
	}
	table_end = r.pos;

	for (size_t i = 0; i < n; i++) {
		if (n_bytes[i] == 0) {
			SET_DETAIL(detail, "SEV-SNP certificate table: empty entry");
			return ERR_PROTO_MALFORMED;
		}
		if (n_bytes[i] > TEE_SNP_MAX_CERT_LEN) {
			SET_DETAIL(detail, "SEV-SNP certificate table: certificate larger than 64 KiB");
			return ERR_PROTO_TOO_LARGE;
		}
		if (off[i] < table_end) {
			SET_DETAIL(detail, "SEV-SNP certificate table: certificate overlaps the table");
			return ERR_PROTO_MALFORMED;
		}
		if (off[i] > len || n_bytes[i] > len - off[i]) {
			SET_DETAIL(detail, "SEV-SNP certificate table: certificate beyond the end of the blob");
			return ERR_PROTO_TRUNCATED;
		}
		for (size_t j = 0; j < i; j++) {
			if (memcmp(out->cert[j].guid, out->cert[i].guid, 16) == 0) {
				SET_DETAIL(detail, "SEV-SNP certificate table: GUID listed twice");
				return ERR_PROTO_MALFORMED;
			}
		}
		out->cert[i].der = p + off[i];
		out->cert[i].len = n_bytes[i];
		if (out->cert[i].kind != TEE_SNP_CERT_OTHER && !is_one_der_sequence(out->cert[i].der, out->cert[i].len)) {
			SET_DETAIL(detail, "SEV-SNP certificate table: a certificate is not one DER SEQUENCE of its length");
			return ERR_PROTO_MALFORMED;
		}
		order[i] = i;
	}
	/* By offset (n <= 16), then: no overlaps, and only zeros in the gaps and after the last one. */
	for (size_t i = 1; i < n; i++) {
		size_t k = order[i], j = i;

		for (; j > 0 && off[order[j - 1]] > off[k]; j--)
			order[j] = order[j - 1];
		order[j] = k;
	}
	pos = table_end;
	for (size_t i = 0; i < n; i++) {
		size_t k = order[i];

		if (off[k] < pos) {
			SET_DETAIL(detail, "SEV-SNP certificate table: certificates overlap");
			return ERR_PROTO_MALFORMED;
		}
		if (!all_zero(p + pos, off[k] - pos)) {
			SET_DETAIL(detail, "SEV-SNP certificate table: non-zero bytes outside the certificates");
			return ERR_PROTO_MALFORMED;
		}
		pos = (size_t)off[k] + n_bytes[k];
	}
	if (!all_zero(p + pos, len - pos)) {
		SET_DETAIL(detail, "SEV-SNP certificate table: non-zero bytes after the certificates");
		return ERR_PROTO_MALFORMED;
	}
	out->n = n;
	return ERR_OK;
}

const struct tee_snp_cert *tee_snp_certs_find(const struct tee_snp_certs *c, enum tee_snp_cert_kind kind)
{
	for (size_t i = 0; i < c->n; i++) {
		if (c->cert[i].kind == kind)
			return &c->cert[i];
	}
	return NULL;
}

/* ---- the backend ---- */

struct snp_be {
	struct tee_tsm *tsm;
	unsigned close_wait_ms;
};

static err_t snp_open(struct tee *t, const struct tee_config *cfg, const char **detail)
{
	struct snp_be *b;
	err_t rc;

	if (!(b = calloc(1, sizeof(*b))))
		return ERR_NOMEM;
	t->be_state = b;
	b->close_wait_ms = t->quote_timeout_ms;
	if ((rc = tee_tsm_new(cfg->tsm_dir ? cfg->tsm_dir : TEE_DEFAULT_TSM_DIR, "sev_guest", &b->tsm)) != ERR_OK) {
		SET_DETAIL(detail, "configfs-tsm path too long");
		return rc;
	}
	/* No boot log: t->boot stays empty (all registers zero). */
	return ERR_OK;
}

static void snp_close(struct tee *t)
{
	struct snp_be *b = t->be_state;

	if (!b)
		return;
	tee_tsm_release(b->tsm, b->close_wait_ms);
	free(b);
	t->be_state = NULL;
}

static err_t snp_reconcile(struct tee *t, const struct tee_loaded *l, const struct tee_rtevent *pending,
			   enum tee_reconcile *what, const char **detail)
{
	*what = TEE_KEEP;
	if (pending) {
		SET_DETAIL(detail, "the sev-snp state file has a pending event");
		return ERR_PROTO_MALFORMED;
	}
	return ERR_OK;
}

static err_t snp_check(const uint8_t *blob, size_t len, const uint8_t rd[TEE_REPORT_DATA_LEN], const char **detail)
{
	struct attest_snp_report r;
	err_t rc;

	if ((rc = snp_report_parse(blob, len, &r)) != ERR_OK) {
		SET_DETAIL(detail, "configfs-tsm returned something that is not an SEV-SNP report");
		return rc;
	}
	if (memcmp(r.report_data, rd, TEE_REPORT_DATA_LEN) != 0)
		return ERR_ATTEST_REPORT_DATA;
	return ERR_OK;
}

static err_t snp_quote(struct tee *t, const uint8_t rd[TEE_REPORT_DATA_LEN], uint64_t deadline_ms,
		       struct tee_evidence *out, const char **detail)
{
	struct snp_be *b = t->be_state;
	struct tee_tsm_result res;
	err_t rc;

	if ((rc = tee_tsm_report(b->tsm, rd, 1, snp_check, deadline_ms, &res, detail)) != ERR_OK)
		return rc;
	out->quote = res.out;
	out->quote_len = res.out_len;
	out->aux = res.aux;
	out->aux_len = res.aux_len;
	return tee_snp_certs_parse(out->aux, out->aux_len, &out->certs, detail);
}

const struct tee_backend tee_backend_snp = {
	.name = "sev-snp",
	.platform = TEE_PLATFORM_SEV_SNP,
	.simulated = 0,
	.open = snp_open,
	.close = snp_close,
	.reconcile = snp_reconcile,
	.quote = snp_quote,
	.extend = NULL,
	.extended = NULL,
	.read_mrs = NULL,
};
