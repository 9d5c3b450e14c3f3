/* SPDX-License-Identifier: Apache-2.0 */
/* VersionedAttestation: V0 (SCALE) and V1 (msgpack) decoders over lib/base's reader, encoders, and evidence from a backend quote or a certificate. */
#include "ratls.h"
#include "ratls_int.h"

#include <string.h>

#include "eventlog.h"
#include "pbcodec.h"

#define SET_DETAIL(d, s)            \
	do {                        \
		if (d)              \
			*(d) = (s); \
	} while (0)

#define MP_MAX_DEPTH 16
#define MP_MAX_KEYS 16          /* entries of one map we look at (known structs have at most 7) */
#define NAME_MAX_LEN ATTEST_EVENTLOG_MAX_NAME
#define PAYLOAD_MAX ATTEST_EVENTLOG_MAX_PAYLOAD
#define DIGEST_MAX 64

/* A decode in progress: the arena and the first error's text. */
struct dec {
	struct arena *a;
	const char *detail;
};

static err_t fail(struct dec *d, err_t e, const char *why)
{
	if (!d->detail)
		d->detail = why;
	return e;
}

/* A NUL-terminated arena copy of valid UTF-8. */
static err_t text_copy(struct dec *d, const uint8_t *p, size_t n, const char **out)
{
	char *s;

	if (!utf8_valid((const char *)p, n))
		return fail(d, ERR_PROTO_ENCODING, "a string is not valid UTF-8");
	s = arena_memdup(d->a, n ? (const void *)p : "", n);
	if (!s)
		return arena_err(d->a);
	*out = s;
	return ERR_OK;
}

/* Room for n elements of `size` bytes, each taking at least `min_wire` input bytes: refuse counts the input cannot hold. */
static void *alloc_items(struct dec *d, const struct buf_reader *r, uint64_t n, size_t size, size_t min_wire,
			 size_t max, err_t *rc)
{
	void *p;

	*rc = ERR_OK;
	if (n > max) {
		*rc = fail(d, ERR_PROTO_TOO_LARGE, "too many list entries");
		return NULL;
	}
	if (n * min_wire > buf_remaining(r)) {
		*rc = fail(d, ERR_PROTO_TRUNCATED, "a list is longer than its input");
		return NULL;
	}
	if (n == 0)
		return NULL;
	p = arena_zalloc(d->a, (size_t)n * size);
	if (!p)
		*rc = arena_err(d->a);
	return p;
}

/* ============================================================================================== */
/* V0: SCALE                                                                                      */

/* SCALE compact integer, canonical only (parity-scale-codec rejects the longer forms too). */
static err_t sc_compact(struct dec *d, struct buf_reader *r, uint64_t *v)
{
	uint8_t b0 = 0;

	if (buf_get_u8(r, &b0))
		return fail(d, ERR_PROTO_TRUNCATED, "SCALE compact length truncated");
	switch (b0 & 3) {
	case 0:
		*v = b0 >> 2;
		return ERR_OK;
	case 1: {
		uint8_t b1 = 0;

		if (buf_get_u8(r, &b1))
			return fail(d, ERR_PROTO_TRUNCATED, "SCALE compact length truncated");
		*v = ((uint64_t)b0 | (uint64_t)b1 << 8) >> 2;
		return *v < 64 ? fail(d, ERR_PROTO_MALFORMED, "non-canonical SCALE compact length") : ERR_OK;
	}
	case 2: {
		uint8_t rest[3];

		if (buf_get_copy(r, rest, 3))
			return fail(d, ERR_PROTO_TRUNCATED, "SCALE compact length truncated");
		*v = ((uint64_t)b0 | (uint64_t)rest[0] << 8 | (uint64_t)rest[1] << 16 | (uint64_t)rest[2] << 24) >> 2;
		return *v < (1u << 14) ? fail(d, ERR_PROTO_MALFORMED, "non-canonical SCALE compact length") : ERR_OK;
	}
	default:
		/* Big-integer mode starts at 2^30: far past every limit here. */
		return fail(d, ERR_PROTO_TOO_LARGE, "SCALE length over 2^30");
	}
}

static err_t sc_bytes(struct dec *d, struct buf_reader *r, size_t max, const uint8_t **p, size_t *len)
{
	uint64_t n = 0;
	err_t rc = sc_compact(d, r, &n);

	if (rc)
		return rc;
	if (n > max)
		return fail(d, ERR_PROTO_TOO_LARGE, "a SCALE byte string is over its limit");
	if (buf_get_view(r, (size_t)n, p))
		return fail(d, ERR_PROTO_TRUNCATED, "a SCALE byte string is longer than its input");
	*len = (size_t)n;
	return ERR_OK;
}

static err_t sc_string(struct dec *d, struct buf_reader *r, size_t max, const char **s, size_t *len)
{
	const uint8_t *p = NULL;
	err_t rc = sc_bytes(d, r, max, &p, len);

	return rc ? rc : text_copy(d, p, *len, s);
}

/* TdxEvent: imr u32, event_type u32, digest Vec<u8>, event String, event_payload Vec<u8>. */
static err_t sc_tdx_event(struct dec *d, struct buf_reader *r, struct ratls_event *e)
{
	err_t rc;

	if (buf_get_u32le(r, &e->imr) || buf_get_u32le(r, &e->event_type))
		return fail(d, ERR_PROTO_TRUNCATED, "TdxEvent truncated");
	if ((rc = sc_bytes(d, r, DIGEST_MAX, &e->digest, &e->digest_len)) ||
	    (rc = sc_string(d, r, NAME_MAX_LEN, &e->name, &e->name_len)) ||
	    (rc = sc_bytes(d, r, PAYLOAD_MAX, &e->payload, &e->payload_len)))
		return rc;
	e->version = 1;
	return ERR_OK;
}

/* RuntimeEvent: event String, payload Vec<u8> (the version is not encoded: V0 events are V1). */
static err_t sc_runtime_event(struct dec *d, struct buf_reader *r, struct ratls_event *e)
{
	err_t rc;

	if ((rc = sc_string(d, r, NAME_MAX_LEN, &e->name, &e->name_len)) ||
	    (rc = sc_bytes(d, r, PAYLOAD_MAX, &e->payload, &e->payload_len)))
		return rc;
	e->imr = 3;
	e->event_type = ATTEST_RUNTIME_EVENT_TYPE;
	e->version = 1;
	return ERR_OK;
}

static err_t sc_events(struct dec *d, struct buf_reader *r, int tdx, struct ratls_event **out, size_t *n_out)
{
	uint64_t n = 0;
	struct ratls_event *ev;
	err_t rc;

	if ((rc = sc_compact(d, r, &n)))
		return rc;
	/* A TdxEvent is at least 11 bytes on the wire, a RuntimeEvent 2. */
	ev = alloc_items(d, r, n, sizeof(*ev), tdx ? 11 : 2, RATLS_MAX_EVENTS, &rc);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = tdx ? sc_tdx_event(d, r, &ev[i]) : sc_runtime_event(d, r, &ev[i])))
			return rc;
	*out = ev;
	*n_out = (size_t)n;
	return ERR_OK;
}

static err_t decode_v0(struct dec *d, struct buf_reader *r, struct ratls_attestation *out)
{
	uint8_t v = 0, variant = 0;
	err_t rc;

	if (buf_get_u8(r, &v) || v != 0 || buf_get_u8(r, &variant))
		return fail(d, ERR_PROTO_TRUNCATED, "VersionedAttestation truncated");
	out->version = 0;
	switch (variant) {
	case 0:   /* DstackTdx(TdxQuote { quote, event_log }) */
		out->platform = RATLS_PLATFORM_TDX;
		if ((rc = sc_bytes(d, r, RATLS_QUOTE_MAX, &out->quote, &out->quote_len)) ||
		    (rc = sc_events(d, r, 1, &out->event_log, &out->n_event_log)))
			return rc;
		break;
	case 2:   /* DstackNitroEnclave { nsm_quote } */
	case 4:   /* DstackAwsNitroTpm { attestation_doc } */
		out->platform = variant == 2 ? RATLS_PLATFORM_NITRO_ENCLAVE : RATLS_PLATFORM_AWS_NITRO_TPM;
		if ((rc = sc_bytes(d, r, RATLS_QUOTE_MAX, &out->quote, &out->quote_len)))
			return rc;
		break;
	case 3: { /* DstackAmdSevSnp(SnpQuote { report, cert_chain: Vec<Vec<u8>>, mr_config }) */
		uint64_t n = 0;

		out->platform = RATLS_PLATFORM_SEV_SNP;
		if ((rc = sc_bytes(d, r, RATLS_QUOTE_MAX, &out->quote, &out->quote_len)) || (rc = sc_compact(d, r, &n)))
			return rc;
		out->cert_chain = alloc_items(d, r, n, sizeof(*out->cert_chain), 1, RATLS_MAX_CERTS, &rc);
		if (rc)
			return rc;
		for (size_t i = 0; i < n; i++)
			if ((rc = sc_bytes(d, r, RATLS_CERT_MAX, &out->cert_chain[i].p, &out->cert_chain[i].len)))
				return rc;
		out->n_cert_chain = (size_t)n;
		if ((rc = sc_string(d, r, RATLS_CONFIG_MAX, &out->mr_config, &out->mr_config_len)))
			return rc;
		break;
	}
	default:
		/* 1 is GCP TDX, whose TpmQuote layout we do not decode; later variants are unknown. */
		return fail(d, ERR_RATLS_UNSUPPORTED, "VersionedAttestation V0 platform variant not supported");
	}
	if ((rc = sc_events(d, r, 0, &out->runtime_events, &out->n_runtime_events)))
		return rc;
	if (buf_get_copy(r, out->report_data, RATLS_REPORT_DATA_LEN))
		return fail(d, ERR_PROTO_TRUNCATED, "VersionedAttestation report_data truncated");
	if ((rc = sc_string(d, r, RATLS_CONFIG_MAX, &out->config, &out->config_len)))
		return rc;
	if (buf_expect_end(r))
		return fail(d, ERR_PROTO_TRAILING, "bytes after the VersionedAttestation");
	return ERR_OK;
}

/* ============================================================================================== */
/* V1: msgpack (rmp_serde named form)                                                             */

static err_t mp_trunc(struct dec *d)
{
	return fail(d, ERR_PROTO_TRUNCATED, "msgpack value truncated");
}

static err_t mp_len(struct dec *d, struct buf_reader *r, unsigned nbytes, uint64_t *n)
{
	uint8_t b8 = 0;
	uint16_t b16 = 0;
	uint32_t b32 = 0;

	switch (nbytes) {
	case 1:
		if (buf_get_u8(r, &b8))
			return mp_trunc(d);
		*n = b8;
		return ERR_OK;
	case 2:
		if (buf_get_u16be(r, &b16))
			return mp_trunc(d);
		*n = b16;
		return ERR_OK;
	default:
		if (buf_get_u32be(r, &b32))
			return mp_trunc(d);
		*n = b32;
		return ERR_OK;
	}
}

/* Header of a map or array; *n entries. Other types are ERR_PROTO_MALFORMED. */
static err_t mp_container(struct dec *d, struct buf_reader *r, int map, uint64_t *n)
{
	uint8_t t = 0;

	if (buf_get_u8(r, &t))
		return mp_trunc(d);
	if (map && t >= 0x80 && t <= 0x8f) {
		*n = t & 0x0f;
		return ERR_OK;
	}
	if (!map && t >= 0x90 && t <= 0x9f) {
		*n = t & 0x0f;
		return ERR_OK;
	}
	if (t == (map ? 0xde : 0xdc))
		return mp_len(d, r, 2, n);
	if (t == (map ? 0xdf : 0xdd))
		return mp_len(d, r, 4, n);
	return fail(d, ERR_PROTO_MALFORMED, map ? "msgpack: expected a map" : "msgpack: expected an array");
}

static err_t mp_str(struct dec *d, struct buf_reader *r, size_t max, const uint8_t **p, size_t *len)
{
	uint8_t t = 0;
	uint64_t n = 0;
	err_t rc = ERR_OK;

	if (buf_get_u8(r, &t))
		return mp_trunc(d);
	if (t >= 0xa0 && t <= 0xbf)
		n = t & 0x1f;
	else if (t == 0xd9)
		rc = mp_len(d, r, 1, &n);
	else if (t == 0xda)
		rc = mp_len(d, r, 2, &n);
	else if (t == 0xdb)
		rc = mp_len(d, r, 4, &n);
	else
		return fail(d, ERR_PROTO_MALFORMED, "msgpack: expected a string");
	if (rc)
		return rc;
	if (n > max)
		return fail(d, ERR_PROTO_TOO_LARGE, "msgpack string over its limit");
	if (buf_get_view(r, (size_t)n, p))
		return mp_trunc(d);
	*len = (size_t)n;
	return ERR_OK;
}

static err_t mp_text(struct dec *d, struct buf_reader *r, size_t max, const char **s, size_t *len)
{
	const uint8_t *p = NULL;
	err_t rc = mp_str(d, r, max, &p, len);

	return rc ? rc : text_copy(d, p, *len, s);
}

/* A non-negative integer (any msgpack integer format whose value fits). */
static err_t mp_uint(struct dec *d, struct buf_reader *r, uint64_t max, uint64_t *v)
{
	uint8_t t = 0, b8 = 0;
	uint16_t b16 = 0;
	uint32_t b32 = 0;
	uint64_t b64 = 0;
	int neg = 0;

	if (buf_get_u8(r, &t))
		return mp_trunc(d);
	if (t <= 0x7f) {
		*v = t;
	} else if (t == 0xcc || t == 0xd0) {
		if (buf_get_u8(r, &b8))
			return mp_trunc(d);
		*v = b8;
		neg = t == 0xd0 && (b8 & 0x80);
	} else if (t == 0xcd || t == 0xd1) {
		if (buf_get_u16be(r, &b16))
			return mp_trunc(d);
		*v = b16;
		neg = t == 0xd1 && (b16 & 0x8000);
	} else if (t == 0xce || t == 0xd2) {
		if (buf_get_u32be(r, &b32))
			return mp_trunc(d);
		*v = b32;
		neg = t == 0xd2 && (b32 & 0x80000000u);
	} else if (t == 0xcf || t == 0xd3) {
		if (buf_get_u64be(r, &b64))
			return mp_trunc(d);
		*v = b64;
		neg = t == 0xd3 && (b64 >> 63);
	} else {
		return fail(d, ERR_PROTO_MALFORMED, "msgpack: expected an integer");
	}
	if (neg || *v > max)
		return fail(d, ERR_PROTO_MALFORMED, "msgpack integer out of range");
	return ERR_OK;
}

/*
 * Bytes: bin 8/16/32 (a view), or an array of integers 0..255 (how rmp_serde
 * writes a plain Vec<u8>; copied into the arena).
 */
static err_t mp_bytes(struct dec *d, struct buf_reader *r, size_t max, const uint8_t **p, size_t *len)
{
	uint8_t t = 0;
	uint64_t n = 0;
	uint8_t *copy;
	err_t rc;

	if (buf_remaining(r) < 1)
		return mp_trunc(d);
	t = buf_cursor(r)[0];
	if (t == 0xc4 || t == 0xc5 || t == 0xc6) {
		if (buf_skip(r, 1))
			return mp_trunc(d);
		if ((rc = mp_len(d, r, t == 0xc4 ? 1 : t == 0xc5 ? 2 : 4, &n)))
			return rc;
		if (n > max)
			return fail(d, ERR_PROTO_TOO_LARGE, "msgpack bytes over their limit");
		if (buf_get_view(r, (size_t)n, p))
			return mp_trunc(d);
		*len = (size_t)n;
		return ERR_OK;
	}
	if ((rc = mp_container(d, r, 0, &n)))
		return fail(d, rc, "msgpack: expected bytes");
	if (n > max)
		return fail(d, ERR_PROTO_TOO_LARGE, "msgpack bytes over their limit");
	if (n > buf_remaining(r))
		return mp_trunc(d);
	copy = arena_alloc(d->a, n ? (size_t)n : 1);
	if (!copy)
		return arena_err(d->a);
	for (size_t i = 0; i < n; i++) {
		uint64_t b = 0;

		if ((rc = mp_uint(d, r, 255, &b)))
			return rc;
		copy[i] = (uint8_t)b;
	}
	*p = copy;
	*len = (size_t)n;
	return ERR_OK;
}

/* Skip one value of any type; nesting capped. */
static err_t mp_skip(struct dec *d, struct buf_reader *r, unsigned depth)
{
	uint8_t t = 0;
	uint64_t n = 0;
	err_t rc = ERR_OK;

	if (depth > MP_MAX_DEPTH)
		return fail(d, ERR_PROTO_DEPTH, "msgpack nested too deeply");
	if (buf_remaining(r) < 1)
		return mp_trunc(d);
	t = buf_cursor(r)[0];
	if ((t >= 0x80 && t <= 0x8f) || t == 0xde || t == 0xdf || (t >= 0x90 && t <= 0x9f) || t == 0xdc || t == 0xdd) {
		int map = (t >= 0x80 && t <= 0x8f) || t == 0xde || t == 0xdf;

		if ((rc = mp_container(d, r, map, &n)))
			return rc;
		if (n > buf_remaining(r))
			return mp_trunc(d);   /* every element takes at least one byte */
		for (uint64_t i = 0; i < (map ? 2 * n : n); i++)
			if ((rc = mp_skip(d, r, depth + 1)))
				return rc;
		return ERR_OK;
	}
	if (buf_skip(r, 1))
		return mp_trunc(d);
	if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3)
		return ERR_OK;   /* fixints, nil, booleans */
	if (t >= 0xa0 && t <= 0xbf)
		return buf_skip(r, t & 0x1f) ? mp_trunc(d) : ERR_OK;
	switch (t) {
	case 0xcc: case 0xd0: return buf_skip(r, 1) ? mp_trunc(d) : ERR_OK;
	case 0xcd: case 0xd1: return buf_skip(r, 2) ? mp_trunc(d) : ERR_OK;
	case 0xce: case 0xd2: case 0xca: return buf_skip(r, 4) ? mp_trunc(d) : ERR_OK;
	case 0xcf: case 0xd3: case 0xcb: return buf_skip(r, 8) ? mp_trunc(d) : ERR_OK;
	case 0xd4: return buf_skip(r, 2) ? mp_trunc(d) : ERR_OK;
	case 0xd5: return buf_skip(r, 3) ? mp_trunc(d) : ERR_OK;
	case 0xd6: return buf_skip(r, 5) ? mp_trunc(d) : ERR_OK;
	case 0xd7: return buf_skip(r, 9) ? mp_trunc(d) : ERR_OK;
	case 0xd8: return buf_skip(r, 17) ? mp_trunc(d) : ERR_OK;
	case 0xc4: case 0xd9: rc = mp_len(d, r, 1, &n); break;
	case 0xc5: case 0xda: rc = mp_len(d, r, 2, &n); break;
	case 0xc6: case 0xdb: rc = mp_len(d, r, 4, &n); break;
	case 0xc7: rc = mp_len(d, r, 1, &n); n += 1; break;   /* ext: length, then a type byte */
	case 0xc8: rc = mp_len(d, r, 2, &n); n += 1; break;
	case 0xc9: rc = mp_len(d, r, 4, &n); n += 1; break;
	default: return fail(d, ERR_PROTO_MALFORMED, "msgpack: reserved type byte 0xc1");
	}
	if (rc)
		return rc;
	return n > buf_remaining(r) || buf_skip(r, (size_t)n) ? mp_trunc(d) : ERR_OK;
}

err_t ratls_msgpack_skip(struct buf_reader *r, unsigned depth, const char **detail)
{
	struct dec d = { NULL, NULL };
	err_t rc = mp_skip(&d, r, depth);

	if (rc != ERR_OK)
		SET_DETAIL(detail, d.detail);
	return rc;
}

/* A map of string keys, each value kept as a sub-reader; duplicates rejected, unknown keys left to the caller. */
struct mp_entry {
	const uint8_t *key;
	size_t key_len;
	struct buf_reader val;
	int used;
};

struct mp_map {
	struct mp_entry e[MP_MAX_KEYS];
	size_t n;
};

static err_t mp_read_map(struct dec *d, struct buf_reader *r, unsigned depth, struct mp_map *m)
{
	uint64_t n = 0;
	err_t rc;

	m->n = 0;
	if (depth > MP_MAX_DEPTH)
		return fail(d, ERR_PROTO_DEPTH, "msgpack nested too deeply");
	if ((rc = mp_container(d, r, 1, &n)))
		return rc;
	if (n > MP_MAX_KEYS)
		return fail(d, ERR_PROTO_TOO_LARGE, "msgpack map has too many keys");
	for (size_t i = 0; i < n; i++) {
		struct mp_entry *e = &m->e[i];
		size_t start;

		if ((rc = mp_str(d, r, 64, &e->key, &e->key_len)))
			return rc;
		for (size_t k = 0; k < i; k++)
			if (m->e[k].key_len == e->key_len && memcmp(m->e[k].key, e->key, e->key_len) == 0)
				return fail(d, ERR_PROTO_MALFORMED, "msgpack map has a duplicate key");
		start = r->pos;
		if ((rc = mp_skip(d, r, depth + 1)))
			return rc;
		buf_reader_init(&e->val, r->p + start, r->pos - start);
		e->used = 0;
		m->n = i + 1;
	}
	return ERR_OK;
}

/* The value of `key`, or NULL. */
static struct buf_reader *mp_get(struct mp_map *m, const char *key)
{
	size_t n = strlen(key);

	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].key_len == n && memcmp(m->e[i].key, key, n) == 0) {
			m->e[i].used = 1;
			return &m->e[i].val;
		}
	return NULL;
}

static int mp_is_nil(const struct buf_reader *r)
{
	return buf_remaining(r) == 1 && buf_cursor(r)[0] == 0xc0;
}

/* Required members: missing is ERR_PROTO_MALFORMED. Every value sub-reader must be consumed exactly. */
static err_t need(struct dec *d, struct buf_reader *v, const char *what)
{
	return v ? ERR_OK : fail(d, ERR_PROTO_MALFORMED, what);
}

static err_t mp_version(struct dec *d, struct buf_reader *v, int *out)
{
	uint64_t x = 0;
	err_t rc;

	*out = 1;
	if (!v)
		return ERR_OK;
	if (mp_is_nil(v))
		return buf_skip(v, 1) ? mp_trunc(d) : ERR_OK;
	if ((rc = mp_uint(d, v, 2, &x)))
		return rc;
	if (x != 1 && x != 2)
		return fail(d, ERR_PROTO_MALFORMED, "event version is not 1 or 2");
	*out = (int)x;
	return ERR_OK;
}

/* TdxEvent {imr, event_type, digest?, event, event_payload, version?, hash_input?} */
static err_t mp_tdx_event(struct dec *d, struct buf_reader *r, unsigned depth, struct ratls_event *e)
{
	struct mp_map m;
	struct buf_reader *v;
	uint64_t x = 0;
	err_t rc;

	if ((rc = mp_read_map(d, r, depth, &m)))
		return rc;
	if ((rc = need(d, v = mp_get(&m, "imr"), "TdxEvent without imr")) || (rc = mp_uint(d, v, UINT32_MAX, &x)))
		return rc;
	e->imr = (uint32_t)x;
	if ((rc = need(d, v = mp_get(&m, "event_type"), "TdxEvent without event_type")) ||
	    (rc = mp_uint(d, v, UINT32_MAX, &x)))
		return rc;
	e->event_type = (uint32_t)x;
	if ((v = mp_get(&m, "digest")) && (rc = mp_bytes(d, v, DIGEST_MAX, &e->digest, &e->digest_len)))
		return rc;
	if ((rc = need(d, v = mp_get(&m, "event"), "TdxEvent without event")) ||
	    (rc = mp_text(d, v, NAME_MAX_LEN, &e->name, &e->name_len)))
		return rc;
	if ((rc = need(d, v = mp_get(&m, "event_payload"), "TdxEvent without event_payload")) ||
	    (rc = mp_bytes(d, v, PAYLOAD_MAX, &e->payload, &e->payload_len)))
		return rc;
	return mp_version(d, mp_get(&m, "version"), &e->version);
}

/* RuntimeEvent {event, payload, version?} */
static err_t mp_runtime_event(struct dec *d, struct buf_reader *r, unsigned depth, struct ratls_event *e)
{
	struct mp_map m;
	struct buf_reader *v;
	err_t rc;

	if ((rc = mp_read_map(d, r, depth, &m)))
		return rc;
	if ((rc = need(d, v = mp_get(&m, "event"), "RuntimeEvent without event")) ||
	    (rc = mp_text(d, v, NAME_MAX_LEN, &e->name, &e->name_len)))
		return rc;
	if ((rc = need(d, v = mp_get(&m, "payload"), "RuntimeEvent without payload")) ||
	    (rc = mp_bytes(d, v, PAYLOAD_MAX, &e->payload, &e->payload_len)))
		return rc;
	e->imr = 3;
	e->event_type = ATTEST_RUNTIME_EVENT_TYPE;
	return mp_version(d, mp_get(&m, "version"), &e->version);
}

static err_t mp_events(struct dec *d, struct buf_reader *r, unsigned depth, int tdx, struct ratls_event **out,
		       size_t *n_out)
{
	uint64_t n = 0;
	struct ratls_event *ev;
	err_t rc;

	if ((rc = mp_container(d, r, 0, &n)))
		return rc;
	/* The smallest RuntimeEvent map is a dozen bytes; 4 is a safe floor for either kind. */
	ev = alloc_items(d, r, n, sizeof(*ev), 4, RATLS_MAX_EVENTS, &rc);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = tdx ? mp_tdx_event(d, r, depth + 1, &ev[i]) : mp_runtime_event(d, r, depth + 1, &ev[i])))
			return rc;
	*out = ev;
	*n_out = (size_t)n;
	return ERR_OK;
}

static int str_is(const uint8_t *p, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(p, s, n) == 0;
}

/* Every sub-reader handed out must have been read to its end: a value of the right type and nothing more. */
static err_t mp_done(struct dec *d, struct mp_map *m)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->e[i].used && buf_remaining(&m->e[i].val))
			return fail(d, ERR_PROTO_MALFORMED, "msgpack value has extra bytes");
	return ERR_OK;
}

static err_t mp_platform(struct dec *d, struct buf_reader *r, struct ratls_attestation *out)
{
	struct mp_map m, dm;
	struct buf_reader *kind, *data, *v;
	const uint8_t *k = NULL;
	size_t klen = 0;
	err_t rc;

	if ((rc = mp_read_map(d, r, 1, &m)))
		return rc;
	if ((rc = need(d, kind = mp_get(&m, "kind"), "platform without kind")) ||
	    (rc = need(d, data = mp_get(&m, "data"), "platform without data")) || (rc = mp_str(d, kind, 32, &k, &klen)) ||
	    (rc = mp_read_map(d, data, 2, &dm)))
		return rc;
	if (str_is(k, klen, "tdx") || str_is(k, klen, "gcp-tdx")) {
		out->platform = str_is(k, klen, "tdx") ? RATLS_PLATFORM_TDX : RATLS_PLATFORM_GCP_TDX;
		if ((rc = need(d, v = mp_get(&dm, "quote"), "tdx platform without quote")) ||
		    (rc = mp_bytes(d, v, RATLS_QUOTE_MAX, &out->quote, &out->quote_len)) ||
		    (rc = need(d, v = mp_get(&dm, "event_log"), "tdx platform without event_log")) ||
		    (rc = mp_events(d, v, 3, 1, &out->event_log, &out->n_event_log)))
			return rc;
	} else if (str_is(k, klen, "sev-snp")) {
		uint64_t n = 0;

		out->platform = RATLS_PLATFORM_SEV_SNP;
		if ((rc = need(d, v = mp_get(&dm, "report"), "sev-snp platform without report")) ||
		    (rc = mp_bytes(d, v, RATLS_QUOTE_MAX, &out->quote, &out->quote_len)) ||
		    (rc = need(d, v = mp_get(&dm, "cert_chain"), "sev-snp platform without cert_chain")) ||
		    (rc = mp_container(d, v, 0, &n)))
			return rc;
		out->cert_chain = alloc_items(d, v, n, sizeof(*out->cert_chain), 1, RATLS_MAX_CERTS, &rc);
		if (rc)
			return rc;
		for (size_t i = 0; i < n; i++)
			if ((rc = mp_bytes(d, v, RATLS_CERT_MAX, &out->cert_chain[i].p, &out->cert_chain[i].len)))
				return rc;
		out->n_cert_chain = (size_t)n;
		if ((rc = need(d, v = mp_get(&dm, "mr_config"), "sev-snp platform without mr_config")) ||
		    (rc = mp_text(d, v, RATLS_CONFIG_MAX, &out->mr_config, &out->mr_config_len)))
			return rc;
	} else if (str_is(k, klen, "nitro-enclave")) {
		out->platform = RATLS_PLATFORM_NITRO_ENCLAVE;
		if ((rc = need(d, v = mp_get(&dm, "nsm_quote"), "nitro-enclave platform without nsm_quote")) ||
		    (rc = mp_bytes(d, v, RATLS_QUOTE_MAX, &out->quote, &out->quote_len)))
			return rc;
	} else if (str_is(k, klen, "aws-nitro-tpm")) {
		out->platform = RATLS_PLATFORM_AWS_NITRO_TPM;
		if ((rc = need(d, v = mp_get(&dm, "attestation_doc"), "aws-nitro-tpm platform without attestation_doc")) ||
		    (rc = mp_bytes(d, v, RATLS_QUOTE_MAX, &out->quote, &out->quote_len)))
			return rc;
	} else {
		return fail(d, ERR_RATLS_UNSUPPORTED, "V1 platform kind not supported");
	}
	return (rc = mp_done(d, &dm)) ? rc : mp_done(d, &m);
}

static err_t mp_stack(struct dec *d, struct buf_reader *r, struct ratls_attestation *out)
{
	struct mp_map m, dm;
	struct buf_reader *kind, *data, *v;
	const uint8_t *k = NULL, *rd = NULL;
	size_t klen = 0, rdlen = 0;
	err_t rc;

	if ((rc = mp_read_map(d, r, 1, &m)))
		return rc;
	if ((rc = need(d, kind = mp_get(&m, "kind"), "stack without kind")) ||
	    (rc = need(d, data = mp_get(&m, "data"), "stack without data")) || (rc = mp_str(d, kind, 32, &k, &klen)) ||
	    (rc = mp_read_map(d, data, 2, &dm)))
		return rc;
	if (str_is(k, klen, "dstack-pod"))
		out->is_pod = 1;
	else if (!str_is(k, klen, "dstack"))
		return fail(d, ERR_RATLS_UNSUPPORTED, "V1 stack kind not supported");
	if ((rc = need(d, v = mp_get(&dm, "report_data"), "stack without report_data")) ||
	    (rc = mp_bytes(d, v, RATLS_REPORT_DATA_LEN, &rd, &rdlen)))
		return rc;
	if (rdlen != RATLS_REPORT_DATA_LEN)
		return fail(d, ERR_PROTO_MALFORMED, "stack.report_data is not 64 bytes");
	memcpy(out->report_data, rd, RATLS_REPORT_DATA_LEN);
	if ((rc = need(d, v = mp_get(&dm, "runtime_events"), "stack without runtime_events")) ||
	    (rc = mp_events(d, v, 3, 0, &out->runtime_events, &out->n_runtime_events)) ||
	    (rc = need(d, v = mp_get(&dm, "config"), "stack without config")) ||
	    (rc = mp_text(d, v, RATLS_CONFIG_MAX, &out->config, &out->config_len)))
		return rc;
	if (out->is_pod &&
	    ((rc = need(d, v = mp_get(&dm, "report_data_payload"), "dstack-pod stack without report_data_payload")) ||
	     (rc = mp_text(d, v, RATLS_CONFIG_MAX, &out->report_data_payload, &out->report_data_payload_len))))
		return rc;
	return (rc = mp_done(d, &dm)) ? rc : mp_done(d, &m);
}

static err_t decode_v1(struct dec *d, struct buf_reader *r, struct ratls_attestation *out)
{
	struct mp_map m;
	struct buf_reader *v;
	uint64_t version = 0;
	err_t rc;

	if ((rc = mp_read_map(d, r, 0, &m)))
		return rc;
	if (buf_expect_end(r))
		return fail(d, ERR_PROTO_TRAILING, "bytes after the V1 attestation");
	if ((rc = need(d, v = mp_get(&m, "version"), "V1 attestation without version")) ||
	    (rc = mp_uint(d, v, UINT32_MAX, &version)))
		return rc;
	if (version != 1)
		return fail(d, ERR_RATLS_UNSUPPORTED, "attestation msgpack version is not 1");
	out->version = 1;
	if ((rc = need(d, v = mp_get(&m, "platform"), "V1 attestation without platform")) ||
	    (rc = mp_platform(d, v, out)) || (rc = need(d, v = mp_get(&m, "stack"), "V1 attestation without stack")) ||
	    (rc = mp_stack(d, v, out)))
		return rc;
	return mp_done(d, &m);
}

err_t ratls_attestation_decode(const uint8_t *p, size_t len, struct arena *a, struct ratls_attestation *out,
			       const char **detail)
{
	struct dec d = { .a = a, .detail = NULL };
	struct buf_reader r;
	err_t rc;

	memset(out, 0, sizeof(*out));
	out->config = "";
	if (!p || !len) {
		SET_DETAIL(detail, "empty attestation");
		return ERR_PROTO_TRUNCATED;
	}
	if (len > RATLS_ATTESTATION_MAX) {
		SET_DETAIL(detail, "attestation over 10 MiB");
		return ERR_PROTO_TOO_LARGE;
	}
	buf_reader_init(&r, p, len);
	if (p[0] == 0x00)
		rc = decode_v0(&d, &r, out);
	else if ((p[0] >= 0x80 && p[0] <= 0x8f) || p[0] == 0xde || p[0] == 0xdf)
		rc = decode_v1(&d, &r, out);
	else
		rc = fail(&d, ERR_RATLS_UNSUPPORTED, "attestation is neither V0 (0x00) nor a msgpack map");
	SET_DETAIL(detail, d.detail);
	if (rc != ERR_OK) {
		struct ratls_attestation z = { 0 };

		*out = z;
		out->config = "";
	}
	return rc;
}

/* ============================================================================================== */
/* Encoders                                                                                       */

static void sc_put_compact(struct buf_writer *w, uint64_t v)
{
	if (v < 64) {
		buf_put_u8(w, (uint8_t)(v << 2));
	} else if (v < (1u << 14)) {
		buf_put_u16le(w, (uint16_t)(v << 2 | 1));
	} else if (v < (1u << 30)) {
		buf_put_u32le(w, (uint32_t)(v << 2 | 2));
	} else {
		w->err = w->err ? w->err : ERR_PROTO_TOO_LARGE;   /* never this large: caps are far lower */
	}
}

static void sc_put_bytes(struct buf_writer *w, const void *p, size_t n)
{
	sc_put_compact(w, n);
	if (n)
		buf_put(w, p, n);
}

static void mp_put_uint(struct buf_writer *w, uint64_t v)
{
	if (v <= 0x7f) {
		buf_put_u8(w, (uint8_t)v);
	} else if (v <= 0xff) {
		buf_put_u8(w, 0xcc);
		buf_put_u8(w, (uint8_t)v);
	} else if (v <= 0xffff) {
		buf_put_u8(w, 0xcd);
		buf_put_u16be(w, (uint16_t)v);
	} else if (v <= 0xffffffffu) {
		buf_put_u8(w, 0xce);
		buf_put_u32be(w, (uint32_t)v);
	} else {
		buf_put_u8(w, 0xcf);
		buf_put_u64be(w, v);
	}
}

static void mp_put_hdr(struct buf_writer *w, uint8_t fix, uint8_t fixmax, uint8_t t8, uint8_t t16, uint8_t t32,
		       size_t n)
{
	if (n <= fixmax) {
		buf_put_u8(w, (uint8_t)(fix | n));
	} else if (t8 && n <= 0xff) {
		buf_put_u8(w, t8);
		buf_put_u8(w, (uint8_t)n);
	} else if (n <= 0xffff) {
		buf_put_u8(w, t16);
		buf_put_u16be(w, (uint16_t)n);
	} else {
		buf_put_u8(w, t32);
		buf_put_u32be(w, (uint32_t)n);
	}
}

static void mp_put_map(struct buf_writer *w, size_t n)
{
	mp_put_hdr(w, 0x80, 15, 0, 0xde, 0xdf, n);
}

static void mp_put_array(struct buf_writer *w, size_t n)
{
	mp_put_hdr(w, 0x90, 15, 0, 0xdc, 0xdd, n);
}

static void mp_put_strn(struct buf_writer *w, const char *s, size_t n)
{
	mp_put_hdr(w, 0xa0, 31, 0xd9, 0xda, 0xdb, n);
	if (n)
		buf_put(w, s, n);
}

static void mp_put_str(struct buf_writer *w, const char *s)
{
	mp_put_strn(w, s, strlen(s));
}

void ratls_msgpack_put_bin(struct buf_writer *w, const uint8_t *p, size_t n)
{
	if (n <= 0xff) {
		buf_put_u8(w, 0xc4);
		buf_put_u8(w, (uint8_t)n);
	} else if (n <= 0xffff) {
		buf_put_u8(w, 0xc5);
		buf_put_u16be(w, (uint16_t)n);
	} else {
		buf_put_u8(w, 0xc6);
		buf_put_u32be(w, (uint32_t)n);
	}
	if (n)
		buf_put(w, p, n);
}

/* A plain Vec<u8> as rmp_serde writes it: an array of integers. */
static void mp_put_vec_u8(struct buf_writer *w, const uint8_t *p, size_t n)
{
	mp_put_array(w, n);
	for (size_t i = 0; i < n; i++)
		mp_put_uint(w, p[i]);
}

static void mp_put_tdx_event(struct buf_writer *w, const struct ratls_event *e)
{
	mp_put_map(w, e->version == 2 ? 6 : 5);
	mp_put_str(w, "imr");
	mp_put_uint(w, e->imr);
	mp_put_str(w, "event_type");
	mp_put_uint(w, e->event_type);
	mp_put_str(w, "digest");
	ratls_msgpack_put_bin(w, e->digest, e->digest_len);
	mp_put_str(w, "event");
	mp_put_strn(w, e->name ? e->name : "", e->name_len);
	mp_put_str(w, "event_payload");
	ratls_msgpack_put_bin(w, e->payload, e->payload_len);
	if (e->version == 2) {
		mp_put_str(w, "version");
		mp_put_uint(w, 2);
	}
}

static void mp_put_runtime_event(struct buf_writer *w, const struct ratls_event *e)
{
	mp_put_map(w, 3);
	mp_put_str(w, "event");
	mp_put_strn(w, e->name ? e->name : "", e->name_len);
	mp_put_str(w, "payload");
	ratls_msgpack_put_bin(w, e->payload, e->payload_len);
	mp_put_str(w, "version");
	mp_put_uint(w, e->version == 2 ? 2 : 1);
}

static err_t encode_v1(const struct ratls_attestation *att, struct buf_writer *w)
{
	mp_put_map(w, 3);
	mp_put_str(w, "version");
	mp_put_uint(w, 1);
	mp_put_str(w, "platform");
	mp_put_map(w, 2);
	mp_put_str(w, "kind");
	if (att->platform == RATLS_PLATFORM_TDX) {
		mp_put_str(w, "tdx");
		mp_put_str(w, "data");
		mp_put_map(w, 2);
		mp_put_str(w, "quote");
		mp_put_vec_u8(w, att->quote, att->quote_len);
		mp_put_str(w, "event_log");
		mp_put_array(w, att->n_event_log);
		for (size_t i = 0; i < att->n_event_log; i++)
			mp_put_tdx_event(w, &att->event_log[i]);
	} else {
		mp_put_str(w, "sev-snp");
		mp_put_str(w, "data");
		mp_put_map(w, 3);
		mp_put_str(w, "report");
		mp_put_vec_u8(w, att->quote, att->quote_len);
		mp_put_str(w, "cert_chain");
		mp_put_array(w, att->n_cert_chain);
		for (size_t i = 0; i < att->n_cert_chain; i++)
			mp_put_vec_u8(w, att->cert_chain[i].p, att->cert_chain[i].len);
		mp_put_str(w, "mr_config");
		mp_put_strn(w, att->mr_config ? att->mr_config : "", att->mr_config_len);
	}
	mp_put_str(w, "stack");
	mp_put_map(w, 2);
	mp_put_str(w, "kind");
	mp_put_str(w, "dstack");
	mp_put_str(w, "data");
	mp_put_map(w, 3);
	mp_put_str(w, "report_data");
	mp_put_vec_u8(w, att->report_data, RATLS_REPORT_DATA_LEN);
	mp_put_str(w, "runtime_events");
	mp_put_array(w, att->n_runtime_events);
	for (size_t i = 0; i < att->n_runtime_events; i++)
		mp_put_runtime_event(w, &att->runtime_events[i]);
	mp_put_str(w, "config");
	mp_put_strn(w, att->config ? att->config : "", att->config ? att->config_len : 0);
	return buf_writer_status(w);
}

static err_t encode_v0(const struct ratls_attestation *att, struct buf_writer *w)
{
	for (size_t i = 0; i < att->n_event_log; i++)
		if (att->event_log[i].version == 2)
			return ERR_INVALID_ARG;
	for (size_t i = 0; i < att->n_runtime_events; i++)
		if (att->runtime_events[i].version == 2)
			return ERR_INVALID_ARG;
	buf_put_u8(w, 0x00);
	if (att->platform == RATLS_PLATFORM_TDX) {
		buf_put_u8(w, 0);
		sc_put_bytes(w, att->quote, att->quote_len);
		sc_put_compact(w, att->n_event_log);
		for (size_t i = 0; i < att->n_event_log; i++) {
			const struct ratls_event *e = &att->event_log[i];

			buf_put_u32le(w, e->imr);
			buf_put_u32le(w, e->event_type);
			sc_put_bytes(w, e->digest, e->digest_len);
			sc_put_bytes(w, e->name, e->name_len);
			sc_put_bytes(w, e->payload, e->payload_len);
		}
	} else {
		buf_put_u8(w, 3);
		sc_put_bytes(w, att->quote, att->quote_len);
		sc_put_compact(w, att->n_cert_chain);
		for (size_t i = 0; i < att->n_cert_chain; i++)
			sc_put_bytes(w, att->cert_chain[i].p, att->cert_chain[i].len);
		sc_put_bytes(w, att->mr_config, att->mr_config ? att->mr_config_len : 0);
	}
	sc_put_compact(w, att->n_runtime_events);
	for (size_t i = 0; i < att->n_runtime_events; i++) {
		sc_put_bytes(w, att->runtime_events[i].name, att->runtime_events[i].name_len);
		sc_put_bytes(w, att->runtime_events[i].payload, att->runtime_events[i].payload_len);
	}
	buf_put(w, att->report_data, RATLS_REPORT_DATA_LEN);
	sc_put_bytes(w, att->config, att->config ? att->config_len : 0);
	return buf_writer_status(w);
}

err_t ratls_attestation_encode(const struct ratls_attestation *att, struct buf_writer *w)
{
	if (!att || (att->platform != RATLS_PLATFORM_TDX && att->platform != RATLS_PLATFORM_SEV_SNP) ||
	    (att->version != 0 && att->version != 1) || (att->quote_len && !att->quote) ||
	    att->quote_len > RATLS_QUOTE_MAX || att->n_event_log > RATLS_MAX_EVENTS ||
	    att->n_runtime_events > RATLS_MAX_EVENTS || att->n_cert_chain > RATLS_MAX_CERTS)
		return ERR_INVALID_ARG;
	return att->version == 0 ? encode_v0(att, w) : encode_v1(att, w);
}

/* ============================================================================================== */
/* Evidence from a backend quote and from a certificate                                          */

void ratls_quote_clear(struct ratls_quote *q)
{
	if (!q)
		return;
	free(q->quote);
	free(q->event_log);
	free(q->config);
	memset(q, 0, sizeof(*q));
}

/* The report data inside a TDX quote (v4/v5 TD body), or an error when it does not parse. */
static err_t quote_report_data(const uint8_t *q, size_t n, uint8_t out[64])
{
	struct dcap_quote dq;
	struct attest_td_report td;

	if (dcap_quote_parse(q, n, &dq, NULL) != ERR_OK || dq.tee_type != DCAP_TEE_TDX)
		return ERR_RATLS_EVIDENCE_FORMAT;
	dcap_td_report_decode(dq.body, dq.body_len, &td);
	memcpy(out, td.report_data, 64);
	return ERR_OK;
}

/* Runtime (IMR 3) events of a parsed JSON log as ratls events: stripped TdxEvents and RuntimeEvents share them. */
static err_t runtime_from_log(const struct attest_eventlog *log, struct arena *a, struct ratls_event **out, size_t *n)
{
	struct ratls_event *ev;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < log->n; i++)
		k += log->events[i].imr == 3 && log->events[i].event_type == ATTEST_RUNTIME_EVENT_TYPE;
	if (!k)
		return ERR_OK;
	ev = arena_zalloc(a, k * sizeof(*ev));
	if (!ev)
		return arena_err(a);
	k = 0;
	for (size_t i = 0; i < log->n; i++) {
		const struct attest_event *e = &log->events[i];

		if (e->imr != 3 || e->event_type != ATTEST_RUNTIME_EVENT_TYPE)
			continue;
		ev[k].imr = 3;
		ev[k].event_type = e->event_type;
		ev[k].name = e->name;
		ev[k].name_len = e->name_len;
		ev[k].payload = e->payload;
		ev[k].payload_len = e->payload_len;
		ev[k].version = e->version == 2 ? 2 : 1;
		k++;
	}
	*out = ev;
	*n = k;
	return ERR_OK;
}

err_t ratls_attestation_from_quote(const struct ratls_quote *q, const uint8_t report_data[RATLS_REPORT_DATA_LEN],
				   struct buf_writer *w, const char **detail)
{
	struct ratls_attestation att;
	struct attest_eventlog log;
	uint8_t quoted[64];
	struct arena a;
	err_t rc;

	memset(&att, 0, sizeof(att));
	memset(&log, 0, sizeof(log));
	arena_init(&a, 16u << 20, 64u << 10);
	if (!q || !q->quote || !q->quote_len || q->quote_len > RATLS_QUOTE_MAX) {
		SET_DETAIL(detail, "the backend returned no quote");
		rc = ERR_INVALID_ARG;
		goto out;
	}
	if (quote_report_data(q->quote, q->quote_len, quoted) != ERR_OK) {
		SET_DETAIL(detail, "the backend's quote is not a TDX quote");
		rc = ERR_RATLS_EVIDENCE_FORMAT;
		goto out;
	}
	if (memcmp(quoted, report_data, 64) != 0) {
		SET_DETAIL(detail, "the backend's quote does not carry the requested report data");
		rc = ERR_RATLS_BINDING;
		goto out;
	}
	if (q->event_log && q->event_log_len &&
	    (rc = attest_eventlog_parse_json(q->event_log, q->event_log_len, &a, &log, detail)) != ERR_OK)
		goto out;
	if ((rc = runtime_from_log(&log, &a, &att.runtime_events, &att.n_runtime_events)) != ERR_OK)
		goto out;
	att.platform = RATLS_PLATFORM_TDX;
	att.quote = q->quote;
	att.quote_len = q->quote_len;
	/* Stripped as dstack strips it for certificates: the RTMR3 events, without digests. */
	att.event_log = att.runtime_events;
	att.n_event_log = att.n_runtime_events;
	memcpy(att.report_data, report_data, 64);
	att.config = q->config ? q->config : "";
	att.config_len = q->config ? q->config_len : 0;
	for (size_t i = 0; i < att.n_runtime_events; i++)
		if (att.runtime_events[i].version == 2)
			att.version = 1;   /* V0 cannot say an event is V2: the guest switches to V1 */
	rc = ratls_attestation_encode(&att, w);
out:
	arena_fini(&a);
	return rc;
}

err_t ratls_cert_new_attested(const struct ratls_cert_params *p, EVP_PKEY *key, ratls_quote_fn quote, void *arg,
			      X509 *issuer, EVP_PKEY *issuer_key, X509 **out, const char **detail)
{
	struct ratls_cert_params cp;
	struct ratls_quote q;
	struct buf_writer w;
	uint8_t rd[RATLS_REPORT_DATA_LEN];
	err_t rc;

	*out = NULL;
	memset(&q, 0, sizeof(q));
	buf_writer_init(&w, RATLS_ATTESTATION_MAX);
	if (!p || !key || !quote || p->attestation) {
		rc = ERR_INVALID_ARG;
		goto out;
	}
	if ((rc = ratls_report_data(key, rd)) != ERR_OK)
		goto out;
	if ((rc = quote(arg, rd, &q)) != ERR_OK) {
		SET_DETAIL(detail, "the TEE backend could not produce a quote");
		goto out;
	}
	if ((rc = ratls_attestation_from_quote(&q, rd, &w, detail)) != ERR_OK)
		goto out;
	cp = *p;
	cp.attestation = w.p;
	cp.attestation_len = w.len;
	rc = ratls_cert_build(&cp, key, issuer, issuer_key, out);
out:
	ratls_quote_clear(&q);
	buf_writer_free(&w);
	return rc;
}

/* Legacy certificates: TDX_QUOTE (+ EVENT_LOG JSON) as one attestation. */
static err_t legacy_evidence(const struct ratls_cert_ext *x, struct arena *a, struct ratls_attestation *out,
			     const char **detail)
{
	struct attest_eventlog *log;
	struct ratls_event *ev;
	err_t rc;

	if (x->tdx_quote.len > RATLS_QUOTE_MAX) {
		SET_DETAIL(detail, "the TDX_QUOTE extension is over the quote limit");
		return ERR_PROTO_TOO_LARGE;
	}
	out->version = -1;
	out->platform = RATLS_PLATFORM_TDX;
	out->quote = x->tdx_quote.p;
	out->quote_len = x->tdx_quote.len;
	if (quote_report_data(out->quote, out->quote_len, out->report_data) != ERR_OK) {
		SET_DETAIL(detail, "the legacy TDX_QUOTE extension does not parse as a TDX quote");
		return ERR_RATLS_EVIDENCE_FORMAT;
	}
	if (!x->event_log.p)
		return ERR_OK;
	if (x->event_log.len >= 6 && memcmp(x->event_log.p, "ELGZv1", 6) == 0) {
		SET_DETAIL(detail, "gzip-compressed legacy event logs (ELGZv1) are not supported");
		return ERR_RATLS_UNSUPPORTED;
	}
	log = arena_zalloc(a, sizeof(*log));
	if (!log)
		return arena_err(a);
	rc = attest_eventlog_parse_json((const char *)x->event_log.p, x->event_log.len, a, log, detail);
	if (rc != ERR_OK)
		return rc == ERR_BUDGET || rc == ERR_NOMEM ? rc : ERR_RATLS_EVIDENCE_FORMAT;
	if ((rc = runtime_from_log(log, a, &out->runtime_events, &out->n_runtime_events)) != ERR_OK)
		return rc;
	ev = log->n ? arena_zalloc(a, log->n * sizeof(*ev)) : NULL;
	if (log->n && !ev)
		return arena_err(a);
	for (size_t i = 0; i < log->n; i++) {
		const struct attest_event *e = &log->events[i];

		ev[i].imr = e->imr;
		ev[i].event_type = e->event_type;
		ev[i].digest = e->digest;
		ev[i].digest_len = e->extended ? ATTEST_RTMR_LEN : 0;
		ev[i].name = e->name;
		ev[i].name_len = e->name_len;
		ev[i].payload = e->payload;
		ev[i].payload_len = e->payload_len;
		ev[i].version = e->version == 2 ? 2 : 1;
	}
	out->event_log = ev;
	out->n_event_log = log->n;
	return ERR_OK;
}

err_t ratls_cert_evidence(X509 *x, struct arena *a, struct ratls_attestation *out, const char **detail)
{
	struct ratls_cert_ext ext;
	err_t rc;

	memset(out, 0, sizeof(*out));
	out->config = "";
	if ((rc = ratls_cert_ext_read(x, &ext, detail)) != ERR_OK)
		return rc;
	if (ext.attestation.p) {
		rc = ratls_attestation_decode(ext.attestation.p, ext.attestation.len, a, out, detail);
		if (rc == ERR_BUDGET || rc == ERR_NOMEM || rc == ERR_RATLS_UNSUPPORTED)
			return rc;
		return rc == ERR_OK ? ERR_OK : ERR_RATLS_EVIDENCE_FORMAT;
	}
	if (ext.tdx_quote.p)
		return legacy_evidence(&ext, a, out, detail);
	SET_DETAIL(detail, "the certificate has neither the ATTESTATION nor the TDX_QUOTE extension");
	return ERR_RATLS_NO_EVIDENCE;
}

err_t ratls_attestation_legacy(const uint8_t *quote, size_t quote_len, const uint8_t *event_log, size_t event_log_len,
			       struct arena *a, struct ratls_attestation *out, const char **detail)
{
	struct ratls_cert_ext ext;
	err_t rc;

	memset(out, 0, sizeof(*out));
	out->config = "";
	memset(&ext, 0, sizeof(ext));
	if (!quote || !quote_len || (event_log_len && !event_log)) {
		SET_DETAIL(detail, "no TDX quote");
		return ERR_RATLS_EVIDENCE_FORMAT;
	}
	ext.tdx_quote = (struct ratls_blob){ quote, quote_len };
	if (event_log_len)
		ext.event_log = (struct ratls_blob){ event_log, event_log_len };
	rc = legacy_evidence(&ext, a, out, detail);
	if (rc != ERR_OK) {
		memset(out, 0, sizeof(*out));
		out->config = "";
	}
	return rc;
}
