/* SPDX-License-Identifier: Apache-2.0 */
/* The KMS's audit log of root-material movements: onboardings served and received, epoch syncs, share exports, recoveries. */
#ifndef DS_KMS_AUDIT_H
#define DS_KMS_AUDIT_H

#include "arena.h"
#include "dstack/kms/v1/kms.pb-c.h"
#include "err.h"

#define KMS_AUDIT_FILE "root-movements.audit"
#define KMS_AUDIT_MAX_RECORDS 100000
#define KMS_AUDIT_RECORD_MAX (64 * 1024)

/*
 * Records are kept in memory and appended to `state_dir`/root-movements.audit
 * (each a 4-byte big-endian length and an encoded OnboardingRecord, fsync'd
 * before the call that produced it answers). Nothing secret is in a record.
 * A torn last record (a crash mid-append) is dropped at load with a warning;
 * any other damage refuses to start.
 */
struct kms_audit;

err_t kms_audit_open(const char *state_dir, struct kms_audit **out, const char **detail) MUST_CHECK;
void kms_audit_close(struct kms_audit *a);

/* Append `r` (r->id is set here: "<unix>-<n>"). */
err_t kms_audit_append(struct kms_audit *a, Dstack__Kms__V1__OnboardingRecord *r) MUST_CHECK;

/* Newest first, starting after page_token ("" = newest), at most limit (0 = 100, max 1000). */
err_t kms_audit_list(struct kms_audit *a, uint32_t limit, const char *page_token, struct arena *mem,
		     Dstack__Kms__V1__ListOnboardingsResponse *out) MUST_CHECK;

/* Parse one file's bytes (exposed for the fuzz target): count of whole records, ERR_PROTO_* on damage. */
err_t kms_audit_parse(const uint8_t *p, size_t n, size_t *records, size_t *torn_tail) MUST_CHECK;

#endif
