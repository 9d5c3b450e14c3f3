/* SPDX-License-Identifier: Apache-2.0 */
/* dstack.registry.v1.Registry: CheckBoot, GetPolicy, ListEvents, Status, GetKmsInfo from the snapshot in force. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dstack/registry/v1/registry.pb-c.h"
#include "enc.h"
#include "log.h"
#include "pbcodec.h"
#include "registry.h"
#include "registry_audit.h"
#include "registry_file.h"
#include "registry_watch.h"

typedef Dstack__Registry__V1__CheckBootRequest pb_check_req;
typedef Dstack__Registry__V1__CheckBootResponse pb_check_resp;
typedef Dstack__Common__V1__BootInfo pb_boot_info;
typedef Dstack__Common__V1__ErrorDetail pb_error;

#define SRC(x) DSTACK__REGISTRY__V1__POLICY_SOURCE__POLICY_SOURCE_##x
#define MAX_REASON 256
#define LIST_DEFAULT 100
#define LIST_MAX 1000
/* ListEvents scans at most this many events per call looking for matches (a page may come back short, with a token). */
#define LIST_SCAN_MAX 200000

/* ---------------------------------------------------------------------------------------------- */
/* Snapshot publication and staleness                                                             */

void registry_publish(struct registry_env *r, struct registry_snapshot *snap)
{
	struct registry_snapshot *old = r->snap;

	/* One loop thread: a handler never sees a half-swapped pointer; async users hold their own reference. */
	r->snap = snap;
	registry_snapshot_unref(old);
}

int registry_is_stale(const struct registry_env *r, uint64_t now, uint64_t *age)
{
	*age = 0;
	if (r->backend == REGISTRY_SOURCE_CHAIN && r->watch)
		return registry_watch_stale(r->watch, now, age);
	return 0;
}

/* Where the decision clock comes from: the snapshot block's timestamp on the chain, the wall clock for the file. */
static uint64_t decision_time(const struct registry_snapshot *s, uint64_t wall)
{
	return s->source == REGISTRY_SOURCE_CHAIN ? s->meta.block_time : wall;
}

/* ---------------------------------------------------------------------------------------------- */
/* Response helpers (everything copied into the call arena: the snapshot may be replaced later)   */

static ProtobufCBinaryData pb_bytes(struct arena *mem, const void *p, size_t n)
{
	ProtobufCBinaryData b = { 0, NULL };

	if (n && (b.data = arena_memdup(mem, p, n)) != NULL)
		b.len = n;
	return b;
}

static pb_error *pb_err(struct arena *mem, err_t err, const char *detail)
{
	pb_error *e = (pb_error *)pb_new(&dstack__common__v1__error_detail__descriptor, mem);

	if (!e)
		return NULL;
	e->code = err;
	e->name = svc_pb_str(err_name(err));
	e->detail = arena_strdup(mem, detail ? detail : err_str(err));
	return e->detail ? e : NULL;
}

static int source_pb(enum registry_source s)
{
	return s == REGISTRY_SOURCE_CHAIN ? SRC(CHAIN) : s == REGISTRY_SOURCE_FILE ? SRC(POLICY_FILE) : SRC(UNSPECIFIED);
}

/* ---------------------------------------------------------------------------------------------- */
/* CheckBoot                                                                                      */

static int valid_len(const ProtobufCBinaryData *b, size_t width)
{
	return b->len <= width;
}

static err_t validate_check_boot(const ProtobufCMessage *msg, const char **detail)
{
	const pb_check_req *q = (const pb_check_req *)msg;
	const pb_boot_info *b = q->boot_info;

	if (q->kind != DSTACK__REGISTRY__V1__BOOT_KIND__BOOT_KIND_APP &&
	    q->kind != DSTACK__REGISTRY__V1__BOOT_KIND__BOOT_KIND_KMS) {
		*detail = "kind must be BOOT_KIND_APP or BOOT_KIND_KMS";
		return ERR_INVALID_ARG;
	}
	if (!b) {
		*detail = "boot_info is required";
		return ERR_INVALID_ARG;
	}
	if (!valid_len(&b->app_id, REGISTRY_ADDR_LEN) || !valid_len(&b->instance_id, REGISTRY_ADDR_LEN)) {
		*detail = "boot_info.app_id and instance_id are at most 20 bytes";
		return ERR_INVALID_ARG;
	}
	if (!valid_len(&b->compose_hash, 32) || !valid_len(&b->device_id, 32) || !valid_len(&b->mr_aggregated, 32) ||
	    !valid_len(&b->mr_system, 32) || !valid_len(&b->os_image_hash, 32)) {
		*detail = "boot_info hashes (compose_hash, device_id, mr_aggregated, mr_system, os_image_hash) are at most 32 bytes";
		return ERR_INVALID_ARG;
	}
	if ((b->tee_variant && strlen(b->tee_variant) > 32) || (b->tcb_status && strlen(b->tcb_status) > 64) ||
	    b->key_provider_info.len > 4096) {
		*detail = "boot_info.tee_variant (32), tcb_status (64) or key_provider_info (4 KiB) too long";
		return ERR_INVALID_ARG;
	}
	if (b->n_advisory_ids > REGISTRY_MAX_ADVISORIES) {
		*detail = "boot_info.advisory_ids: at most 256 entries";
		return ERR_INVALID_ARG;
	}
	for (size_t i = 0; i < b->n_advisory_ids; i++)
		if (strlen(b->advisory_ids[i]) > 64) {
			*detail = "boot_info.advisory_ids: at most 64 bytes each";
			return ERR_INVALID_ARG;
		}
	return ERR_OK;
}

static struct registry_bytes rb(const ProtobufCBinaryData *b)
{
	return (struct registry_bytes){ b->data, b->len };
}

static void boot_info_view(const pb_boot_info *in, struct registry_boot_info *out)
{
	memset(out, 0, sizeof(*out));
	out->app_id = rb(&in->app_id);
	out->compose_hash = rb(&in->compose_hash);
	out->instance_id = rb(&in->instance_id);
	out->device_id = rb(&in->device_id);
	out->mr_aggregated = rb(&in->mr_aggregated);
	out->mr_system = rb(&in->mr_system);
	out->os_image_hash = rb(&in->os_image_hash);
	out->tcb_status = in->tcb_status;
	out->advisory_ids = (const char *const *)in->advisory_ids;
	out->n_advisory_ids = in->n_advisory_ids;
}

/* Deny with an error that says why this is not a policy answer. */
static err_t deny_error(struct arena *mem, pb_check_resp *out, err_t code, const char *reason)
{
	out->allowed = 0;
	if (!(out->reason = arena_strdup(mem, reason)) || !(out->error = pb_err(mem, code, reason)))
		return arena_err(mem);
	return ERR_OK;
}

static void count(struct registry_env *r, const pb_check_resp *out)
{
	metric_add(out->error ? r->m_error : out->allowed ? r->m_allow : r->m_deny, 1);
}

/* A CheckBoot waiting for the contract's own answer. Malloc'd: it may outlive the server at shutdown. */
struct xc_pending {
	struct registry_env *r;
	struct rpc_call *call;
	pb_check_resp *out;          /* call arena */
	struct registry_snapshot *snap;
	int allowed, undecidable;
	const char *reason;          /* static */
};

static void on_cross_checked(void *arg, err_t err, const char *detail, int allowed, const char *reason)
{
	struct xc_pending *p = arg;
	struct registry_env *r = p->r;
	struct arena *mem;
	pb_check_resp *out = p->out;
	err_t e = ERR_OK;

	if (r->closing)
		goto out;
	mem = rpc_call_arena(p->call);
	if (err != ERR_OK) {
		char why[MAX_REASON];

		metric_add(r->m_xc_error, 1);
		snprintf(why, sizeof(why), "cross-check failed: %s", detail ? detail : err_str(err));
		e = deny_error(mem, out, ERR_UNAVAILABLE, why);
	} else if (p->undecidable) {
		/* The snapshot cannot decide for this app's code; the contract's answer is the answer. */
		metric_add(r->m_xc_agree, 1);
		out->allowed = allowed;
		out->error = NULL;
		out->cross_checked = 1;
		if (!(out->reason = arena_strdup(mem, allowed ? "" : reason)))
			e = arena_err(mem);
	} else if (allowed == p->allowed && strcmp(reason, p->reason) == 0) {
		metric_add(r->m_xc_agree, 1);
		out->cross_checked = 1;
	} else {
		char why[MAX_REASON];

		metric_add(r->m_xc_disagree, 1);
		log_error(rpc_call_log_prefix(p->call),
			  "cross-check disagreement at block %llu: snapshot %s \"%s\", contract %s \"%.64s\"",
			  (unsigned long long)p->snap->meta.block_number, p->allowed ? "allows" : "denies", p->reason,
			  allowed ? "allows" : "denies", reason);
		snprintf(why, sizeof(why), "cross-check disagreement: snapshot %s, contract %s (%.64s)",
			 p->allowed ? "allows" : "denies", allowed ? "allows" : "denies", allowed ? "" : reason);
		e = deny_error(mem, out, ERR_POLICY_DENIED, why);
	}
	if (e == ERR_OK)
		count(r, out);
	rpc_call_complete(p->call, e, e == ERR_OK ? &out->base : NULL);
out:
	registry_snapshot_unref(p->snap);
	free(p);
}

static int on_check_boot(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct registry_env *r = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	const pb_check_req *q = (const pb_check_req *)req;
	const struct registry_snapshot *s = r->snap;
	struct registry_boot_info b;
	struct registry_decision d;
	pb_check_resp *out;
	uint64_t now = wall_s(), age = 0;
	err_t err;

	out = (pb_check_resp *)pb_new(&dstack__registry__v1__check_boot_response__descriptor, mem);
	if (!out)
		return arena_err(mem);
	out->decided_at_unix = now;
	out->source = source_pb(r->backend);
	out->reason = svc_pb_str("");
	out->gateway_app_id = svc_pb_str("");
	*resp = &out->base;
	if (!r->backend) {
		err = deny_error(mem, out, ERR_UNAVAILABLE, "no policy configured (set policy_file or chain.rpc_urls)");
		goto done;
	}
	if (!s) {
		err = deny_error(mem, out, ERR_UNAVAILABLE, "no policy loaded yet");
		goto done;
	}
	if (!(out->gateway_app_id = arena_strdup(mem, s->gateway_app_id)))
		return arena_err(mem);
	out->decided_at_block = s->meta.block_number;
	if (s->source == REGISTRY_SOURCE_CHAIN) {
		out->block_hash = pb_bytes(mem, s->meta.block_hash, 32);
		out->block_time_unix = s->meta.block_time;
	} else {
		out->policy_sha256 = pb_bytes(mem, s->meta.policy_sha256, 32);
	}
	if (registry_is_stale(r, now, &age)) {
		char why[MAX_REASON];

		snprintf(why, sizeof(why), "registry view is stale: no new block for %llu s", (unsigned long long)age);
		err = deny_error(mem, out, ERR_POLICY_STALE, why);
		goto done;
	}
	boot_info_view(q->boot_info, &b);
	if ((err = registry_check(s, &b, (enum registry_kind)q->kind, decision_time(s, now), &d)) != ERR_OK) {
		rpc_call_set_detail(call, "boot_info: a field is longer than its ABI width");
		return err;
	}
	out->allowed = d.allowed;
	out->reason = svc_pb_str(d.reason);
	if (d.undecidable && !(out->error = pb_err(mem, ERR_FAILED_PRECONDITION, d.reason)))
		return arena_err(mem);
	if (s->source == REGISTRY_SOURCE_CHAIN && r->watch && (q->cross_check || r->cfg->cross_check)) {
		struct xc_pending *p = calloc(1, sizeof(*p));

		if (!p)
			return ERR_NOMEM;
		*p = (struct xc_pending){ r, call, out, registry_snapshot_ref(r->snap), d.allowed, d.undecidable, d.reason };
		if ((err = registry_watch_cross_check(r->watch, (enum registry_kind)q->kind, &b, s->meta.block_hash,
						      on_cross_checked, p)) != ERR_OK) {
			registry_snapshot_unref(p->snap);
			free(p);
			err = deny_error(mem, out, ERR_UNAVAILABLE, "cross-check could not start");
			goto done;
		}
		*resp = NULL;
		return RPC_ASYNC;
	}
	err = ERR_OK;
done:
	if (err != ERR_OK)
		return err;
	count(r, out);
	log_debug(rpc_call_log_prefix(call), "CheckBoot %s: %s%s%s", q->kind == 1 ? "app" : "kms",
		  out->allowed ? "allowed" : "denied", out->reason[0] ? ": " : "", out->reason);
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* GetPolicy                                                                                      */

static err_t validate_get_policy(const ProtobufCMessage *msg, const char **detail)
{
	const Dstack__Registry__V1__GetPolicyRequest *q = (const void *)msg;

	if (q->app_id.len != REGISTRY_ADDR_LEN) {
		*detail = "app_id must be 20 bytes";
		return ERR_INVALID_ARG;
	}
	return ERR_OK;
}

static int hash_effective(const struct registry_snapshot *s, const struct registry_hash_entry *h, uint64_t now)
{
	if (s->source == REGISTRY_SOURCE_CHAIN && h->effective_at == 0)
		return 0;
	return now >= h->effective_at;
}

static Dstack__Registry__V1__AppPolicy *app_policy(struct arena *mem, const struct registry_snapshot *s,
						   const struct registry_app *a, uint64_t now)
{
	Dstack__Registry__V1__AppPolicy *p = (void *)pb_new(&dstack__registry__v1__app_policy__descriptor, mem);
	static const uint8_t zero[REGISTRY_ADDR_LEN];

	if (!p)
		return NULL;
	p->app_id = pb_bytes(mem, a->id, REGISTRY_ADDR_LEN);
	if (memcmp(a->owner, zero, sizeof(zero)) != 0)
		p->owner = pb_bytes(mem, a->owner, REGISTRY_ADDR_LEN);
	p->allow_any_device = !!(a->flags & REGISTRY_APP_ANY_DEVICE);
	p->require_tcb_up_to_date = !!(a->flags & REGISTRY_APP_REQUIRE_TCB);
	p->upgrades_disabled = !!(a->flags & REGISTRY_APP_UPGRADES_DISABLED);
	p->upgrade_delay_seconds = a->upgrade_delay;
	p->contract_version = a->version;
	p->registered_at_block = a->registered_block;
	p->updated_at_block = a->updated_block;
	if (a->hash_n) {
		p->compose_hashes = arena_alloc(mem, a->hash_n * sizeof(*p->compose_hashes));
		if (!p->compose_hashes)
			return NULL;
		for (uint32_t i = 0; i < a->hash_n; i++) {
			const struct registry_hash_entry *h = &s->hashes[a->hash_off + i];
			Dstack__Registry__V1__ComposeHashEntry *e =
				(void *)pb_new(&dstack__registry__v1__compose_hash_entry__descriptor, mem);

			if (!e)
				return NULL;
			e->compose_hash = pb_bytes(mem, h->hash, 32);
			e->added_at_block = h->added_block;
			e->effective_at_unix = h->effective_at;
			e->effective = hash_effective(s, h, now);
			p->compose_hashes[i] = e;
		}
		p->n_compose_hashes = a->hash_n;
	}
	if (a->dev_n) {
		p->allowed_device_ids = arena_alloc(mem, a->dev_n * sizeof(*p->allowed_device_ids));
		if (!p->allowed_device_ids)
			return NULL;
		for (uint32_t i = 0; i < a->dev_n; i++)
			p->allowed_device_ids[i] = pb_bytes(mem, s->devices[a->dev_off + i].b, 32);
		p->n_allowed_device_ids = a->dev_n;
	}
	return p;
}

static int on_get_policy(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct registry_env *r = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	const Dstack__Registry__V1__GetPolicyRequest *q = (const void *)req;
	const struct registry_snapshot *s = r->snap;
	Dstack__Registry__V1__GetPolicyResponse *out;
	const struct registry_app *a;
	uint64_t now = wall_s(), age;

	if (!s) {
		rpc_call_set_detail(call, r->backend ? "no policy loaded yet" : "no policy configured");
		return ERR_UNAVAILABLE;
	}
	a = registry_snapshot_app(s, q->app_id.data);
	if (!a || !(a->flags & REGISTRY_APP_REGISTERED)) {
		rpc_call_set_detail(call, "app is not registered");
		return ERR_NOT_FOUND;
	}
	out = (void *)pb_new(&dstack__registry__v1__get_policy_response__descriptor, mem);
	if (!out || !(out->policy = app_policy(mem, s, a, decision_time(s, now))))
		return arena_err(mem);
	out->block_number = s->meta.block_number;
	if (s->source == REGISTRY_SOURCE_CHAIN)
		out->block_hash = pb_bytes(mem, s->meta.block_hash, 32);
	out->source = source_pb(s->source);
	out->stale = registry_is_stale(r, now, &age);
	*resp = &out->base;
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* ListEvents                                                                                     */

typedef Dstack__Registry__V1__ListEventsRequest pb_list_req;

static err_t validate_list_events(const ProtobufCMessage *msg, const char **detail)
{
	const pb_list_req *q = (const pb_list_req *)msg;

	if (q->app_id.len != 0 && q->app_id.len != REGISTRY_ADDR_LEN) {
		*detail = "app_id must be empty or 20 bytes";
		return ERR_INVALID_ARG;
	}
	for (size_t i = 0; i < q->n_kinds; i++)
		if ((int)q->kinds[i] < REGISTRY_EV_OTHER || (int)q->kinds[i] > REGISTRY_EV_KIND_MAX) {
			*detail = "kinds: GOVERNANCE_EVENT_KIND_UNSPECIFIED or an unknown kind";
			return ERR_INVALID_ARG;
		}
	if (q->limit > LIST_MAX) {
		*detail = "limit is at most 1000";
		return ERR_INVALID_ARG;
	}
	if (q->to_block && q->from_block > q->to_block) {
		*detail = "from_block is after to_block";
		return ERR_INVALID_ARG;
	}
	return ERR_OK;
}

/* Decimal digits only, no sign, no leading '+', <= max. */
static int parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!len || len > 20)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return 0;
	*out = v;
	return 1;
}

/*
 * Page token: "<a|d>.<block>.<logIndex>" of the last event returned; the
 * next page starts strictly after (ascending) or before (descending) it, so
 * pages stay consistent while new events are appended.
 */
static int parse_token(const char *t, int descending, uint64_t *block, uint32_t *li)
{
	const char *dot1, *dot2;
	uint64_t l;

	if (strlen(t) > 64 || (t[0] != 'a' && t[0] != 'd') || (t[0] == 'd') != !!descending || t[1] != '.')
		return 0;
	dot1 = t + 1;
	if (!(dot2 = strchr(dot1 + 1, '.')))
		return 0;
	return parse_u64(dot1 + 1, (size_t)(dot2 - dot1 - 1), UINT64_MAX, block) &&
	       parse_u64(dot2 + 1, strlen(dot2 + 1), UINT32_MAX, &l) && ((*li = (uint32_t)l), 1);
}

static int event_matches(const pb_list_req *q, const struct registry_event *ev)
{
	if (q->from_block && ev->block < q->from_block)
		return 0;
	if (q->to_block && ev->block > q->to_block)
		return 0;
	if (q->app_id.len && (!ev->has_app || memcmp(ev->app_id, q->app_id.data, REGISTRY_ADDR_LEN) != 0))
		return 0;
	if (q->n_kinds) {
		size_t i;

		for (i = 0; i < q->n_kinds && (int)q->kinds[i] != ev->kind; i++)
			;
		if (i == q->n_kinds)
			return 0;
	}
	return 1;
}

static Dstack__Registry__V1__GovernanceEvent *event_pb(struct arena *mem, const struct registry_event *ev)
{
	Dstack__Registry__V1__GovernanceEvent *e = (void *)pb_new(&dstack__registry__v1__governance_event__descriptor, mem);

	if (!e)
		return NULL;
	e->kind = (Dstack__Registry__V1__GovernanceEventKind)ev->kind;
	if (!(e->event_name = arena_strdup(mem, ev->name)))
		return NULL;
	if (ev->has_contract)
		e->contract_address = pb_bytes(mem, ev->contract, REGISTRY_ADDR_LEN);
	if (ev->has_app)
		e->app_id = pb_bytes(mem, ev->app_id, REGISTRY_ADDR_LEN);
	e->block_number = ev->block;
	e->log_index = ev->log_index;
	e->time_unix = ev->time;
	e->source = source_pb(ev->source);
	if (ev->source == REGISTRY_SOURCE_CHAIN) {
		e->block_hash = pb_bytes(mem, ev->block_hash, 32);
		e->tx_hash = pb_bytes(mem, ev->tx_hash, 32);
	}
	if (ev->nfields) {
		e->fields = arena_alloc(mem, ev->nfields * sizeof(*e->fields));
		if (!e->fields)
			return NULL;
		for (size_t i = 0; i < ev->nfields; i++) {
			Dstack__Registry__V1__EventField *f = (void *)pb_new(&dstack__registry__v1__event_field__descriptor, mem);
			size_t n = MIN(ev->fields[i].value_len, REGISTRY_EVENT_SHOW_VALUE);

			if (!f || !(f->name = arena_strdup(mem, ev->fields[i].name)) ||
			    !(f->type = arena_strdup(mem, ev->fields[i].type)) ||
			    !(f->value = arena_memdup(mem, ev->fields[i].value, n)))
				return NULL;
			f->indexed = ev->fields[i].indexed;
			e->fields[i] = f;
		}
		e->n_fields = ev->nfields;
	}
	return e;
}

static uint64_t checkpoint_block(const struct registry_env *r)
{
	return r->snap && r->snap->source == REGISTRY_SOURCE_CHAIN ? r->snap->meta.block_number : 0;
}

static err_t status_chain(const struct registry_env *r, struct arena *mem, Dstack__Registry__V1__StatusResponse *out)
{
	struct registry_watch_status ws;
	size_t n = registry_watch_endpoint_count(r->watch);

	registry_watch_get_status(r->watch, &ws);
	out->chain_id = ws.chain_id;
	out->kms_contract_address = pb_bytes(mem, r->kms, REGISTRY_ADDR_LEN);
	out->head_block = ws.head;
	if (ws.last_head_seen)
		out->head_hash = pb_bytes(mem, ws.head_hash, 32);
	out->head_block_time_unix = ws.head_time;
	out->last_head_seen_unix = ws.last_head_seen;
	out->checkpoint_block = ws.checkpoint;
	if (ws.have_checkpoint)
		out->checkpoint_hash = pb_bytes(mem, ws.checkpoint_hash, 32);
	out->confirmations = r->cfg->confirmations;
	out->lag_blocks = ws.head > ws.checkpoint ? ws.head - ws.checkpoint : 0;
	out->stale_after_seconds = r->cfg->max_staleness_ms / 1000;
	out->events_applied = ws.events_applied;
	out->reorgs_detected = ws.reorgs;
	out->last_reorg_block = ws.last_reorg_block;
	if (ws.last_error != ERR_OK && !(out->last_error = pb_err(mem, ws.last_error, ws.last_error_detail)))
		return arena_err(mem);
	if (!(out->endpoints = arena_alloc(mem, (n + 1) * sizeof(*out->endpoints))))
		return arena_err(mem);
	for (size_t i = 0; i < n; i++) {
		Dstack__Registry__V1__RpcEndpointStatus *e =
			(void *)pb_new(&dstack__registry__v1__rpc_endpoint_status__descriptor, mem);
		struct registry_watch_endpoint we;

		if (!e)
			return arena_err(mem);
		registry_watch_get_endpoint(r->watch, i, &we);
		/* Credentials and query strings stay out of answers: scheme://host[:port]/path only. */
		{
			const char *u = we.url, *at = NULL, *q, *hs = strstr(u, "://");
			const char *host = hs ? hs + 3 : u;

			for (const char *c = host; *c && *c != '/'; c++)
				if (*c == '@')
					at = c;
			q = strpbrk(host, "?#");
			e->url = arena_printf(mem, "%.*s%.*s", (int)(host - u), u,
					      (int)(q ? q - (at ? at + 1 : host) : (ptrdiff_t)strlen(at ? at + 1 : host)),
					      at ? at + 1 : host);
			if (!e->url)
				return arena_err(mem);
		}
		e->healthy = we.healthy;
		e->active = we.active;
		e->last_ok_unix = we.last_ok;
		e->last_error_unix = we.last_error_at;
		e->consecutive_failures = we.consecutive_failures;
		e->last_latency_ms = we.latency_ms;
		e->head_block = we.head;
		if (we.last_error != ERR_OK && we.last_error_at &&
		    !(e->last_error = pb_err(mem, we.last_error, we.last_error_detail)))
			return arena_err(mem);
		out->endpoints[out->n_endpoints++] = e;
	}
	return ERR_OK;
}

static int on_list_events(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct registry_env *r = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	const pb_list_req *q = (const pb_list_req *)req;
	Dstack__Registry__V1__ListEventsResponse *out;
	size_t limit = q->limit ? q->limit : LIST_DEFAULT, n = registry_audit_count(r->audit), i, scanned = 0;
	const struct registry_event *last = NULL;
	uint64_t tb = 0;
	uint32_t tl = 0;
	int more = 0, has_token;

	out = (void *)pb_new(&dstack__registry__v1__list_events_response__descriptor, mem);
	if (!out || !(out->events = arena_alloc(mem, limit * sizeof(*out->events))))
		return arena_err(mem);
	out->next_page_token = svc_pb_str("");
	out->checkpoint_block = checkpoint_block(r);
	has_token = q->page_token && q->page_token[0];
	if (has_token && !parse_token(q->page_token, q->descending, &tb, &tl)) {
		rpc_call_set_detail(call, "page_token is not one this service issued for this direction");
		return ERR_INVALID_ARG;
	}
	/* i walks the log in the requested direction; for descending it is one past the next index. */
	if (has_token) {
		i = registry_audit_lower_bound(r->audit, tb, tl);
		/* Resume strictly after (ascending) or before (descending) the last event returned. */
		if (!q->descending && i < n && registry_audit_at(r->audit, i)->block == tb &&
		    registry_audit_at(r->audit, i)->log_index == tl)
			i++;
	} else if (!q->descending) {
		i = q->from_block ? registry_audit_lower_bound(r->audit, q->from_block, 0) : 0;
	} else {
		i = q->to_block && q->to_block < UINT64_MAX ? registry_audit_lower_bound(r->audit, q->to_block + 1, 0) : n;
	}
	while (q->descending ? i > 0 : i < n) {
		const struct registry_event *ev = registry_audit_at(r->audit, q->descending ? i - 1 : i);

		if (++scanned > LIST_SCAN_MAX) {
			more = 1;   /* stop here; the token resumes after the last event looked at */
			last = ev;
			break;
		}
		if (event_matches(q, ev)) {
			if (out->n_events == limit) {
				more = 1;
				break;
			}
			if (!(out->events[out->n_events] = event_pb(mem, ev)))
				return arena_err(mem);
			out->n_events++;
			last = ev;
		}
		/* Past the block range in the walking direction: nothing further can match. */
		if ((!q->descending && q->to_block && ev->block > q->to_block) ||
		    (q->descending && q->from_block && ev->block < q->from_block))
			break;
		i = q->descending ? i - 1 : i + 1;
	}
	if (more && last) {
		out->next_page_token = arena_printf(mem, "%c.%llu.%u", q->descending ? 'd' : 'a',
						    (unsigned long long)last->block, last->log_index);
		if (!out->next_page_token)
			return arena_err(mem);
	}
	*resp = &out->base;
	return ERR_OK;
}

/* ---------------------------------------------------------------------------------------------- */
/* Status and GetKmsInfo                                                                          */

static int on_status(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const struct registry_env *r = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	const struct registry_snapshot *s = r->snap;
	Dstack__Registry__V1__StatusResponse *out;
	Dstack__Common__V1__ServiceInfo *si;
	uint64_t age;
	err_t err;

	(void)req;
	out = (Dstack__Registry__V1__StatusResponse *)pb_new(&dstack__registry__v1__status_response__descriptor, mem);
	si = (Dstack__Common__V1__ServiceInfo *)pb_new(&dstack__common__v1__service_info__descriptor, mem);
	if (!out || !si)
		return arena_err(mem);
	svc_service_info(r->svc, si);
	out->service = si;
	out->backend = source_pb(r->backend);
	out->stale = registry_is_stale(r, wall_s(), &age);
	if (r->file) {
		const struct registry_file_status *fs = registry_file_status(r->file);

		out->policy_file_path = svc_pb_str(r->cfg->policy_file);
		if (fs->loaded_at) {
			out->policy_sha256 = pb_bytes(mem, fs->sha256, 32);
			out->policy_loaded_at_unix = fs->loaded_at;
		}
		if (fs->last_error != ERR_OK && !(out->last_error = pb_err(mem, fs->last_error, fs->last_error_detail)))
			return arena_err(mem);
		out->events_applied = fs->loads;
	}
	if (r->watch && (err = status_chain(r, mem, out)) != ERR_OK)
		return err;
	if (s) {
		out->app_count = (uint32_t)registry_snapshot_registered_apps(s);
		out->compose_hash_count = s->nhashes;
	}
	*resp = &out->base;
	return ERR_OK;
}

static int on_get_kms_info(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const struct registry_env *r = rpc_call_ctx(call);
	struct arena *mem = rpc_call_arena(call);
	const struct registry_snapshot *s = r->snap;
	Dstack__Registry__V1__GetKmsInfoResponse *out;
	uint64_t age;

	(void)req;
	if (!s) {
		rpc_call_set_detail(call, r->backend ? "no policy loaded yet" : "no policy configured");
		return ERR_UNAVAILABLE;
	}
	out = (void *)pb_new(&dstack__registry__v1__get_kms_info_response__descriptor, mem);
	if (!out)
		return arena_err(mem);
	out->kms_contract_address = pb_bytes(mem, s->kms_contract, REGISTRY_ADDR_LEN);
	out->chain_id = s->chain_id;
	out->ca_pubkey = pb_bytes(mem, s->kms_ca_pubkey.p, s->kms_ca_pubkey.len);
	out->k256_pubkey = pb_bytes(mem, s->kms_k256_pubkey.p, s->kms_k256_pubkey.len);
	out->quote = pb_bytes(mem, s->kms_quote.p, s->kms_quote.len);
	out->eventlog = pb_bytes(mem, s->kms_eventlog.p, s->kms_eventlog.len);
	if (!(out->gateway_app_id = arena_strdup(mem, s->gateway_app_id)))
		return arena_err(mem);
	out->app_implementation = pb_bytes(mem, s->app_implementation, REGISTRY_ADDR_LEN);
	out->kms_allow_any_device = s->kms_allow_any_device;
	out->allowed_os_images = arena_alloc(mem, (s->n_os_images + 1) * sizeof(ProtobufCBinaryData));
	out->allowed_kms_mr_aggregated = arena_alloc(mem, (s->n_kms_mrs + 1) * sizeof(ProtobufCBinaryData));
	out->allowed_kms_device_ids = arena_alloc(mem, (s->n_kms_devices + 1) * sizeof(ProtobufCBinaryData));
	out->allowed_tcb_statuses = arena_alloc(mem, (s->n_tcb_statuses + 1) * sizeof(char *));
	out->allowed_advisory_ids = arena_alloc(mem, (s->n_advisory_ids + 1) * sizeof(char *));
	if (!out->allowed_os_images || !out->allowed_kms_mr_aggregated || !out->allowed_kms_device_ids ||
	    !out->allowed_tcb_statuses || !out->allowed_advisory_ids)
		return arena_err(mem);
	for (size_t i = 0; i < s->n_os_images; i++)
		out->allowed_os_images[out->n_allowed_os_images++] = pb_bytes(mem, s->os_images[i].b, 32);
	for (size_t i = 0; i < s->n_kms_mrs; i++)
		out->allowed_kms_mr_aggregated[out->n_allowed_kms_mr_aggregated++] = pb_bytes(mem, s->kms_mrs[i].b, 32);
	for (size_t i = 0; i < s->n_kms_devices; i++)
		out->allowed_kms_device_ids[out->n_allowed_kms_device_ids++] = pb_bytes(mem, s->kms_devices[i].b, 32);
	if (s->source == REGISTRY_SOURCE_CHAIN) {
		out->allowed_tcb_statuses[out->n_allowed_tcb_statuses++] = svc_pb_str("UpToDate");
	} else {
		for (size_t i = 0; i < s->n_tcb_statuses; i++)
			if (!(out->allowed_tcb_statuses[out->n_allowed_tcb_statuses++] = arena_strdup(mem, s->tcb_statuses[i])))
				return arena_err(mem);
		for (size_t i = 0; i < s->n_advisory_ids; i++)
			if (!(out->allowed_advisory_ids[out->n_allowed_advisory_ids++] = arena_strdup(mem, s->advisory_ids[i])))
				return arena_err(mem);
	}
	out->block_number = s->meta.block_number;
	if (s->source == REGISTRY_SOURCE_CHAIN)
		out->block_hash = pb_bytes(mem, s->meta.block_hash, 32);
	out->source = source_pb(s->source);
	out->stale = registry_is_stale(r, wall_s(), &age);
	*resp = &out->base;
	return ERR_OK;
}

/*
 * Every method is public: each answer is a function of governance data that
 * is public anyway (on chain, or the operator's policy file), so asking
 * reveals nothing. What matters is the other direction: the KMS must know it
 * talks to its registry, which the transport (TLS / RA-TLS to this listener)
 * provides.
 */
static const struct rpc_method registry_methods[] = {
	{ "CheckBoot", on_check_boot, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, validate_check_boot },
	{ "GetPolicy", on_get_policy, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, validate_get_policy },
	{ "ListEvents", on_list_events, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, validate_list_events },
	{ "Status", on_status, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, NULL },
	{ "GetKmsInfo", on_get_kms_info, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, NULL },
};

/* ---------------------------------------------------------------------------------------------- */
/* Backends and lifecycle                                                                         */

/* A policy-file load: publish it and record it in the audit trail. */
static void on_file_load(void *arg, struct registry_snapshot *snap)
{
	struct registry_env *r = arg;
	struct registry_event ev;
	char sha[2 + 64 + 1], apps[24], hashes[24], os[24];
	err_t err;

	memset(&ev, 0, sizeof(ev));
	ev.kind = REGISTRY_EV_POLICY_FILE_LOADED;
	ev.name = "PolicyFileLoaded";
	ev.source = REGISTRY_SOURCE_FILE;
	ev.time = snap->meta.loaded_at;
	ev.log_index = r->file_seq++;
	sha[0] = '0';
	sha[1] = 'x';
	hex_encode(sha + 2, snap->meta.policy_sha256, 32);
	snprintf(apps, sizeof(apps), "%zu", registry_snapshot_registered_apps(snap));
	snprintf(hashes, sizeof(hashes), "%zu", snap->nhashes);
	snprintf(os, sizeof(os), "%zu", snap->n_os_images);
	ev.fields[0] = (struct registry_event_field){ "path", "string", r->cfg->policy_file, strlen(r->cfg->policy_file), 0 };
	ev.fields[1] = (struct registry_event_field){ "sha256", "bytes32", sha, strlen(sha), 0 };
	ev.fields[2] = (struct registry_event_field){ "apps", "uint64", apps, strlen(apps), 0 };
	ev.fields[3] = (struct registry_event_field){ "composeHashes", "uint64", hashes, strlen(hashes), 0 };
	ev.fields[4] = (struct registry_event_field){ "osImages", "uint64", os, strlen(os), 0 };
	ev.nfields = 5;
	if ((err = registry_audit_append(r->audit, &ev)) != ERR_OK ||
	    (err = registry_audit_sync(r->audit)) != ERR_OK)
		log_error(NULL, "audit log: cannot record the policy load: %s", err_str(err));
	metric_add(r->m_events, 1);
	registry_publish(r, snap);
}

static err_t on_ready(void *arg, const char **detail)
{
	const struct registry_env *r = arg;
	uint64_t age;

	if (!r->backend) {
		*detail = "no policy configured";
		return ERR_UNAVAILABLE;
	}
	if (!r->snap) {
		*detail = "no policy loaded yet";
		return ERR_UNAVAILABLE;
	}
	if (r->watch) {
		err_t err = registry_watch_ready(r->watch, detail);

		if (err != ERR_OK)
			return err;
	}
	if (registry_is_stale(r, wall_s(), &age)) {
		*detail = "registry view is stale";
		return ERR_POLICY_STALE;
	}
	return ERR_OK;
}

static err_t start_file(struct registry_env *r, const char **detail)
{
	static char why[REGISTRY_FILE_DETAIL + 64];
	const struct registry_config *c = r->cfg;
	err_t err;

	r->backend = REGISTRY_SOURCE_FILE;
	if (!(r->audit = registry_audit_new(c->audit_log ? 0 : c->audit_max_events))) {
		*detail = "out of memory";
		return ERR_NOMEM;
	}
	if (c->audit_log) {
		if ((err = registry_audit_open(r->audit, c->audit_log, why, sizeof(why))) != ERR_OK) {
			*detail = why;
			return err;
		}
		if (registry_audit_count(r->audit))
			r->file_seq = registry_audit_at(r->audit, registry_audit_count(r->audit) - 1)->log_index + 1;
	}
	r->file = registry_file_new(r->svc->base, r->svc->metrics, c->policy_file, c->policy_poll_ms, on_file_load, r);
	if (!r->file) {
		*detail = "out of memory";
		return ERR_NOMEM;
	}
	if ((err = registry_file_start(r->file, why, sizeof(why))) != ERR_OK) {
		*detail = why;
		return ERR_CONFIG;
	}
	return ERR_OK;
}

static void on_chain_snapshot(void *arg, struct registry_snapshot *snap)
{
	registry_publish(arg, snap);
}

static err_t start_chain(struct registry_env *r, const char **detail)
{
	static char why[512];
	const struct registry_config *c = r->cfg;
	struct registry_watch_config wc;
	size_t n = 0;

	r->backend = REGISTRY_SOURCE_CHAIN;
	if (hex_decode(r->kms, sizeof(r->kms), &n, c->kms_contract, strlen(c->kms_contract), 1) != ERR_OK ||
	    n != sizeof(r->kms)) {
		*detail = "chain.kms_contract must be 0x followed by 40 hex digits";
		return ERR_CONFIG;
	}
	if (!(r->audit = registry_audit_new(0))) {
		*detail = "out of memory";
		return ERR_NOMEM;
	}
	memset(&wc, 0, sizeof(wc));
	wc.urls = c->rpc_urls.items;
	wc.nurls = c->rpc_urls.n;
	wc.chain_id = c->chain_id;
	memcpy(wc.kms, r->kms, sizeof(wc.kms));
	wc.confirmations = c->confirmations;
	wc.poll_ms = c->chain_poll_ms;
	wc.log_range = c->log_range;
	wc.start_block = c->start_block;
	wc.checkpoint_file = c->checkpoint_file;
	wc.max_staleness_ms = c->max_staleness_ms;
	wc.rpc_timeout_ms = c->rpc_timeout_ms;
	if (!(r->watch = registry_watch_new(r->svc->base, r->svc->metrics, &wc, r->audit, on_chain_snapshot, r, why,
					    sizeof(why)))) {
		*detail = why;
		return ERR_CONFIG;
	}
	registry_watch_start(r->watch);
	return ERR_OK;
}

err_t registry_init(struct svc_env *env, const char **detail)
{
	struct registry_env *r = calloc(1, sizeof(*r));
	struct metrics *m = env->metrics;
	err_t err;

	if (!r) {
		*detail = "out of memory";
		return ERR_NOMEM;
	}
	r->svc = env;
	r->cfg = env->config;
	env->priv = r;
	r->registry_def = (struct rpc_service_def){
		&dstack__registry__v1__registry__descriptor, registry_methods, ARRAY_LEN(registry_methods), r,
	};
	r->m_allow = metrics_series(m, METRIC_COUNTER, "registry_checkboot_total", "CheckBoot answers by outcome",
				    "result=\"allow\"");
	r->m_deny = metrics_series(m, METRIC_COUNTER, "registry_checkboot_total", "CheckBoot answers by outcome",
				   "result=\"deny\"");
	r->m_error = metrics_series(m, METRIC_COUNTER, "registry_checkboot_total", "CheckBoot answers by outcome",
				    "result=\"error\"");
	r->m_events = metrics_series(m, METRIC_COUNTER, "registry_events_applied_total",
				     "Governance events (or policy loads) applied", NULL);
	r->m_xc_agree = metrics_series(m, METRIC_COUNTER, "registry_crosscheck_total",
				       "CheckBoot cross-checks against the contract by outcome", "result=\"agree\"");
	r->m_xc_disagree = metrics_series(m, METRIC_COUNTER, "registry_crosscheck_total",
					  "CheckBoot cross-checks against the contract by outcome", "result=\"disagree\"");
	r->m_xc_error = metrics_series(m, METRIC_COUNTER, "registry_crosscheck_total",
				       "CheckBoot cross-checks against the contract by outcome", "result=\"error\"");
	if (r->cfg->policy_file) {
		if ((err = start_file(r, detail)) != ERR_OK)
			return err;
	} else if (r->cfg->rpc_urls.n) {
		if ((err = start_chain(r, detail)) != ERR_OK)
			return err;
	} else if (!(r->audit = registry_audit_new(1))) {
		*detail = "out of memory";
		return ERR_NOMEM;
	}
	if ((err = svc_add_ready_check(env, "registry", on_ready, r)) != ERR_OK) {
		*detail = "cannot add the readiness check";
		return err;
	}
	return svc_add_service(env, &r->registry_def, detail);
}

void registry_fini(struct svc_env *env)
{
	struct registry_env *r = env->priv;

	if (!r)
		return;
	r->closing = 1;
	registry_watch_free(r->watch);  /* pending cross-checks end here, without touching their calls */
	registry_file_free(r->file);
	registry_audit_free(r->audit);
	registry_snapshot_unref(r->snap);
	free(r);
	env->priv = NULL;
}
