/* SPDX-License-Identifier: Apache-2.0 */
/* APP_INFO: dstack-attest's AppInfo as msgpack (named map out; named map or positional array in) and computed from TDX evidence. */
#include "ratls.h"
#include "ratls_int.h"

#include <stddef.h>
#include <string.h>

#include "crypto.h"
#include "eventlog.h"

#define SET_DETAIL(d, s)            \
	do {                        \
		if (d)              \
			*(d) = (s); \
	} while (0)

#define KEY_MAX 256             /* a map key we are willing to compare or skip */

/*
 * The fields in dstack's struct order: the positional form's order, the
 * order the named form is written in, and the names it is keyed by.
 */
enum field {
	F_APP_ID,
	F_COMPOSE_HASH,
	F_INSTANCE_ID,
	F_DEVICE_ID,
	F_MR_SYSTEM,
	F_MR_AGGREGATED,
	F_OS_IMAGE_HASH,
	F_KEY_PROVIDER_INFO,
	F_INIT_SCRIPT_HASHES,
	F_COUNT
};

static const char *const FIELD_NAME[F_COUNT] = {
	"app_id", "compose_hash", "instance_id", "device_id", "mr_system",
	"mr_aggregated", "os_image_hash", "key_provider_info", "init_script_hashes",
};

/* sha256(""): dstack's device_id for evidence without a verified report. */
static const uint8_t SHA256_EMPTY[32] = {
	0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
	0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

/* Where each byte field lives in struct ratls_app_info; NO_BLOB for the fixed-size and list fields. */
#define NO_BLOB ((size_t)-1)
static const size_t BLOB_OFF[F_COUNT] = {
	offsetof(struct ratls_app_info, app_id),
	offsetof(struct ratls_app_info, compose_hash),
	offsetof(struct ratls_app_info, instance_id),
	offsetof(struct ratls_app_info, device_id),
	NO_BLOB,
	NO_BLOB,
	offsetof(struct ratls_app_info, os_image_hash),
	offsetof(struct ratls_app_info, key_provider_info),
	NO_BLOB,
};

static const struct ratls_blob *cblob(const struct ratls_app_info *ai, enum field f)
{
	return BLOB_OFF[f] == NO_BLOB ? NULL : (const struct ratls_blob *)(const void *)((const char *)ai + BLOB_OFF[f]);
}

static struct ratls_blob *blob(struct ratls_app_info *ai, enum field f)
{
	return BLOB_OFF[f] == NO_BLOB ? NULL : (struct ratls_blob *)(void *)((char *)ai + BLOB_OFF[f]);
}

/* ============================================================================================== */
/* Encoder                                                                                        */

static void put_fixstr(struct buf_writer *w, const char *s)
{
	size_t n = strlen(s);   /* field names: all under 32 bytes */

	buf_put_u8(w, (uint8_t)(0xa0 | n));
	buf_put(w, s, n);
}

err_t ratls_app_info_encode(const struct ratls_app_info *ai, struct buf_writer *w)
{
	if (!ai || !w)
		return ERR_INVALID_ARG;
	for (int f = 0; f < F_COUNT; f++) {
		const struct ratls_blob *b = cblob(ai, (enum field)f);

		if (b && (b->len > RATLS_APP_INFO_FIELD_MAX || (b->len && !b->p)))
			return ERR_INVALID_ARG;
	}
	if (ai->has_init_script_hashes && ai->n_init_script_hashes > RATLS_APP_INFO_MAX_INIT_SCRIPTS)
		return ERR_INVALID_ARG;
	buf_put_u8(w, 0x80 | F_COUNT);   /* fixmap of 9 */
	for (int f = 0; f < F_COUNT; f++) {
		const struct ratls_blob *b = cblob(ai, (enum field)f);

		put_fixstr(w, FIELD_NAME[f]);
		if (b) {
			ratls_msgpack_put_bin(w, b->p, b->len);
		} else if (f == F_MR_SYSTEM) {
			ratls_msgpack_put_bin(w, ai->mr_system, 32);
		} else if (f == F_MR_AGGREGATED) {
			ratls_msgpack_put_bin(w, ai->mr_aggregated, 32);
		} else if (!ai->has_init_script_hashes) {
			buf_put_u8(w, 0xc0);   /* None: nil, the key still present (rmp_serde writes every field) */
		} else {
			buf_put_u8(w, (uint8_t)(0x90 | ai->n_init_script_hashes));   /* fixarray: at most 5 */
			for (size_t i = 0; i < ai->n_init_script_hashes; i++)
				ratls_msgpack_put_bin(w, ai->init_script_hashes[i], 32);
		}
	}
	return buf_writer_status(w);
}

/* ============================================================================================== */
/* Decoder                                                                                        */

struct dec {
	const char *detail;
};

static err_t fail(struct dec *d, err_t e, const char *why)
{
	if (!d->detail)
		d->detail = why;
	return e;
}

static err_t truncated(struct dec *d)
{
	return fail(d, ERR_PROTO_TRUNCATED, "APP_INFO msgpack truncated");
}

static err_t peek(struct dec *d, const struct buf_reader *r, uint8_t *t)
{
	if (buf_remaining(r) < 1)
		return truncated(d);
	*t = buf_cursor(r)[0];
	return ERR_OK;
}

/* The 1-, 2- or 4-byte big-endian length after a type byte. */
static err_t get_len(struct dec *d, struct buf_reader *r, unsigned nbytes, uint32_t *n)
{
	uint8_t b8 = 0;
	uint16_t b16 = 0;

	if (nbytes == 1) {
		if (buf_get_u8(r, &b8))
			return truncated(d);
		*n = b8;
	} else if (nbytes == 2) {
		if (buf_get_u16be(r, &b16))
			return truncated(d);
		*n = b16;
	} else if (buf_get_u32be(r, n)) {
		return truncated(d);
	}
	return ERR_OK;
}

/* Map or array header: *is_map and *n entries; anything else is ERR_PROTO_FIELD_TYPE. */
static err_t get_container(struct dec *d, struct buf_reader *r, int *is_map, uint32_t *n)
{
	uint8_t t = 0;

	if (buf_get_u8(r, &t))
		return truncated(d);
	*is_map = (t >= 0x80 && t <= 0x8f) || t == 0xde || t == 0xdf;
	if ((t >= 0x80 && t <= 0x8f) || (t >= 0x90 && t <= 0x9f)) {
		*n = t & 0x0f;
		return ERR_OK;
	}
	if (t == 0xde || t == 0xdc)
		return get_len(d, r, 2, n);
	if (t == 0xdf || t == 0xdd)
		return get_len(d, r, 4, n);
	return fail(d, ERR_PROTO_FIELD_TYPE, "APP_INFO: expected a map or an array");
}

/* A str (the only key type accepted), as a view of at most KEY_MAX bytes. */
static err_t get_key(struct dec *d, struct buf_reader *r, const uint8_t **p, uint32_t *n)
{
	uint8_t t = 0;
	err_t rc = ERR_OK;

	if (buf_get_u8(r, &t))
		return truncated(d);
	if (t >= 0xa0 && t <= 0xbf)
		*n = t & 0x1f;
	else if (t == 0xd9)
		rc = get_len(d, r, 1, n);
	else if (t == 0xda)
		rc = get_len(d, r, 2, n);
	else if (t == 0xdb)
		rc = get_len(d, r, 4, n);
	else
		return fail(d, ERR_PROTO_FIELD_TYPE, "APP_INFO: a map key is not a string");
	if (rc)
		return rc;
	if (*n > KEY_MAX)
		return fail(d, ERR_PROTO_TOO_LARGE, "APP_INFO: a map key is over 256 bytes");
	return buf_get_view(r, *n, p) ? truncated(d) : ERR_OK;
}

/* bin 8/16/32 of at most RATLS_APP_INFO_FIELD_MAX bytes, as a view (serde_human_bytes writes nothing else). */
static err_t get_bin(struct dec *d, struct buf_reader *r, struct ratls_blob *out)
{
	uint8_t t = 0;
	uint32_t n = 0;
	err_t rc;

	if ((rc = peek(d, r, &t)))
		return rc;
	if (t != 0xc4 && t != 0xc5 && t != 0xc6)
		return fail(d, ERR_PROTO_FIELD_TYPE, "APP_INFO: a byte field is not msgpack bin");
	if (buf_skip(r, 1) || (rc = get_len(d, r, t == 0xc4 ? 1 : t == 0xc5 ? 2 : 4, &n)))
		return rc ? rc : truncated(d);
	if (n > RATLS_APP_INFO_FIELD_MAX)
		return fail(d, ERR_PROTO_TOO_LARGE, "APP_INFO: a byte field is over 4096 bytes");
	if (buf_get_view(r, n, &out->p))
		return truncated(d);
	out->len = n;
	return ERR_OK;
}

static err_t get_hash32(struct dec *d, struct buf_reader *r, uint8_t out[32], const char *why)
{
	struct ratls_blob b = { NULL, 0 };
	err_t rc = get_bin(d, r, &b);

	if (rc)
		return rc;
	if (b.len != 32)
		return fail(d, ERR_PROTO_MALFORMED, why);
	memcpy(out, b.p, 32);
	return ERR_OK;
}

/* nil (None) or an array of at most 5 bin of 32 bytes (dstack-types init_script_hashes::option). */
static err_t get_init_hashes(struct dec *d, struct buf_reader *r, struct ratls_app_info *out)
{
	uint8_t t = 0;
	uint32_t n = 0;
	int is_map = 0;
	err_t rc;

	if ((rc = peek(d, r, &t)))
		return rc;
	if (t == 0xc0) {
		out->has_init_script_hashes = 0;
		out->n_init_script_hashes = 0;
		return buf_skip(r, 1) ? truncated(d) : ERR_OK;
	}
	if ((rc = get_container(d, r, &is_map, &n)) || is_map)
		return rc ? rc : fail(d, ERR_PROTO_FIELD_TYPE, "APP_INFO: init_script_hashes is neither nil nor an array");
	if (n > RATLS_APP_INFO_MAX_INIT_SCRIPTS)
		return fail(d, ERR_PROTO_TOO_LARGE, "APP_INFO: more than 5 init_script_hashes");
	for (uint32_t i = 0; i < n; i++)
		if ((rc = get_hash32(d, r, out->init_script_hashes[i], "APP_INFO: an init script hash is not 32 bytes")))
			return rc;
	out->has_init_script_hashes = 1;
	out->n_init_script_hashes = n;
	return ERR_OK;
}

static err_t get_field(struct dec *d, struct buf_reader *r, enum field f, struct ratls_app_info *out)
{
	struct ratls_blob *b = blob(out, f);

	if (b)
		return get_bin(d, r, b);
	if (f == F_MR_SYSTEM)
		return get_hash32(d, r, out->mr_system, "APP_INFO: mr_system is not 32 bytes");
	if (f == F_MR_AGGREGATED)
		return get_hash32(d, r, out->mr_aggregated, "APP_INFO: mr_aggregated is not 32 bytes");
	return get_init_hashes(d, r, out);
}

static int field_named(const uint8_t *k, uint32_t n)
{
	for (int f = 0; f < F_COUNT; f++)
		if (strlen(FIELD_NAME[f]) == n && memcmp(FIELD_NAME[f], k, n) == 0)
			return f;
	return -1;
}

/* rmp_serde::to_vec_named: field names as keys, any order; unknown keys skipped, as serde does by default. */
static err_t decode_map(struct dec *d, struct buf_reader *r, uint32_t n, struct ratls_app_info *out)
{
	unsigned seen = 0;
	err_t rc;

	if (n > RATLS_APP_INFO_MAX_KEYS)
		return fail(d, ERR_PROTO_TOO_LARGE, "APP_INFO: the map has more than 32 entries");
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *k = NULL;
		uint32_t klen = 0;
		int f;

		if ((rc = get_key(d, r, &k, &klen)))
			return rc;
		if ((f = field_named(k, klen)) < 0) {
			if ((rc = ratls_msgpack_skip(r, 1, &d->detail)))
				return rc;
			continue;
		}
		if (seen & (1u << f))
			return fail(d, ERR_PROTO_MALFORMED, "APP_INFO: a field appears twice");
		seen |= 1u << f;
		if ((rc = get_field(d, r, (enum field)f, out)))
			return rc;
	}
	/* Every field but init_script_hashes (serde default: None) is required. */
	if ((seen | (1u << F_INIT_SCRIPT_HASHES)) != (1u << F_COUNT) - 1)
		return fail(d, ERR_PROTO_MALFORMED, "APP_INFO: a field is missing");
	return ERR_OK;
}

/* rmp_serde::to_vec: the fields in order; releases before init_script_hashes wrote 8. */
static err_t decode_array(struct dec *d, struct buf_reader *r, uint32_t n, struct ratls_app_info *out)
{
	err_t rc;

	if (n != F_COUNT - 1 && n != F_COUNT)
		return fail(d, ERR_PROTO_MALFORMED, "APP_INFO: a positional AppInfo has 8 or 9 fields");
	for (uint32_t f = 0; f < n; f++)
		if ((rc = get_field(d, r, (enum field)f, out)))
			return rc;
	return ERR_OK;
}

err_t ratls_app_info_decode(const uint8_t *p, size_t len, struct ratls_app_info *out, const char **detail)
{
	struct dec d = { NULL };
	struct buf_reader r;
	uint32_t n = 0;
	int is_map = 0;
	err_t rc;

	memset(out, 0, sizeof(*out));
	if (len > RATLS_APP_INFO_MAX) {
		SET_DETAIL(detail, "APP_INFO is over 64 KiB");
		return ERR_PROTO_TOO_LARGE;
	}
	buf_reader_init(&r, p, len);
	if ((rc = get_container(&d, &r, &is_map, &n)) == ERR_OK)
		rc = is_map ? decode_map(&d, &r, n, out) : decode_array(&d, &r, n, out);
	if (rc == ERR_OK && buf_expect_end(&r) != ERR_OK)
		rc = fail(&d, ERR_PROTO_TRAILING, "APP_INFO: bytes after the value");
	if (rc != ERR_OK) {
		SET_DETAIL(detail, d.detail);
		memset(out, 0, sizeof(*out));
	}
	return rc;
}

/* ============================================================================================== */
/* From evidence                                                                                  */

err_t ratls_attestation_event_log(const struct ratls_attestation *att, struct arena *a, struct attest_eventlog *out,
				  const char **detail)
{
	const struct ratls_event *src = att->runtime_events;
	size_t n = att->n_runtime_events;
	struct attest_event *ev = NULL;
	err_t rc;

	if (!n) {
		src = att->event_log;
		n = att->n_event_log;
	}
	if (n && !(ev = arena_zalloc(a, n * sizeof(*ev))))
		return arena_err(a);
	for (size_t i = 0; i < n; i++) {
		ev[i].imr = src[i].imr;
		ev[i].event_type = src[i].event_type;
		ev[i].name = src[i].name;
		ev[i].name_len = src[i].name_len;
		ev[i].payload = src[i].payload;
		ev[i].payload_len = src[i].payload_len;
		ev[i].version = src[i].version;
		/* Runtime digests are recomputed; boot events (legacy full logs) keep theirs. */
		if (src[i].digest_len == ATTEST_RTMR_LEN) {
			memcpy(ev[i].digest, src[i].digest, ATTEST_RTMR_LEN);
			ev[i].digest_given = 1;
		} else if (src[i].digest_len && src[i].event_type != ATTEST_RUNTIME_EVENT_TYPE) {
			SET_DETAIL(detail, "a boot event's digest is not 48 bytes");
			return ERR_ATTEST_EVENT_LOG;
		}
	}
	rc = attest_eventlog_from_events(ev, n, out, detail);
	if (rc != ERR_OK && rc != ERR_NOMEM && rc != ERR_BUDGET)
		rc = ERR_ATTEST_EVENT_LOG;
	return rc;
}

/* Some(payloads of init-script-hash before system-ready), as dstack's find_event_payloads; 5 of 32 bytes at most. */
static err_t init_script_hashes(const struct attest_eventlog *log, struct ratls_app_info *out, const char **detail)
{
	static const char name[] = "init-script-hash";

	out->has_init_script_hashes = 1;
	out->n_init_script_hashes = 0;
	for (size_t i = 0; i < log->n_trusted; i++) {
		const struct attest_event *e = &log->events[i];

		if (e->imr != 3 || e->event_type != ATTEST_RUNTIME_EVENT_TYPE || e->name_len != sizeof(name) - 1 ||
		    memcmp(e->name, name, sizeof(name) - 1) != 0)
			continue;
		/* What dstack's reader (init_script_hashes::option) refuses, an issuer must not write. */
		if (out->n_init_script_hashes == RATLS_APP_INFO_MAX_INIT_SCRIPTS) {
			SET_DETAIL(detail, "more than 5 init-script-hash events before system-ready");
			return ERR_ATTEST_EVENT_LOG;
		}
		if (e->payload_len != 32) {
			SET_DETAIL(detail, "an init-script-hash event's payload is not 32 bytes");
			return ERR_ATTEST_EVENT_LOG;
		}
		memcpy(out->init_script_hashes[out->n_init_script_hashes++], e->payload, 32);
	}
	return ERR_OK;
}

/* A view of `n` bytes copied into the arena (n may be 0). */
static err_t keep(struct arena *a, struct ratls_blob *b, const uint8_t *p, size_t n)
{
	b->p = arena_memdup(a, n ? (const void *)p : "", n);
	b->len = n;
	return b->p ? ERR_OK : arena_err(a);
}

err_t ratls_app_info_from_attestation(const struct ratls_attestation *att, const uint8_t *device_id,
				      struct arena *a, struct ratls_app_info *out, const char **detail)
{
	static const uint8_t zero32[32];
	struct attest_eventlog log;
	struct attest_claims c;
	struct attest_td_report td;
	struct dcap_quote q;
	uint8_t mr_kp[32];
	err_t rc;

	memset(out, 0, sizeof(*out));
	if (!att || !a)
		return ERR_INVALID_ARG;
	if (att->platform != RATLS_PLATFORM_TDX) {
		SET_DETAIL(detail, "APP_INFO is computed for TDX evidence only");
		return ERR_RATLS_UNSUPPORTED;
	}
	if ((rc = dcap_quote_parse(att->quote, att->quote_len, &q, detail)) != ERR_OK)
		return rc;
	if (q.tee_type != DCAP_TEE_TDX) {
		SET_DETAIL(detail, "the TDX evidence holds an SGX quote");
		return ERR_ATTEST_TEE_TYPE;
	}
	dcap_td_report_decode(q.body, q.body_len, &td);
	if ((rc = ratls_attestation_event_log(att, a, &log, detail)) != ERR_OK ||
	    (rc = attest_claims_from_td(&td, &log, NULL, 0, a, &c, detail)) != ERR_OK ||
	    (rc = init_script_hashes(&log, out, detail)) != ERR_OK)
		goto fail;
	if ((rc = keep(a, &out->app_id, c.app_id, c.has_app_id ? ATTEST_APP_ID_LEN : 0)) ||
	    (rc = keep(a, &out->compose_hash, c.compose_hash, c.has_compose_hash ? 32 : 0)) ||
	    (rc = keep(a, &out->instance_id, c.instance_id, c.has_instance_id ? c.instance_id_len : 0)) ||
	    (rc = keep(a, &out->device_id, device_id ? device_id : SHA256_EMPTY, 32)) ||
	    (rc = keep(a, &out->os_image_hash, c.os_image_hash, c.has_os_image_hash ? 32 : 0)) ||
	    (rc = keep(a, &out->key_provider_info, c.key_provider_info, c.key_provider_info_len)))
		goto fail;
	if (out->key_provider_info.len > RATLS_APP_INFO_FIELD_MAX) {
		SET_DETAIL(detail, "the key-provider event is over 4096 bytes");
		rc = ERR_ATTEST_EVENT_LOG;
		goto fail;
	}
	/* dstack: an empty key_provider_info (absent or empty event) gives a zero mr_key_provider, not sha256(""). */
	if (c.key_provider_info_len)
		sha256(c.key_provider_info, c.key_provider_info_len, mr_kp);
	else
		memcpy(mr_kp, zero32, 32);
	{
		const void *parts[5] = { td.mrtd, td.rtmr[0], td.rtmr[1], td.rtmr[2], mr_kp };
		const size_t lens[5] = { 48, 48, 48, 48, 32 };

		sha256_parts(parts, lens, 5, out->mr_system);
	}
	memcpy(out->mr_aggregated, c.mr_aggregated, 32);
	return ERR_OK;
fail:
	memset(out, 0, sizeof(*out));
	return rc;
}

err_t ratls_app_info_for_key(EVP_PKEY *key, ratls_quote_fn quote, void *arg, const uint8_t *device_id,
			     struct buf_writer *att_out, struct buf_writer *info_out, const char **detail)
{
	struct ratls_attestation att;
	struct ratls_app_info ai;
	struct ratls_quote q;
	struct buf_writer w;
	struct arena a;
	uint8_t rd[RATLS_REPORT_DATA_LEN];
	err_t rc;

	if (!key || !quote || !info_out)
		return ERR_INVALID_ARG;
	memset(&q, 0, sizeof(q));
	buf_writer_init(&w, RATLS_ATTESTATION_MAX);
	arena_init(&a, 4 * RATLS_ATTESTATION_MAX, 64u << 10);
	if ((rc = ratls_report_data(key, rd)) != ERR_OK)
		goto out;
	if ((rc = quote(arg, rd, &q)) != ERR_OK) {
		SET_DETAIL(detail, "the TEE backend could not produce a quote");
		goto out;
	}
	/* The same stripped evidence a CSR or the ATTESTATION extension carries: the issuer's view of it. */
	if ((rc = ratls_attestation_from_quote(&q, rd, &w, detail)) != ERR_OK ||
	    (rc = ratls_attestation_decode(w.p, w.len, &a, &att, detail)) != ERR_OK ||
	    (rc = ratls_app_info_from_attestation(&att, device_id, &a, &ai, detail)) != ERR_OK ||
	    (rc = ratls_app_info_encode(&ai, info_out)) != ERR_OK)
		goto out;
	if (att_out) {
		buf_put(att_out, w.p, w.len);
		rc = buf_writer_status(att_out);
	}
out:
	ratls_quote_clear(&q);
	buf_writer_free(&w);
	arena_fini(&a);
	return rc;
}
