/* SPDX-License-Identifier: Apache-2.0 */
/* Boot authorisation for the KMS: ask the registry service (CheckBoot) whether an attested app or KMS may get keys. */
#ifndef DS_KMS_AUTHZ_H
#define DS_KMS_AUTHZ_H

#include <event2/event.h>

#include "claims.h"
#include "err.h"

struct kms_decision {
	int allowed;
	const char *reason;          /* the registry's reason ("" when allowed) */
	const char *gateway_app_id;
	uint64_t block;              /* block (or policy) the decision was made at */
};

/*
 * err is ERR_OK with a decision (allowed or denied), or why no decision could
 * be had: the registry unreachable (ERR_UNAVAILABLE), stale
 * (ERR_POLICY_STALE), or answering with an error. The KMS fails closed on any
 * of them. `d` and its strings are valid only during the callback.
 */
typedef void (*kms_authz_cb)(void *arg, err_t err, const char *detail, const struct kms_decision *d);

struct kms_authz;

/* A client of the registry at `url` ("" = none: every check fails with ERR_UNAVAILABLE). NULL on failure. */
struct kms_authz *kms_authz_new(struct event_base *base, const char *url);
void kms_authz_free(struct kms_authz *a);

/* CheckBoot(kind app or kms) for `b` (copied before return). The callback runs exactly once, from the loop. */
err_t kms_authz_check(struct kms_authz *a, const struct attest_boot_info *b, int kind_kms, kms_authz_cb cb,
		      void *arg) MUST_CHECK;

#endif
