/* SPDX-License-Identifier: Apache-2.0 */
/* Parsing, validation and RTMR replay of dstack's JSON event log and of the CCEL binary boot log. */
#include "eventlog.h"

#include <inttypes.h>
#include <string.h>

#include "crypto.h"
#include "enc.h"
#include "json.h"

#define SET_DETAIL(d, s)              \
	do {                          \
		if (d)                \
			*(d) = (s);   \
	} while (0)

/* The V2 preimage of the largest event we accept: every name byte escaped as \u00XX, payload as hex. */
#define V2_PREIMAGE_MAX (6 * ATTEST_EVENTLOG_MAX_NAME + 2 * ATTEST_EVENTLOG_MAX_PAYLOAD + 64)

static const char V2_HEAD[] = "{\"name\":\"";
static const char V2_MID[] = "\",\"payload\":\"";
static const char V2_TAIL[] = "\",\"type\":134217729}";

void attest_rtmr_extend(uint8_t mr[ATTEST_RTMR_LEN], const uint8_t digest[ATTEST_RTMR_LEN])
{
	const void *parts[2] = { mr, digest };
	const size_t lens[2] = { ATTEST_RTMR_LEN, ATTEST_RTMR_LEN };
	uint8_t out[ATTEST_RTMR_LEN];

	sha384_parts(parts, lens, 2, out);
	memcpy(mr, out, ATTEST_RTMR_LEN);
}

static void put_type_le(uint8_t out[4])
{
	out[0] = (uint8_t)(ATTEST_RUNTIME_EVENT_TYPE & 0xff);
	out[1] = (uint8_t)((ATTEST_RUNTIME_EVENT_TYPE >> 8) & 0xff);
	out[2] = (uint8_t)((ATTEST_RUNTIME_EVENT_TYPE >> 16) & 0xff);
	out[3] = (uint8_t)((ATTEST_RUNTIME_EVENT_TYPE >> 24) & 0xff);
}

void attest_event_digest_v1(const char *name, size_t name_len, const uint8_t *payload, size_t payload_len,
			    uint8_t out[ATTEST_RTMR_LEN])
{
	uint8_t type[4];
	const void *parts[5];
	size_t lens[5];

	put_type_le(type);
	parts[0] = type;
	lens[0] = 4;
	parts[1] = ":";
	lens[1] = 1;
	parts[2] = name_len ? (const void *)name : "";
	lens[2] = name_len;
	parts[3] = ":";
	lens[3] = 1;
	parts[4] = payload_len ? (const void *)payload : "";
	lens[4] = payload_len;
	sha384_parts(parts, lens, 5, out);
}

/* Does `pre` equal the V1 preimage u32le(type) || ":" || name || ":" || payload? */
static int v1_preimage_equal(const uint8_t *pre, size_t pre_len, const struct attest_event *e)
{
	uint8_t type[4];

	put_type_le(type);
	if (pre_len != 4 + 1 + e->name_len + 1 + e->payload_len)
		return 0;
	if (memcmp(pre, type, 4) != 0 || pre[4] != ':' || pre[5 + e->name_len] != ':')
		return 0;
	if (e->name_len && memcmp(pre + 5, e->name, e->name_len) != 0)
		return 0;
	if (e->payload_len && memcmp(pre + 6 + e->name_len, e->payload, e->payload_len) != 0)
		return 0;
	return 1;
}

/*
 * A JSON string body as RFC 8785 serialises it: '"' and '\\' escaped, the
 * five short escapes, other controls as \u00xx (lowercase), everything else
 * (including DEL and non-ASCII UTF-8) verbatim.
 */
static void put_jcs_string_body(struct buf_writer *w, const char *s, size_t len)
{
	static const char hexd[] = "0123456789abcdef";
	size_t run = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6];
		size_t esc_len = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (i > run)
			buf_put(w, s + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hexd[c >> 4];
			esc[5] = hexd[c & 0xf];
			esc_len = 6;
			break;
		}
		buf_put(w, esc, esc_len);
	}
	if (len > run)
		buf_put(w, s + run, len - run);
}

err_t attest_event_preimage_v2(const char *name, size_t name_len, const uint8_t *payload, size_t payload_len,
			       struct buf_writer *w)
{
	uint8_t *hex;

	buf_put(w, V2_HEAD, sizeof(V2_HEAD) - 1);
	put_jcs_string_body(w, name, name_len);
	buf_put(w, V2_MID, sizeof(V2_MID) - 1);
	if (payload_len > (SIZE_MAX - 1) / 2)
		return ERR_PROTO_TOO_LARGE;
	hex = buf_reserve(w, 2 * payload_len + 1);
	if (hex) {
		hex_encode((char *)hex, payload, payload_len);
		buf_commit(w, 2 * payload_len);
	}
	buf_put(w, V2_TAIL, sizeof(V2_TAIL) - 1);
	return buf_writer_status(w);
}

err_t attest_event_digest_v2(const char *name, size_t name_len, const uint8_t *payload, size_t payload_len,
			     uint8_t out[ATTEST_RTMR_LEN])
{
	struct buf_writer w;
	err_t rc;

	if (name_len > ATTEST_EVENTLOG_MAX_NAME || payload_len > ATTEST_EVENTLOG_MAX_PAYLOAD)
		return ERR_PROTO_TOO_LARGE;
	buf_writer_init(&w, V2_PREIMAGE_MAX);
	rc = attest_event_preimage_v2(name, name_len, payload, payload_len, &w);
	if (rc == ERR_OK)
		sha384(w.p, w.len, out);
	buf_writer_free(&w);
	return rc;
}

/* Replay every extended event into its RTMR; the boot-time RTMR3 and the trusted prefix too. */
static void replay(struct attest_eventlog *log, const struct attest_event *ev, size_t n)
{
	int boot_frozen = 0;

	memset(log->rtmr, 0, sizeof(log->rtmr));
	memset(log->rtmr3_boot, 0, sizeof(log->rtmr3_boot));
	log->has_boot_mr_done = 0;
	log->has_system_ready = 0;
	log->n_trusted = n;
	log->imr_mask = 0;
	for (size_t i = 0; i < n; i++) {
		const struct attest_event *e = &ev[i];
		int runtime = e->imr == 3 && e->event_type == ATTEST_RUNTIME_EVENT_TYPE;

		if (e->extended) {
			attest_rtmr_extend(log->rtmr[e->imr], e->digest);
			log->imr_mask |= 1u << e->imr;
			if (e->imr == 3 && !boot_frozen)
				attest_rtmr_extend(log->rtmr3_boot, e->digest);
		}
		if (!runtime)
			continue;
		if (!log->has_system_ready && !boot_frozen && e->name_len == sizeof(ATTEST_EV_BOOT_MR_DONE) - 1 &&
		    memcmp(e->name, ATTEST_EV_BOOT_MR_DONE, e->name_len) == 0) {
			boot_frozen = 1;
			log->has_boot_mr_done = 1;
		}
		if (!log->has_system_ready && e->name_len == sizeof(ATTEST_EV_SYSTEM_READY) - 1 &&
		    memcmp(e->name, ATTEST_EV_SYSTEM_READY, e->name_len) == 0) {
			log->has_system_ready = 1;
			log->n_trusted = i;
		}
	}
	if (!log->has_boot_mr_done)
		memcpy(log->rtmr3_boot, log->rtmr[3], ATTEST_RTMR_LEN);
	log->events = ev;
	log->n = n;
}

/* ---- JSON ---- */

/* A hex string member decoded into the arena; absent -> *present = 0. */
static err_t get_hex_member(const struct json_value *obj, const char *key, size_t max, struct arena *a,
			    const uint8_t **out, size_t *out_len, int *present, const char **detail)
{
	const struct json_value *v = json_get(obj, key);
	uint8_t *buf;
	size_t n = 0;

	*out = NULL;
	*out_len = 0;
	*present = 0;
	if (!v)
		return ERR_OK;
	if (v->type != JSON_STRING) {
		SET_DETAIL(detail, "event log field is not a hex string");
		return ERR_ATTEST_EVENT_LOG;
	}
	*present = 1;
	if (v->u.str.len / 2 > max)
		return ERR_PROTO_TOO_LARGE;
	buf = arena_alloc(a, v->u.str.len / 2 + 1);
	if (!buf)
		return arena_err(a);
	if (hex_decode(buf, v->u.str.len / 2 + 1, &n, v->u.str.s, v->u.str.len, 0) != ERR_OK) {
		SET_DETAIL(detail, "event log field is not valid hex");
		return ERR_ATTEST_EVENT_LOG;
	}
	*out = buf;
	*out_len = n;
	return ERR_OK;
}

static err_t get_u32_member(const struct json_value *obj, const char *key, uint32_t *out, const char **detail)
{
	uint64_t v = 0;
	err_t rc = json_get_u64(obj, key, &v);

	if (rc == ERR_NOT_FOUND) {
		SET_DETAIL(detail, "event log entry lacks imr or event_type");
		return ERR_ATTEST_EVENT_LOG;
	}
	if (rc != ERR_OK || v > UINT32_MAX) {
		SET_DETAIL(detail, "event log imr or event_type is not a u32");
		return ERR_ATTEST_EVENT_LOG;
	}
	*out = (uint32_t)v;
	return ERR_OK;
}

/* Recompute a runtime event's digest, checking the given preimage and digest against it. */
static err_t runtime_digest(struct attest_event *e, int version, const uint8_t *pre, size_t pre_len, int has_pre,
			    const uint8_t *given, struct buf_writer *w, const char **detail)
{
	int is_v2 = 0, is_v1 = 0;
	err_t rc;

	buf_writer_clear(w);
	if (has_pre || version == 2) {
		rc = attest_event_preimage_v2(e->name, e->name_len, e->payload, e->payload_len, w);
		if (rc != ERR_OK)
			return rc;
	}
	if (has_pre) {
		is_v2 = pre_len == w->len && memcmp(pre, w->p, pre_len) == 0;
		is_v1 = !is_v2 && v1_preimage_equal(pre, pre_len, e);
		if ((version == 2 && !is_v2) || (version == 1 && !is_v1) || (!is_v1 && !is_v2)) {
			SET_DETAIL(detail, "event preimage is not the canonical form of the event");
			return ERR_ATTEST_EVENT_LOG;
		}
		version = is_v2 ? 2 : 1;
		e->has_preimage = 1;
	} else if (version == 0) {
		version = 1;
	}
	e->version = version;
	if (version == 2)
		sha384(w->p, w->len, e->digest);
	else
		attest_event_digest_v1(e->name, e->name_len, e->payload, e->payload_len, e->digest);
	if (given && memcmp(given, e->digest, ATTEST_RTMR_LEN) != 0) {
		SET_DETAIL(detail, "runtime event digest does not match its name and payload");
		return ERR_ATTEST_EVENT_LOG;
	}
	return ERR_OK;
}

/* IMR range, and runtime events exactly on IMR 3. */
static err_t check_placement(const struct attest_event *e, const char **detail)
{
	if (e->imr > 3) {
		SET_DETAIL(detail, "event imr out of range 0..3");
		return ERR_ATTEST_EVENT_LOG;
	}
	if ((e->event_type == ATTEST_RUNTIME_EVENT_TYPE) != (e->imr == 3)) {
		SET_DETAIL(detail, "runtime events (type 0x08000001) must be exactly the IMR 3 events");
		return ERR_ATTEST_EVENT_LOG;
	}
	return ERR_OK;
}

/* The rest of the per-event rules once the fields are known; sets digest, digest_given, version, extended. */
static err_t finish_event(struct attest_event *e, int version, const uint8_t *given, const uint8_t *pre,
			  size_t pre_len, int has_pre, struct buf_writer *w, const char **detail)
{
	e->digest_given = given != NULL;
	e->extended = e->event_type != ATTEST_EV_NO_ACTION;
	e->version = 0;
	e->has_preimage = 0;
	if (e->imr < 3) {
		if (!given) {
			SET_DETAIL(detail, "boot event (IMR 0-2) without a 48-byte digest");
			return ERR_ATTEST_EVENT_LOG;
		}
		if (has_pre) {
			SET_DETAIL(detail, "preimage on a boot event");
			return ERR_ATTEST_EVENT_LOG;
		}
		memcpy(e->digest, given, ATTEST_RTMR_LEN);
		return ERR_OK;
	}
	return runtime_digest(e, version, pre, pre_len, has_pre, given, w, detail);
}

static err_t parse_event(const struct json_value *item, struct arena *a, struct buf_writer *w,
			 struct attest_event *e, const char **detail)
{
	const uint8_t *digest = NULL, *pre = NULL;
	size_t digest_len = 0, pre_len = 0;
	int has_digest = 0, has_pre = 0, has_payload = 0;
	uint64_t version = 0;
	const struct json_value *name;
	err_t rc;

	memset(e, 0, sizeof(*e));
	if (item->type != JSON_OBJECT) {
		SET_DETAIL(detail, "event log entry is not an object");
		return ERR_ATTEST_EVENT_LOG;
	}
	if ((rc = get_u32_member(item, "imr", &e->imr, detail)) != ERR_OK ||
	    (rc = get_u32_member(item, "event_type", &e->event_type, detail)) != ERR_OK)
		return rc;
	if ((rc = check_placement(e, detail)) != ERR_OK)
		return rc;
	name = json_get(item, "event");
	if (!name || name->type != JSON_STRING) {
		SET_DETAIL(detail, "event name missing or not a string");
		return ERR_ATTEST_EVENT_LOG;
	}
	if (name->u.str.len > ATTEST_EVENTLOG_MAX_NAME)
		return ERR_PROTO_TOO_LARGE;
	e->name = name->u.str.s;
	e->name_len = name->u.str.len;
	rc = get_hex_member(item, "event_payload", ATTEST_EVENTLOG_MAX_PAYLOAD, a, &e->payload, &e->payload_len,
			    &has_payload, detail);
	if (rc != ERR_OK)
		return rc;
	if (!has_payload) {
		SET_DETAIL(detail, "event_payload missing");
		return ERR_ATTEST_EVENT_LOG;
	}
	rc = get_hex_member(item, "digest", ATTEST_RTMR_LEN, a, &digest, &digest_len, &has_digest, detail);
	if (rc == ERR_PROTO_TOO_LARGE || (rc == ERR_OK && digest_len != 0 && digest_len != ATTEST_RTMR_LEN)) {
		SET_DETAIL(detail, "event digest is not 48 bytes");
		return ERR_ATTEST_EVENT_LOG;
	}
	if (rc != ERR_OK)
		return rc;
	if ((rc = get_hex_member(item, "preimage", V2_PREIMAGE_MAX, a, &pre, &pre_len, &has_pre, detail)) != ERR_OK)
		return rc;
	if (json_get(item, "version")) {
		if (json_get_u64(item, "version", &version) != ERR_OK || version < 1 || version > 2) {
			SET_DETAIL(detail, "event version is not 1 or 2");
			return ERR_ATTEST_EVENT_LOG;
		}
	}
	return finish_event(e, (int)version, digest_len == ATTEST_RTMR_LEN ? digest : NULL, pre, pre_len, has_pre, w,
			    detail);
}

err_t attest_eventlog_parse_json(const char *text, size_t len, struct arena *a, struct attest_eventlog *out,
				 const char **detail)
{
	struct json_limits lim = { .max_depth = 8, .max_len = ATTEST_EVENTLOG_MAX_TEXT };
	struct json_value *root = NULL;
	struct attest_event *ev = NULL;
	struct buf_writer w;
	size_t off = 0;
	err_t rc;

	memset(out, 0, sizeof(*out));
	buf_writer_init(&w, V2_PREIMAGE_MAX);
	if (len > ATTEST_EVENTLOG_MAX_TEXT) {
		SET_DETAIL(detail, "event log text too large");
		rc = ERR_PROTO_TOO_LARGE;
		goto out;
	}
	rc = json_parse(text, len, &lim, a, &root, &off);
	if (rc == ERR_PROTO_JSON || rc == ERR_PROTO_ENCODING || rc == ERR_PROTO_DEPTH) {
		SET_DETAIL(detail, "event log is not valid JSON");
		rc = ERR_ATTEST_EVENT_LOG;
		goto out;
	}
	if (rc != ERR_OK)
		goto out;
	if (root->type != JSON_ARRAY) {
		SET_DETAIL(detail, "event log is not a JSON array");
		rc = ERR_ATTEST_EVENT_LOG;
		goto out;
	}
	if (root->u.arr.n > ATTEST_EVENTLOG_MAX_EVENTS) {
		SET_DETAIL(detail, "too many events");
		rc = ERR_PROTO_TOO_LARGE;
		goto out;
	}
	if (root->u.arr.n) {
		ev = arena_alloc(a, root->u.arr.n * sizeof(*ev));
		if (!ev) {
			rc = arena_err(a);
			goto out;
		}
	}
	for (size_t i = 0; i < root->u.arr.n; i++) {
		rc = parse_event(&root->u.arr.items[i], a, &w, &ev[i], detail);
		if (rc == ERR_PROTO_TOO_LARGE)
			SET_DETAIL(detail, "event name, payload or preimage too large");
		if (rc != ERR_OK)
			goto out;
	}
	replay(out, ev, root->u.arr.n);
	rc = ERR_OK;
out:
	buf_writer_free(&w);
	return rc;
}

err_t attest_eventlog_from_events(struct attest_event *ev, size_t n, struct attest_eventlog *out,
				  const char **detail)
{
	struct buf_writer w;
	err_t rc = ERR_OK;

	memset(out, 0, sizeof(*out));
	buf_writer_init(&w, V2_PREIMAGE_MAX);
	if (n > ATTEST_EVENTLOG_MAX_EVENTS) {
		SET_DETAIL(detail, "too many events");
		rc = ERR_PROTO_TOO_LARGE;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct attest_event *e = &ev[i];
		uint8_t given[ATTEST_RTMR_LEN];

		if ((e->name_len && !e->name) || (e->payload_len && !e->payload)) {
			rc = ERR_INVALID_ARG;
			goto out;
		}
		if (e->name_len > ATTEST_EVENTLOG_MAX_NAME || e->payload_len > ATTEST_EVENTLOG_MAX_PAYLOAD) {
			SET_DETAIL(detail, "event name or payload too large");
			rc = ERR_PROTO_TOO_LARGE;
			goto out;
		}
		if (e->version < 0 || e->version > 2) {
			SET_DETAIL(detail, "event version is not 1 or 2");
			rc = ERR_ATTEST_EVENT_LOG;
			goto out;
		}
		if (!e->name)
			e->name = "";
		memcpy(given, e->digest, sizeof(given));
		if ((rc = check_placement(e, detail)) != ERR_OK ||
		    (rc = finish_event(e, e->version, e->digest_given ? given : NULL, NULL, 0, 0, &w, detail)) != ERR_OK)
			goto out;
	}
	replay(out, ev, n);
out:
	buf_writer_free(&w);
	return rc;
}

/* ---- CCEL ---- */

#define TPM_ALG_SHA384 0x000c
#define CCEL_MAX_ALGS 16
#define CCEL_MAX_HEADER_EVENT 4096
#define CCEL_MIN_RECORD (4 + 4 + 4 + 2 + ATTEST_RTMR_LEN + 4)

static const uint8_t SPEC_ID_SIG[16] = "Spec ID Event03";

struct ccel_algs {
	uint16_t id[CCEL_MAX_ALGS];
	uint16_t size[CCEL_MAX_ALGS];
	uint32_t n;
};

static err_t ccel_header(struct buf_reader *r, struct ccel_algs *algs, const char **detail)
{
	struct buf_reader ev;
	uint32_t pcr = 0, type = 0, size = 0, platform_class = 0;
	uint8_t sig[16], vmin = 0, vmaj = 0, errata = 0, uintn = 0, vendor_len = 0;
	int has_sha384 = 0;

	SET_DETAIL(detail, "CCEL header truncated");
	if (buf_get_u32le(r, &pcr) || buf_get_u32le(r, &type) || buf_skip(r, 20) || buf_get_u32le(r, &size))
		return ERR_ATTEST_EVENT_LOG;
	if (pcr != 0 || type != ATTEST_EV_NO_ACTION) {
		SET_DETAIL(detail, "CCEL does not start with an EV_NO_ACTION Spec ID event");
		return ERR_ATTEST_EVENT_LOG;
	}
	if (size > CCEL_MAX_HEADER_EVENT || buf_get_sub(r, size, &ev))
		return ERR_ATTEST_EVENT_LOG;
	if (buf_get_copy(&ev, sig, sizeof(sig)) || buf_get_u32le(&ev, &platform_class) || buf_get_u8(&ev, &vmin) ||
	    buf_get_u8(&ev, &vmaj) || buf_get_u8(&ev, &errata) || buf_get_u8(&ev, &uintn) ||
	    buf_get_u32le(&ev, &algs->n))
		return ERR_ATTEST_EVENT_LOG;
	if (memcmp(sig, SPEC_ID_SIG, sizeof(sig)) != 0) {
		SET_DETAIL(detail, "CCEL Spec ID signature is not \"Spec ID Event03\"");
		return ERR_ATTEST_EVENT_LOG;
	}
	if (algs->n == 0 || algs->n > CCEL_MAX_ALGS) {
		SET_DETAIL(detail, "CCEL algorithm count out of range");
		return ERR_ATTEST_EVENT_LOG;
	}
	for (uint32_t i = 0; i < algs->n; i++) {
		if (buf_get_u16le(&ev, &algs->id[i]) || buf_get_u16le(&ev, &algs->size[i]))
			return ERR_ATTEST_EVENT_LOG;
		if (algs->size[i] == 0 || algs->size[i] > 64) {
			SET_DETAIL(detail, "CCEL digest size out of range");
			return ERR_ATTEST_EVENT_LOG;
		}
		for (uint32_t j = 0; j < i; j++) {
			if (algs->id[j] == algs->id[i]) {
				SET_DETAIL(detail, "CCEL algorithm listed twice");
				return ERR_ATTEST_EVENT_LOG;
			}
		}
		if (algs->id[i] == TPM_ALG_SHA384) {
			if (algs->size[i] != ATTEST_RTMR_LEN) {
				SET_DETAIL(detail, "CCEL SHA-384 digest size is not 48");
				return ERR_ATTEST_EVENT_LOG;
			}
			has_sha384 = 1;
		}
	}
	if (buf_get_u8(&ev, &vendor_len) || buf_skip(&ev, vendor_len))
		return ERR_ATTEST_EVENT_LOG;
	if (buf_expect_end(&ev) != ERR_OK) {
		SET_DETAIL(detail, "CCEL Spec ID event has trailing bytes");
		return ERR_ATTEST_EVENT_LOG;
	}
	if (!has_sha384) {
		SET_DETAIL(detail, "CCEL does not log SHA-384 digests");
		return ERR_ATTEST_EVENT_LOG;
	}
	return ERR_OK;
}

/* One TCG_PCR_EVENT2; *pcr gets the raw (1-based) index. */
static err_t ccel_record(struct buf_reader *r, const struct ccel_algs *algs, uint32_t *pcr, struct attest_event *e,
			 const char **detail)
{
	uint32_t count = 0, size = 0;
	int have = 0;

	memset(e, 0, sizeof(*e));
	SET_DETAIL(detail, "CCEL record truncated");
	if (buf_get_u32le(r, pcr) || buf_get_u32le(r, &e->event_type) || buf_get_u32le(r, &count))
		return ERR_ATTEST_EVENT_LOG;
	if (count == 0 || count > algs->n) {
		SET_DETAIL(detail, "CCEL record digest count out of range");
		return ERR_ATTEST_EVENT_LOG;
	}
	for (uint32_t i = 0; i < count; i++) {
		uint16_t alg = 0;
		uint32_t k;
		const uint8_t *d = NULL;

		if (buf_get_u16le(r, &alg))
			return ERR_ATTEST_EVENT_LOG;
		for (k = 0; k < algs->n && algs->id[k] != alg; k++)
			;
		if (k == algs->n) {
			SET_DETAIL(detail, "CCEL record uses an algorithm the header does not declare");
			return ERR_ATTEST_EVENT_LOG;
		}
		if (buf_get_view(r, algs->size[k], &d))
			return ERR_ATTEST_EVENT_LOG;
		if (alg == TPM_ALG_SHA384) {
			if (have) {
				SET_DETAIL(detail, "CCEL record has two SHA-384 digests");
				return ERR_ATTEST_EVENT_LOG;
			}
			memcpy(e->digest, d, ATTEST_RTMR_LEN);
			have = 1;
		}
	}
	if (!have) {
		SET_DETAIL(detail, "CCEL record lacks a SHA-384 digest");
		return ERR_ATTEST_EVENT_LOG;
	}
	if (buf_get_u32le(r, &size))
		return ERR_ATTEST_EVENT_LOG;
	if (size > ATTEST_CCEL_MAX_EVENT) {
		SET_DETAIL(detail, "CCEL event data too large");
		return ERR_PROTO_TOO_LARGE;
	}
	if (buf_get_view(r, size, &e->payload))
		return ERR_ATTEST_EVENT_LOG;
	e->payload_len = size;
	e->name = "";
	e->digest_given = 1;
	e->extended = e->event_type != ATTEST_EV_NO_ACTION;
	return ERR_OK;
}

static void label_acpi_events(struct attest_event *ev, size_t n)
{
	static const char *const names[3] = { "acpi-loader", "acpi-rsdp", "acpi-tables" };
	size_t k = 0;

	for (size_t i = 0; i < n && k < 3; i++) {
		if (ev[i].imr == 0 && ev[i].event_type == 10 && ev[i].payload_len == 9 &&
		    memcmp(ev[i].payload, "ACPI DATA", 9) == 0) {
			ev[i].name = names[k];
			ev[i].name_len = strlen(names[k]);
			k++;
		}
	}
}

err_t attest_ccel_parse(const uint8_t *p, size_t len, struct arena *a, struct attest_eventlog *out,
			const char **detail)
{
	struct buf_reader r;
	struct ccel_algs algs;
	struct attest_event *ev;
	size_t n = 0, cap;
	err_t rc;

	memset(out, 0, sizeof(*out));
	memset(&algs, 0, sizeof(algs));
	if (len > ATTEST_CCEL_MAX_LEN) {
		SET_DETAIL(detail, "CCEL too large");
		return ERR_PROTO_TOO_LARGE;
	}
	buf_reader_init(&r, p, len);
	if ((rc = ccel_header(&r, &algs, detail)) != ERR_OK)
		return rc;
	/* Every record carries at least one 48-byte digest, which bounds the count before allocating. */
	cap = MIN(buf_remaining(&r) / CCEL_MIN_RECORD, (size_t)ATTEST_EVENTLOG_MAX_EVENTS);
	ev = arena_alloc(a, (cap ? cap : 1) * sizeof(*ev));
	if (!ev)
		return arena_err(a);
	while (buf_remaining(&r) > 0) {
		struct buf_reader peek = r;
		uint32_t pcr = 0;
		struct attest_event e;

		if (buf_get_u32le(&peek, &pcr) == ERR_OK && pcr == UINT32_MAX)
			break;
		if ((rc = ccel_record(&r, &algs, &pcr, &e, detail)) != ERR_OK)
			return rc;
		if (pcr == 0)
			continue;
		if (pcr > 4) {
			SET_DETAIL(detail, "CCEL record index out of range 1..4");
			return ERR_ATTEST_EVENT_LOG;
		}
		if (n == cap) {
			SET_DETAIL(detail, "too many CCEL events");
			return ERR_PROTO_TOO_LARGE;
		}
		e.imr = pcr - 1;
		ev[n++] = e;
	}
	label_acpi_events(ev, n);
	replay(out, ev, n);
	return ERR_OK;
}

/* ---- lookups ---- */

static int is_named(const struct attest_event *e, const char *name, size_t len)
{
	return e->imr == 3 && e->event_type == ATTEST_RUNTIME_EVENT_TYPE && e->name_len == len &&
	       memcmp(e->name, name, len) == 0;
}

const struct attest_event *attest_eventlog_find(const struct attest_eventlog *log, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < log->n_trusted; i++) {
		if (is_named(&log->events[i], name, len))
			return &log->events[i];
	}
	return NULL;
}

size_t attest_eventlog_count(const struct attest_eventlog *log, const char *name)
{
	size_t len = strlen(name), k = 0;

	for (size_t i = 0; i < log->n_trusted; i++)
		k += (size_t)is_named(&log->events[i], name, len);
	return k;
}

/* ---- writer ---- */

/* Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). */
static int is_utf8(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c < 0xc2 || c > 0xf4)
			return 0;
		k = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		if (n - i < k)
			return 0;
		for (size_t j = 1; j < k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
		}
		if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] >= 0xa0) ||
		    (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] >= 0x90))
			return 0;
		i += k;
	}
	return 1;
}

static void put_hex_string(struct buf_writer *w, const uint8_t *p, size_t n)
{
	char *dst;

	/* n is the length of an object in memory, so 2n + 1 cannot wrap. */
	buf_put_u8(w, '"');
	dst = (char *)buf_reserve(w, 2 * n + 1);
	if (dst) {
		hex_encode(dst, p, n);
		buf_commit(w, 2 * n);
	}
	buf_put_u8(w, '"');
}

static int is_acpi_marker(const struct attest_event *e)
{
	return e->imr == 0 && e->event_type == 10 && e->payload_len == 9 && memcmp(e->payload, "ACPI DATA", 9) == 0;
}

err_t attest_event_put_json(const struct attest_event *e, int keep_boot_payload, struct buf_writer *w)
{
	int runtime = e->imr == 3 && e->event_type == ATTEST_RUNTIME_EVENT_TYPE;
	int with_payload = runtime || keep_boot_payload || is_acpi_marker(e);
	err_t rc = ERR_OK;

	if ((e->name_len && !e->name) || (e->payload_len && !e->payload))
		return ERR_INVALID_ARG;
	if (e->name_len && !is_utf8((const uint8_t *)e->name, e->name_len))
		return ERR_INVALID_ARG;
	buf_printf(w, "{\"imr\":%" PRIu32 ",\"event_type\":%" PRIu32 ",\"digest\":", e->imr, e->event_type);
	put_hex_string(w, e->digest, ATTEST_RTMR_LEN);
	buf_put_str(w, ",\"event\":");
	json_put_string(w, e->name_len ? e->name : "", e->name_len);
	buf_put_str(w, ",\"event_payload\":");
	put_hex_string(w, e->payload, with_payload ? e->payload_len : 0);
	if (runtime && e->version == 2) {
		struct buf_writer pre;

		if (e->name_len > ATTEST_EVENTLOG_MAX_NAME || e->payload_len > ATTEST_EVENTLOG_MAX_PAYLOAD)
			return ERR_PROTO_TOO_LARGE;
		buf_writer_init(&pre, V2_PREIMAGE_MAX);
		rc = attest_event_preimage_v2(e->name_len ? e->name : "", e->name_len, e->payload, e->payload_len, &pre);
		if (rc == ERR_OK) {
			buf_put_str(w, ",\"version\":2,\"preimage\":");
			put_hex_string(w, pre.p, pre.len);
		}
		buf_writer_free(&pre);
		if (rc != ERR_OK)
			return rc;
	}
	buf_put_u8(w, '}');
	return buf_writer_status(w);
}
