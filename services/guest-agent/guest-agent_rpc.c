/* SPDX-License-Identifier: Apache-2.0 */
/* dstack.guest.v1 DstackGuest, Tappd and Worker: method tables, dstack-compatible routes, init (boot first) and fini. */
#include <stdio.h>
#include <stdlib.h>

#include "guest_keymemo.h"
#include "guest_rpc.h"
#include "guest_worker.h"
#include "guest_workload.h"
#include "log.h"
#include "pbcodec.h"

/* The same answer on all three services, as in dstack. */
static int on_version(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	struct arena *mem = rpc_call_arena(call);
	Dstack__Guest__V1__WorkerVersion *out;

	(void)req;
	out = (Dstack__Guest__V1__WorkerVersion *)pb_new(&dstack__guest__v1__worker_version__descriptor, mem);
	if (!out)
		return arena_err(mem);
	out->version = svc_pb_str(svc_version());
	out->rev = svc_pb_str(svc_git_rev());
	*resp = &out->base;
	return ERR_OK;
}

#define PUB RPC_F_PUBLIC
#define PUB_IDEM (RPC_F_PUBLIC | RPC_F_IDEMPOTENT)

/*
 * The app socket's file mode is its access control (dstack authorises by
 * nothing else either), so DstackGuest and Tappd methods are public to
 * whoever can open the socket; the config refuses non-loopback listeners.
 * Worker is what dstack serves on its external port: tcb_info and vm_config
 * are withheld there unless the compose allows them.
 */
static const struct rpc_method guest_methods[] = {
	{ "GetTlsKey", guest_on_get_tls_key, PUB, guest_validate_get_tls_key },
	{ "GetKey", guest_on_get_key, PUB_IDEM, guest_validate_get_key },
	{ "GetQuote", guest_on_get_quote, PUB, guest_validate_raw_quote },
	{ "Attest", guest_on_attest, PUB, guest_validate_raw_quote },
	{ "Info", guest_on_info, PUB_IDEM, NULL },
	{ "GpuInfo", guest_on_gpu_info, PUB_IDEM, NULL },
	{ "Sign", guest_on_sign, PUB_IDEM, guest_validate_sign },
	{ "Verify", guest_on_verify, PUB_IDEM, guest_validate_verify },
	{ "Version", on_version, PUB_IDEM, NULL },
	{ "EmitEvent", guest_on_emit_event, PUB, guest_validate_emit_event },
};
static const struct rpc_method tappd_methods[] = {
	{ "DeriveKey", guest_on_derive_key, PUB, guest_validate_derive_key },
	{ "DeriveK256Key", guest_on_derive_k256_key, PUB_IDEM, guest_validate_get_key },
	{ "TdxQuote", guest_on_tdx_quote, PUB, guest_validate_tdx_quote },
	{ "RawQuote", guest_on_raw_quote, PUB, guest_validate_raw_quote },
	{ "Info", guest_on_info, PUB_IDEM, NULL },
	{ "Version", on_version, PUB_IDEM, NULL },
};
static const struct rpc_method worker_methods[] = {
	{ "Info", guest_on_worker_info, PUB_IDEM, NULL },
	{ "Version", on_version, PUB_IDEM, NULL },
	{ "GetAttestationForAppKey", guest_on_app_key_attestation, PUB, NULL },
};

/*
 * dstack's own paths for every method, in dstack's JSON flavour, so the
 * dstack SDKs work unchanged: DstackGuest at "/<Method>" (dstack.sock),
 * Tappd at "/prpc/Tappd.<Method>" and "/prpc/<Method>" (tappd.sock, which
 * trims the "Tappd." prefix), Worker at "/prpc/Worker.<Method>" (the
 * external port). Every listener serves every route.
 */
static err_t add_dstack_routes(struct rpc_server *s, const ProtobufCServiceDescriptor *d, const char *prefix,
			       const char **detail)
{
	for (unsigned i = 0; i < d->n_methods; i++) {
		char alias[160], target[200];
		int a = snprintf(alias, sizeof(alias), "%s%s", prefix, d->methods[i].name);
		int t = snprintf(target, sizeof(target), "/%s/%s", d->name, d->methods[i].name);
		err_t err;

		if (a < 0 || (size_t)a >= sizeof(alias) || t < 0 || (size_t)t >= sizeof(target)) {
			*detail = "dstack route path too long";
			return ERR_INTERNAL;
		}
		if ((err = rpc_server_add_alias(s, alias, target, PBJSON_DSTACK, detail)) != ERR_OK)
			return err;
	}
	return ERR_OK;
}

void guest_rpc_defs(struct guest_env *g)
{
	g->guest_def = (struct rpc_service_def){
		&dstack__guest__v1__dstack_guest__descriptor, guest_methods, ARRAY_LEN(guest_methods), g,
	};
	g->tappd_def = (struct rpc_service_def){
		&dstack__guest__v1__tappd__descriptor, tappd_methods, ARRAY_LEN(tappd_methods), g,
	};
	g->worker_def = (struct rpc_service_def){
		&dstack__guest__v1__worker__descriptor, worker_methods, ARRAY_LEN(worker_methods), g,
	};
}

err_t guest_rpc_routes(struct rpc_server *s, struct guest_env *g, const char **detail)
{
	err_t err;

	if ((err = add_dstack_routes(s, g->guest_def.desc, "/", detail)) != ERR_OK ||
	    (err = add_dstack_routes(s, g->tappd_def.desc, "/prpc/Tappd.", detail)) != ERR_OK ||
	    (err = add_dstack_routes(s, g->tappd_def.desc, "/prpc/", detail)) != ERR_OK ||
	    (err = add_dstack_routes(s, g->worker_def.desc, "/prpc/Worker.", detail)) != ERR_OK)
		return err;
	return ERR_OK;
}

/* Ready once booted: the boot runs in init, so a serving agent is a booted one. */
static err_t ready(void *arg, const char **detail)
{
	struct guest_env *g = arg;

	if (!g->snap.event_log) {
		*detail = "no event log snapshot";
		return ERR_UNAVAILABLE;
	}
	return ERR_OK;
}

/* The GetKey memo's counters at scrape time (the memo counts; nothing is added per request). */
static void render_keymemo(void *arg, struct buf_writer *w)
{
	const struct guest_env *g = arg;
	struct guest_keymemo_stats st = guest_keymemo_stats(g->keymemo);

	buf_printf(w, "# HELP guest_getkey_memo_lookups_total GetKey answers looked up in the memo, by result.\n"
		      "# TYPE guest_getkey_memo_lookups_total counter\n"
		      "guest_getkey_memo_lookups_total{result=\"hit\"} %llu\n"
		      "guest_getkey_memo_lookups_total{result=\"miss\"} %llu\n"
		      "# HELP guest_getkey_memo_evictions_total Memo entries replaced by newer keys.\n"
		      "# TYPE guest_getkey_memo_evictions_total counter\n"
		      "guest_getkey_memo_evictions_total %llu\n",
		   (unsigned long long)st.hits, (unsigned long long)st.misses, (unsigned long long)st.evictions);
}

err_t guest_init(struct svc_env *env, const char **detail)
{
	struct guest_env *g = calloc(1, sizeof(*g));
	err_t err;

	if (!g) {
		*detail = "out of memory";
		return ERR_NOMEM;
	}
	g->svc = env;
	g->cfg = env->config;
	env->priv = g;
	/* The measured boot first: keys, env and disk before any app can ask. */
	if ((err = guest_boot_run(g->cfg, &g->boot, &g->tee)) != ERR_OK) {
		*detail = "boot failed (see the boot log line for the reason)";
		return err;
	}
	if ((err = guest_snapshot_take(g->tee, &g->snap, detail)) != ERR_OK)
		return err;
	if (!(g->worker = guest_worker_new(env->base, g->cfg->workers, g->cfg->max_queue))) {
		*detail = "cannot start the worker threads";
		return ERR_NOMEM;
	}
	if (!(g->keymemo = guest_keymemo_new()))
		log_warn("guest", "GetKey memo unavailable (mmap failed): every GetKey derives its key");
	metrics_add_collector(env->metrics, render_keymemo, g);
	guest_rpc_defs(g);
	if ((err = svc_add_service(env, &g->guest_def, detail)) != ERR_OK ||
	    (err = svc_add_service(env, &g->tappd_def, detail)) != ERR_OK ||
	    (err = svc_add_service(env, &g->worker_def, detail)) != ERR_OK ||
	    (err = guest_rpc_routes(env->server, g, detail)) != ERR_OK)
		return err;
	if ((err = svc_add_ready_check(env, "boot", ready, g)) != ERR_OK) {
		*detail = "cannot add the readiness check";
		return err;
	}
	if (g->cfg->app_run && (err = guest_workload_start(g, detail)) != ERR_OK)
		return err;
	return ERR_OK;
}

void guest_fini(struct svc_env *env)
{
	struct guest_env *g = env->priv;

	if (!g)
		return;
	guest_workload_stop(g);
	guest_tls_fini(g);
	guest_worker_free(g->worker, guest_job_drop);
	guest_keymemo_free(g->keymemo);
	guest_snapshot_free(&g->snap);
	guest_boot_free(&g->boot);
	tee_close(g->tee);
	free(g);
	env->priv = NULL;
}
