/* SPDX-License-Identifier: Apache-2.0 */
/* Boot authorisation for the KMS: ask the registry service (CheckBoot) whether an attested app or KMS may get keys. */
#include <stdlib.h>
#include <string.h>

#include "dstack/registry/v1/registry.pb-c.h"
#include "kms_authz.h"
#include "rpc_client.h"

struct kms_authz {
	struct event_base *base;
	struct rpc_client *client;   /* NULL when no registry is configured */
};

struct pending {
	kms_authz_cb cb;
	void *arg;
	struct event *ev;            /* for the no-registry answer, delivered from the loop */
};

struct kms_authz *kms_authz_new(struct event_base *base, const char *url)
{
	struct kms_authz *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->base = base;
	if (url && *url) {
		/*
		 * Connect over HTTP/1.1, not gRPC: with libcurl < 8.0 lib/rpc gives every h2c
		 * (http://) gRPC call a fresh TCP connection, i.e. one connect and one TIME_WAIT
		 * socket per key release; HTTP/1.1 connections are kept alive (bench/kms).
		 */
		struct rpc_client_opts o = {
			.base_url = url,
			.wire = RPC_WIRE_CONNECT_PROTO,
			.timeout_ms = 5000,
			.max_retries = 1,
		};

		if (!(a->client = rpc_client_new(base, &o))) {
			free(a);
			return NULL;
		}
	}
	return a;
}

void kms_authz_free(struct kms_authz *a)
{
	if (!a)
		return;
	rpc_client_free(a->client);
	free(a);
}

static void on_answer(void *arg, const struct rpc_result *res)
{
	struct pending *p = arg;
	const Dstack__Registry__V1__CheckBootResponse *r = (const void *)res->resp;
	struct kms_decision d = { 0 };

	if (res->err != ERR_OK) {
		const char *msg = res->message && *res->message ? res->message : "registry unreachable";

		p->cb(p->arg, strstr(msg, "stale") ? ERR_POLICY_STALE : ERR_UNAVAILABLE, msg, NULL);
	} else if (r->error && r->error->code != 0) {
		/* The registry decided it cannot decide (e.g. a contract state it cannot evaluate): fail closed. */
		p->cb(p->arg, ERR_UNAVAILABLE, r->error->detail && *r->error->detail ? r->error->detail : "registry could not decide", NULL);
	} else {
		d.allowed = r->allowed;
		d.reason = r->reason ? r->reason : "";
		d.gateway_app_id = r->gateway_app_id ? r->gateway_app_id : "";
		d.block = r->decided_at_block;
		p->cb(p->arg, ERR_OK, "", &d);
	}
	free(p);
}

static void on_no_registry(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	(void)fd;
	(void)what;
	event_free(p->ev);
	p->cb(p->arg, ERR_UNAVAILABLE, "no registry configured (registry.url): every key request is denied", NULL);
	free(p);
}

#define BYTES(f) ((ProtobufCBinaryData){ b->f##_len, UNCONST(b->f) })

err_t kms_authz_check(struct kms_authz *a, const struct attest_boot_info *b, int kind_kms, kms_authz_cb cb, void *arg)
{
	Dstack__Registry__V1__CheckBootRequest q;
	Dstack__Common__V1__BootInfo bi;
	struct rpc_call_opts co = { .idempotent = 1 };
	struct pending *p = calloc(1, sizeof(*p));
	err_t err;

	if (!p)
		return ERR_NOMEM;
	p->cb = cb;
	p->arg = arg;
	if (!a->client) {
		if (!(p->ev = event_new(a->base, -1, 0, on_no_registry, p))) {
			free(p);
			return ERR_NOMEM;
		}
		event_active(p->ev, 0, 0);
		return ERR_OK;
	}
	dstack__common__v1__boot_info__init(&bi);
	bi.tee_variant = UNCONST(b->tee_variant ? b->tee_variant : "");
	bi.mr_aggregated = BYTES(mr_aggregated);
	bi.os_image_hash = BYTES(os_image_hash);
	bi.mr_system = BYTES(mr_system);
	bi.app_id = BYTES(app_id);
	bi.compose_hash = BYTES(compose_hash);
	bi.instance_id = BYTES(instance_id);
	bi.device_id = BYTES(device_id);
	bi.key_provider_info = BYTES(key_provider_info);
	bi.tcb_status = UNCONST(b->tcb_status ? b->tcb_status : "");
	bi.n_advisory_ids = b->n_advisory_ids;
	bi.advisory_ids = UNCONST(b->advisory_ids);
	dstack__registry__v1__check_boot_request__init(&q);
	q.boot_info = &bi;
	q.kind = kind_kms ? DSTACK__REGISTRY__V1__BOOT_KIND__BOOT_KIND_KMS : DSTACK__REGISTRY__V1__BOOT_KIND__BOOT_KIND_APP;
	err = rpc_client_call(a->client, "/dstack.registry.v1.Registry/CheckBoot", &q.base,
			      &dstack__registry__v1__check_boot_response__descriptor, &co, on_answer, p);
	if (err != ERR_OK)
		free(p);
	return err;
}
