/* SPDX-License-Identifier: Apache-2.0 */
/* The key holder: a separate process that alone holds the root keys; the network process asks it to derive and sign. */
#ifndef DS_KMS_KEYHOLDER_H
#define DS_KMS_KEYHOLDER_H

#include "arena.h"
#include "dstack/kms/internal/v1/keyholder.pb-c.h"
#include "err.h"

typedef Dstack__Kms__Internal__V1__KhRequest kh_request;
typedef Dstack__Kms__Internal__V1__KhResponse kh_response;

/* Largest request or response frame (a state with many epochs and certificates fits). */
#define KH_FRAME_MAX (4u << 20)

/*
 * Privilege separation. The network-facing process (TLS, HTTP, JSON, every
 * parser of untrusted bytes) never holds a root key: at start it launches
 * the key holder (this same binary, re-executed as `dstack-kms keyholder`,
 * so nothing of the parent's memory is inherited) connected by a socketpair.
 * The key holder unseals the root state, answers one request at a time
 * (derive an app's keys, sign an env public key, generate or rotate root
 * keys and seal them), and wipes everything when the socket closes or it is
 * signalled. It is not dumpable (no core files, no ptrace by other users).
 */
struct kms_kh;

struct kms_kh_opts {
	const char *state_dir;       /* borrowed */
	const char *seal_provider;   /* borrowed */
	unsigned timeout_ms;         /* per request; 0 = 10 s */
};

/* Start the key holder and wait for its first status answer. *detail is static text. */
err_t kms_kh_start(const struct kms_kh_opts *o, struct kms_kh **out, const char **detail) MUST_CHECK;

/*
 * One request, one response, synchronously (derivations take well under a
 * millisecond; the event loop waits for them). The response is decoded into
 * `mem` (use a wiping arena when it carries keys). A response with err != 0
 * becomes that error and *detail its text (static). When the key holder has
 * died, it is restarted once (its state is on disk) and the request retried
 * if the request is read-only.
 */
err_t kms_kh_call(struct kms_kh *kh, const kh_request *req, struct arena *mem, kh_response **resp,
		  const char **detail) MUST_CHECK;

/* Close the socket, let the key holder wipe and exit, reap it. NULL is a no-op. */
void kms_kh_stop(struct kms_kh *kh);

/* The key holder process: `dstack-kms keyholder --fd N --state-dir D --seal-provider P`. Returns the exit code. */
int kms_keyholder_main(int argc, char **argv);

/* Framing shared by both sides (exposed for the fuzz target): one 4-byte big-endian length, then the message. */
err_t kh_frame_write(int fd, const ProtobufCMessage *m) MUST_CHECK;
err_t kh_frame_read(int fd, unsigned timeout_ms, const ProtobufCMessageDescriptor *d, struct arena *mem,
		    ProtobufCMessage **out) MUST_CHECK;

#endif
