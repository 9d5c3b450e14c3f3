/* SPDX-License-Identifier: Apache-2.0 */
/* Runtime internals shared by svc.c (commands, serve loop) and svc_health.c (health, readiness, metrics routes). */
#ifndef DS_SVC_INTERNAL_H
#define DS_SVC_INTERNAL_H

#include <openssl/ssl.h>
#include "svc.h"

#define SVC_MAX_READY_CHECKS 16
#define SVC_MAX_SERVICES 16
#define SVC_MAX_LISTENERS 16
#define SVC_ADDR_TEXT 300

struct svc_ready_check {
	const char *name;
	svc_ready_fn fn;
	void *arg;
};

struct svc_state {
	struct svc_config cfg;
	SSL_CTX *tls;                   /* owned; NULL for cleartext */
	char *admin_token;              /* owned, wiped on free */
	size_t admin_token_len;
	struct svc_ready_check checks[SVC_MAX_READY_CHECKS];
	size_t nchecks;
	const char *services[SVC_MAX_SERVICES];  /* full names, borrowed from the descriptors */
	size_t nservices;
	struct rpc_service_def health_def;
	char bound[SVC_MAX_LISTENERS][SVC_ADDR_TEXT];  /* listen addresses with the real port */
	size_t nbound;
	int draining;
	struct event *sig_term, *sig_int;
};

/* Register grpc.health.v1.Health and the /healthz, /readyz and /metrics routes. */
err_t svc_health_register(struct svc_env *env, const char **detail) MUST_CHECK;

/* Name of the first failing readiness condition ("draining" or a check's name), or NULL when ready. */
const char *svc_not_ready(const struct svc_env *env, const char **detail);

#endif
