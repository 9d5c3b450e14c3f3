/* SPDX-License-Identifier: Apache-2.0 */
/* What the guest agent's RPC files share: handlers, validators and small helpers. Not a public API. */
#ifndef DS_GUEST_RPC_H
#define DS_GUEST_RPC_H

#include <protobuf-c/protobuf-c.h>

#include "dstack/guest/v1/guest.pb-c.h"
#include "guest-agent.h"
#include "guest_worker.h"
#include "rpc.h"

/* Request limits beyond the message size (docs/guest-agent.md). */
#define GUEST_MAX_PATH 4096          /* GetKey path / purpose bytes */
#define GUEST_MAX_SUBJECT 64         /* certificate CN characters (X.509 ub-common-name) */
#define GUEST_MAX_ALT_NAMES 32
#define GUEST_MAX_ALT_NAME 253
#define GUEST_MAX_SIGN_DATA (64u << 10)
#define GUEST_MAX_EVENT_NAME 128
#define GUEST_MAX_EVENT_PAYLOAD (64u << 10)
#define GUEST_MAX_TDX_QUOTE_DATA (64u << 10)
/* Issued TLS certificates live at most a year (the KMS's limit too). */
#define GUEST_TLS_MAX_VALIDITY_S (365ull * 86400)

static inline struct guest_env *guest_of(const struct rpc_call *call)
{
	return rpc_call_ctx(call);
}

/* guest-agent_rpc.c: the three services' method tables into g's defs (ctx = g). */
void guest_rpc_defs(struct guest_env *g);
/* dstack's bare routes for the registered services: "/<Method>", "/prpc/Tappd.<Method>", "/prpc/<Method>", "/prpc/Worker.<Method>". */
err_t guest_rpc_routes(struct rpc_server *s, struct guest_env *g, const char **detail) MUST_CHECK;

/* A byte field for a response, copied into the call arena. NULL data with n > 0 is an allocation failure. */
ProtobufCBinaryData guest_pb_bytes(struct rpc_call *call, const void *p, size_t n);

/* guest_keys_rpc.c */
int guest_on_get_key(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int guest_on_derive_k256_key(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int guest_on_sign(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int guest_on_verify(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
err_t guest_validate_get_key(const ProtobufCMessage *req, const char **detail);
err_t guest_validate_sign(const ProtobufCMessage *req, const char **detail);
err_t guest_validate_verify(const ProtobufCMessage *req, const char **detail);

/* guest_quote_rpc.c */
int guest_on_get_quote(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int guest_on_attest(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int guest_on_tdx_quote(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int guest_on_raw_quote(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int guest_on_emit_event(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int guest_on_app_key_attestation(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
err_t guest_validate_raw_quote(const ProtobufCMessage *req, const char **detail);
err_t guest_validate_tdx_quote(const ProtobufCMessage *req, const char **detail);
err_t guest_validate_emit_event(const ProtobufCMessage *req, const char **detail);
/* Free a worker job that will never complete (agent stopping). */
void guest_job_drop(struct guest_job *j);

/* guest_tls_rpc.c */
int guest_on_get_tls_key(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int guest_on_derive_key(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
err_t guest_validate_get_tls_key(const ProtobufCMessage *req, const char **detail);
err_t guest_validate_derive_key(const ProtobufCMessage *req, const char **detail);
void guest_tls_fini(struct guest_env *g);

/* guest_info_rpc.c */
int guest_on_info(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int guest_on_worker_info(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);
int guest_on_gpu_info(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);

/*
 * Report data for dstack's legacy TdxQuote: H(tag || ":" || data) zero-padded
 * to 64, tag = prefix or "app-data"; `alg` sha256, sha384, sha512 (default
 * when ""), sha3-256/384/512, keccak256/384/512; "raw" takes exactly 64
 * bytes verbatim. ERR_INVALID_ARG with *detail for anything else. Pure.
 */
err_t guest_tdx_report_data(const char *alg, const char *prefix, const uint8_t *data, size_t len,
			    uint8_t out[64], const char **detail) MUST_CHECK;

#endif
