/* SPDX-License-Identifier: Apache-2.0 */
/* The state file of a backend: registers, runtime events and a pending event, replaced atomically on every change. */
#include <string.h>

#include "enc.h"
#include "file.h"
#include "json.h"
#include "tee_internal.h"

#define SET_DETAIL(d, s)            \
	do {                        \
		if (d)              \
			*(d) = (s); \
	} while (0)

/*
 * {"format":"dstack-c/tee-state","version":1,"backend":"sim","simulated":true,
 *  "rtmr":["<hex48>" x4],"events":[TdxEvent...],"pending":[TdxEvent?]}
 * Events are in the exact form of the event log (attest_event_put_json), so
 * loading reuses the event-log parser and its digest checks.
 */

static void put_hex48(struct buf_writer *w, const uint8_t v[TEE_MR_LEN])
{
	char hex[2 * TEE_MR_LEN + 1];

	hex_encode(hex, v, TEE_MR_LEN);
	buf_put_u8(w, '"');
	buf_put(w, hex, 2 * TEE_MR_LEN);
	buf_put_u8(w, '"');
}

err_t tee_state_save(const struct tee *t, const uint8_t rtmr3[TEE_MR_LEN], const char *entry, size_t entry_len,
		     int entry_pending, const char **detail)
{
	struct buf_writer w;
	err_t rc;

	buf_writer_init(&w, TEE_STATE_MAX_TEXT);
	buf_put_str(&w, "{\"format\":\"" TEE_STATE_FORMAT "\",\"version\":1,\"backend\":");
	json_put_string(&w, t->be->name, strlen(t->be->name));
	buf_put_str(&w, t->be->simulated ? ",\"simulated\":true" : ",\"simulated\":false");
	buf_put_str(&w, ",\"rtmr\":[");
	for (int i = 0; i < 3; i++) {
		put_hex48(&w, t->boot.rtmr[i]);
		buf_put_u8(&w, ',');
	}
	put_hex48(&w, rtmr3);
	buf_put_str(&w, "],\"events\":[");
	buf_put(&w, t->rt_json.p, t->rt_json.len);
	if (entry && !entry_pending) {
		if (t->rt_json.len)
			buf_put_u8(&w, ',');
		buf_put(&w, entry, entry_len);
	}
	buf_put_str(&w, "],\"pending\":[");
	if (entry && entry_pending)
		buf_put(&w, entry, entry_len);
	buf_put_str(&w, "]}\n");
	if ((rc = buf_writer_status(&w)) == ERR_OK) {
		rc = file_write_atomic(t->state_path, w.p, w.len, 0600);
		if (rc != ERR_OK)
			SET_DETAIL(detail, "cannot write the tee state file");
	}
	buf_writer_free(&w);
	return rc;
}

void tee_loaded_fini(struct tee_loaded *l)
{
	arena_fini(&l->a);
	memset(l, 0, sizeof(*l));
}

/* A member holding a JSON array of runtime events, parsed into `out`. */
static err_t load_events(const struct json_value *root, const char *key, struct arena *a,
			 struct attest_eventlog *out, const char **detail)
{
	const struct json_value *v = json_get(root, key);
	const char *pd = NULL;
	err_t rc;

	if (!v || v->type != JSON_ARRAY) {
		SET_DETAIL(detail, "tee state file: events or pending missing");
		return ERR_PROTO_MALFORMED;
	}
	rc = attest_eventlog_parse_json(v->raw, v->raw_len, a, out, &pd);
	if (rc == ERR_NOMEM || rc == ERR_BUDGET)
		return rc;
	if (rc != ERR_OK) {
		SET_DETAIL(detail, "tee state file: invalid runtime event");
		return ERR_PROTO_MALFORMED;
	}
	for (size_t i = 0; i < out->n; i++) {
		if (out->events[i].imr != 3) {
			SET_DETAIL(detail, "tee state file: an event is not a runtime event");
			return ERR_PROTO_MALFORMED;
		}
	}
	return ERR_OK;
}

static int known_key(const char *k)
{
	static const char *const keys[] = { "format", "version", "backend", "simulated", "rtmr", "events", "pending" };

	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		if (strcmp(keys[i], k) == 0)
			return 1;
	}
	return 0;
}

static err_t load_doc(const struct json_value *root, const char *backend, struct tee_loaded *out,
		      const char **detail)
{
	const struct json_value *rt;
	const char *s = NULL;
	size_t n = 0;
	uint64_t version = 0;
	int sim = 0;
	err_t rc;

	SET_DETAIL(detail, "tee state file is malformed");
	if (root->type != JSON_OBJECT)
		return ERR_PROTO_MALFORMED;
	for (size_t i = 0; i < root->u.obj.n; i++) {
		if (!known_key(root->u.obj.members[i].key)) {
			SET_DETAIL(detail, "tee state file has an unknown member");
			return ERR_PROTO_MALFORMED;
		}
	}
	if (json_get_str(root, "format", &s, &n) != ERR_OK || n != strlen(TEE_STATE_FORMAT) ||
	    memcmp(s, TEE_STATE_FORMAT, n) != 0 || json_get_u64(root, "version", &version) != ERR_OK ||
	    version != 1 || json_get_bool(root, "simulated", &sim) != ERR_OK)
		return ERR_PROTO_MALFORMED;
	if (json_get_str(root, "backend", &s, &n) != ERR_OK)
		return ERR_PROTO_MALFORMED;
	if (n != strlen(backend) || memcmp(s, backend, n) != 0) {
		SET_DETAIL(detail, "tee state_dir holds the state of another backend");
		return ERR_CONFIG;
	}
	rt = json_get(root, "rtmr");
	if (!rt || rt->type != JSON_ARRAY || rt->u.arr.n != 4)
		return ERR_PROTO_MALFORMED;
	for (size_t i = 0; i < 4; i++) {
		const struct json_value *h = &rt->u.arr.items[i];
		size_t got = 0;

		if (h->type != JSON_STRING ||
		    hex_decode(out->rtmr[i], TEE_MR_LEN, &got, h->u.str.s, h->u.str.len, 0) != ERR_OK ||
		    got != TEE_MR_LEN)
			return ERR_PROTO_MALFORMED;
	}
	if ((rc = load_events(root, "events", &out->a, &out->events, detail)) != ERR_OK ||
	    (rc = load_events(root, "pending", &out->a, &out->pending, detail)) != ERR_OK)
		return rc;
	if (out->pending.n > 1) {
		SET_DETAIL(detail, "tee state file has more than one pending event");
		return ERR_PROTO_MALFORMED;
	}
	if (memcmp(out->events.rtmr[3], out->rtmr[3], TEE_MR_LEN) != 0) {
		SET_DETAIL(detail, "tee state file: the events do not replay to the recorded RTMR3");
		return ERR_ATTEST_RTMR_MISMATCH;
	}
	return ERR_OK;
}

err_t tee_state_load(const char *path, const char *backend, struct tee_loaded *out, const char **detail)
{
	struct json_limits lim = { .max_depth = 8, .max_len = TEE_STATE_MAX_TEXT };
	struct json_value *root = NULL;
	struct buf_writer w;
	err_t rc;

	memset(out, 0, sizeof(*out));
	buf_writer_init(&w, TEE_STATE_MAX_TEXT);
	rc = file_read_all(path, TEE_STATE_MAX_TEXT, 1, &w);
	if (rc == ERR_NOT_FOUND) {
		buf_writer_free(&w);
		return ERR_OK;
	}
	if (rc != ERR_OK) {
		SET_DETAIL(detail, rc == ERR_CONFIG_PERMS ? "tee state file is readable or writable by group or others"
							  : "cannot read the tee state file");
		goto out;
	}
	out->exists = 1;
	/* The DOM, names and payloads of a file of len bytes fit in a few times len. */
	arena_init(&out->a, 8 * w.len + (1u << 20), 64u << 10);
	rc = json_parse((const char *)w.p, w.len, &lim, &out->a, &root, NULL);
	if (rc == ERR_NOMEM || rc == ERR_BUDGET)
		goto out;
	if (rc != ERR_OK) {
		SET_DETAIL(detail, "tee state file is not valid JSON");
		rc = ERR_PROTO_MALFORMED;
		goto out;
	}
	rc = load_doc(root, backend, out, detail);
out:
	buf_writer_free(&w);
	return rc;
}
