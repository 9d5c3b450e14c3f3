/* SPDX-License-Identifier: Apache-2.0 */
/* Liveness and readiness: grpc.health.v1.Health/Check, /healthz, /readyz, /metrics and the runtime's own metrics. */
#include "svc_internal.h"

#include <string.h>

#include "grpc/health/v1/health.pb-c.h"
#include "log.h"
#include "pbcodec.h"

typedef Grpc__Health__V1__HealthCheckRequest health_req;
typedef Grpc__Health__V1__HealthCheckResponse health_resp;

static int is_registered(const struct svc_state *st, const char *name)
{
	for (size_t i = 0; i < st->nservices; i++)
		if (strcmp(st->services[i], name) == 0)
			return 1;
	return 0;
}

const char *svc_not_ready(const struct svc_env *env, const char **detail)
{
	const struct svc_state *st = env->state;

	*detail = NULL;
	if (st->draining)
		return "draining";
	for (size_t i = 0; i < st->nchecks; i++) {
		const char *d = NULL;
		err_t err = st->checks[i].fn(st->checks[i].arg, &d);

		if (err != ERR_OK) {
			*detail = d ? d : err_str(err);
			return st->checks[i].name;
		}
	}
	return NULL;
}

/*
 * The gRPC health protocol: "" is the whole server; a registered service
 * name answers for that service; anything else is NOT_FOUND. Draining
 * answers NOT_SERVING so balancers stop sending before the listener closes.
 * Readiness checks do not change it: a service waiting on a dependency is
 * alive and serving the calls that do not need it.
 */
static int on_check(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const struct svc_env *env = rpc_call_ctx(call);
	const health_req *r = (const health_req *)req;
	health_resp *out;

	if (r->service && r->service[0] && !is_registered(env->state, r->service)) {
		rpc_call_set_detail(call, "unknown service");
		return ERR_NOT_FOUND;
	}
	out = (health_resp *)pb_new(&grpc__health__v1__health_check_response__descriptor, rpc_call_arena(call));
	if (!out)
		return arena_err(rpc_call_arena(call));
	out->status = env->state->draining ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
					   : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	*resp = &out->base;
	return ERR_OK;
}

/* Watch stays unlisted: the runtime answers UNIMPLEMENTED, which the health spec allows. */
static const struct rpc_method health_methods[] = {
	{ "Check", on_check, RPC_F_PUBLIC | RPC_F_IDEMPOTENT, NULL },
};

static int on_healthz(void *arg, struct rpc_call *call, const struct rpc_http_request *req,
                      struct rpc_http_response *resp)
{
	(void)call;
	(void)req;
	(void)arg;
	resp->status = 200;
	resp->content_type = "text/plain; charset=utf-8";
	buf_put_str(&resp->body, "ok\n");
	return 0;
}

static int on_readyz(void *arg, struct rpc_call *call, const struct rpc_http_request *req,
                     struct rpc_http_response *resp)
{
	(void)call;
	(void)req;
	const struct svc_env *env = arg;
	const char *detail = NULL;
	const char *failing = svc_not_ready(env, &detail);

	resp->content_type = "text/plain; charset=utf-8";
	if (!failing) {
		resp->status = 200;
		buf_put_str(&resp->body, "ready\n");
		return 0;
	}
	resp->status = 503;
	if (detail)
		buf_printf(&resp->body, "not ready: %s: %s\n", failing, detail);
	else
		buf_printf(&resp->body, "not ready: %s\n", failing);
	return 0;
}

static int on_metrics(void *arg, struct rpc_call *call, const struct rpc_http_request *req,
                      struct rpc_http_response *resp)
{
	(void)call;
	(void)req;
	const struct svc_env *env = arg;

	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4";
	metrics_render(env->metrics, &resp->body);
	return 0;
}

/* Numbers the runtime itself knows, rendered at scrape time so they are never stale. */
static void render_runtime(void *arg, struct buf_writer *w)
{
	const struct svc_env *env = arg;
	const char *detail = NULL;

	buf_put_str(w, "# HELP dstack_build_info Build of this process; the value is always 1.\n"
		       "# TYPE dstack_build_info gauge\n");
	buf_put_str(w, "dstack_build_info{service=\"");
	metrics_put_label_value(w, env->def->name);
	buf_put_str(w, "\",version=\"");
	metrics_put_label_value(w, svc_version());
	buf_put_str(w, "\",revision=\"");
	metrics_put_label_value(w, svc_git_rev());
	buf_put_str(w, "\"} 1\n");
	buf_printf(w,
		   "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
		   "# TYPE process_start_time_seconds gauge\n"
		   "process_start_time_seconds %llu\n",
		   (unsigned long long)env->started_at_unix);
	buf_printf(w,
		   "# HELP dstack_ready 1 when /readyz would answer 200.\n"
		   "# TYPE dstack_ready gauge\n"
		   "dstack_ready %d\n",
		   svc_not_ready(env, &detail) ? 0 : 1);
}

err_t svc_health_register(struct svc_env *env, const char **detail)
{
	struct svc_state *st = env->state;
	err_t err;

	st->health_def = (struct rpc_service_def){
		&grpc__health__v1__health__descriptor, health_methods, ARRAY_LEN(health_methods), env,
	};
	if ((err = svc_add_service(env, &st->health_def, detail)) != ERR_OK)
		return err;
	*detail = "cannot add an HTTP route";
	if ((err = rpc_server_add_http(env->server, "/healthz", on_healthz, env)) != ERR_OK)
		return err;
	if ((err = rpc_server_add_http(env->server, "/readyz", on_readyz, env)) != ERR_OK)
		return err;
	if ((err = rpc_server_add_http(env->server, "/metrics", on_metrics, env)) != ERR_OK)
		return err;
	*detail = NULL;
	metrics_add_collector(env->metrics, render_runtime, env);
	return ERR_OK;
}
