/* SPDX-License-Identifier: Apache-2.0 */
/* A client of the KMS for CVMs and KMS replicas: temp CA, an RA-TLS client certificate, then GetAppKey / GetKmsKey over mutual TLS. */
#ifndef DS_KMS_CLIENT_H
#define DS_KMS_CLIENT_H

#include "arena.h"
#include "dstack/kms/v1/kms.pb-c.h"
#include "err.h"
#include "ratls.h"
#include "rpc_status.h"

/* A tls_verifier for a client of the KMS: the server certificate chains to the pinned root and says kms:rpc. */
extern const struct tls_verifier kms_server_verifier;

struct kms_client_opts {
	const char *url;              /* "https://host:port" of the KMS */
	/*
	 * The KMS root CA to pin (PEM), e.g. from the registry's KMS info. NULL:
	 * take it from GetTempCaCert, fetched without verifying the server (as
	 * dstack's guest does); everything after is pinned to that root and the
	 * keys' signature chains must still check against the on-chain k256 key.
	 */
	const char *root_ca_pem;
	ratls_quote_fn quote;         /* evidence for the client certificate's key */
	void *quote_arg;
	uint32_t timeout_ms;          /* per call; 0 = 30 s */
};

/* What a key request returns; everything in the arena given to the call. */
struct kms_client_result {
	const char *root_ca_pem;      /* the root CA the KMS was verified against */
	Dstack__Kms__V1__AppKeyResponse *app_keys;   /* kms_client_get_app_key */
	Dstack__Kms__V1__KmsKeyResponse *kms_keys;   /* kms_client_get_kms_key */
	enum rpc_code code;           /* the KMS's status on failure (e.g. PERMISSION_DENIED), RPC_OK otherwise */
	const char *message;          /* the KMS's message on failure */
};

/*
 * Blocking (boot flows and CLIs). ERR_OK with the keys, or the failure:
 * transport / TLS errors, ERR_POLICY_DENIED when the registry denied the
 * boot (out->message has the reason), other KMS statuses mapped back to
 * err_t. *detail is static text for the step that failed.
 */
err_t kms_client_get_app_key(const struct kms_client_opts *o, const char *vm_config, struct arena *mem,
			     struct kms_client_result *out, const char **detail) MUST_CHECK;
err_t kms_client_get_kms_key(const struct kms_client_opts *o, const char *vm_config, struct arena *mem,
			     struct kms_client_result *out, const char **detail) MUST_CHECK;

#endif
