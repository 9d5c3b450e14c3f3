/* SPDX-License-Identifier: Apache-2.0 */
/* dstack guest-agent GetQuote / Tappd.TdxQuote response JSON, split into quote, event log text, report data and vm_config. */
#ifndef DS_ATTEST_GETQUOTE_H
#define DS_ATTEST_GETQUOTE_H

#include "arena.h"
#include "base.h"
#include "err.h"

#define ATTEST_GETQUOTE_MAX_TEXT (16 * 1024 * 1024)
#define ATTEST_GETQUOTE_MAX_QUOTE (1024 * 1024)        /* decoded quote or attestation bytes */

/*
 * The parts of a response. Everything is in the arena given to the parser;
 * absent members have NULL pointers and 0 lengths. Nothing here is verified.
 */
struct attest_getquote {
	const uint8_t *quote;                  /* raw quote (TDX) */
	size_t quote_len;
	const uint8_t *attestation;            /* "attestation" (non-TDX platforms), raw bytes */
	size_t attestation_len;
	const char *event_log;                 /* JSON text of the TdxEvent array, NUL-terminated */
	size_t event_log_len;
	uint8_t report_data[64];
	size_t report_data_len;                /* 0..64; 0 when absent */
	const char *vm_config;                 /* JSON text, NUL-terminated */
	size_t vm_config_len;
	uint8_t vm_os_image_hash[32];          /* vm_config.os_image_hash when it is 32 bytes of hex */
	int has_vm_os_image_hash;
	const char *hash_algorithm;            /* Tappd.TdxQuote only */
	const char *prefix;                    /* Tappd.TdxQuote only */
};

/*
 * Parse {"quote":hex,"event_log":"<JSON text>","report_data":hex,"vm_config":"<JSON text>"}
 * (plus "attestation" hex, and Tappd's "hash_algorithm"/"prefix"). event_log
 * and vm_config may also be given as JSON values instead of text (their
 * exact text is kept). Unknown members are ignored. Either quote or
 * attestation is required.
 * Errors: ERR_PROTO_JSON (syntax), ERR_PROTO_MALFORMED (not an object, no
 * quote), ERR_PROTO_FIELD_TYPE, ERR_PROTO_ENCODING (bad hex),
 * ERR_PROTO_TOO_LARGE, ERR_BUDGET / ERR_NOMEM. `text` borrowed; `detail` may be NULL.
 */
err_t attest_getquote_parse(const char *text, size_t len, struct arena *a, struct attest_getquote *out,
			    const char **detail) MUST_CHECK;

#endif
