/* SPDX-License-Identifier: Apache-2.0 */
/* Key-holder operations (run only inside the key-holder process). */
#ifndef DS_KMS_KHOPS_H
#define DS_KMS_KHOPS_H

#include "kms_keyholder.h"
#include "kms_store.h"

/* The unsealed state, NULL while uninitialised (kms_keyholder_main.c). */
const kms_sealed_state *kh_state(void);
/* A fresh wiping arena for a next state. */
struct arena *kh_new_arena(void);
/* Wipe and free an arena from kh_new_arena. NULL is a no-op. */
void kh_free_arena(struct arena *a);
/*
 * Seal `next` (allocated in `mem`, from kh_new_arena) with the next
 * generation and make it current. On failure the old state stays and `mem`
 * is freed.
 */
err_t kh_commit(struct arena *mem, kms_sealed_state *next, const char **detail) MUST_CHECK;

/* Wipe what the operations keep between requests (the recovery key). */
void kh_ops_wipe(void);

/* Answer one request into resp (allocated from mem). *detail: static text on error. */
err_t kh_dispatch(const kh_request *req, struct arena *mem, kh_response *resp, const char **detail) MUST_CHECK;

#endif
