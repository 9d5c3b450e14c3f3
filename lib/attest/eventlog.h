/* SPDX-License-Identifier: Apache-2.0 */
/* dstack event logs: the TdxEvent JSON array (runtime events, V1/V2 digests) and the CCEL binary boot log, replayed into RTMRs. */
#ifndef DS_ATTEST_EVENTLOG_H
#define DS_ATTEST_EVENTLOG_H

#include "arena.h"
#include "base.h"
#include "buf.h"
#include "err.h"

/* dstack's event type for every runtime event (RTMR3); not a TCG type. */
#define ATTEST_RUNTIME_EVENT_TYPE 0x08000001u
/* TCG EV_NO_ACTION: logged, never extended. */
#define ATTEST_EV_NO_ACTION 3u

#define ATTEST_RTMR_LEN 48
#define ATTEST_EVENTLOG_MAX_EVENTS 4096
#define ATTEST_EVENTLOG_MAX_NAME 1024                 /* bytes of a decoded event name */
#define ATTEST_EVENTLOG_MAX_PAYLOAD (64 * 1024)       /* bytes of one decoded payload */
#define ATTEST_EVENTLOG_MAX_TEXT (4 * 1024 * 1024)    /* bytes of event-log JSON text */
#define ATTEST_CCEL_MAX_LEN (4 * 1024 * 1024)         /* bytes of a CCEL log area */
#define ATTEST_CCEL_MAX_EVENT (1024 * 1024)           /* bytes of one CCEL event's data */

/* Well-known runtime event names (dstack-util system_setup). */
#define ATTEST_EV_SYSTEM_READY "system-ready"
#define ATTEST_EV_BOOT_MR_DONE "boot-mr-done"

/*
 * One event. For IMR 0-2 `digest` is the one the log carried (that is what
 * firmware extended). For runtime events (IMR 3, type 0x08000001) `digest`
 * is always recomputed from name and payload with the event's version; a
 * digest in the input, if any, had to equal it.
 */
struct attest_event {
	uint32_t imr;                    /* 0..3 (RTMR index; CCEL's 1-based index minus one) */
	uint32_t event_type;
	const char *name;                /* decoded UTF-8, NUL-terminated (may hold \u0000: use name_len) */
	size_t name_len;
	const uint8_t *payload;
	size_t payload_len;
	uint8_t digest[ATTEST_RTMR_LEN]; /* the value extended (unless !extended) */
	int digest_given;                /* the input carried a digest */
	int version;                     /* runtime events: 1 or 2; 0 for other events */
	int has_preimage;                /* a V2 (or V1) preimage was given and checked */
	int extended;                    /* 0 for EV_NO_ACTION, which is logged but not measured */
};

/*
 * A parsed and replayed log. Memory (events, names, payloads) is in the
 * arena given to the parser, except CCEL payloads, which are views of the
 * CCEL input (borrowed: keep it alive as long as the log).
 */
struct attest_eventlog {
	const struct attest_event *events;
	size_t n;
	uint8_t rtmr[4][ATTEST_RTMR_LEN];   /* replay of every extended event, from 48 zero bytes */
	uint8_t rtmr3_boot[ATTEST_RTMR_LEN];/* RTMR3 over runtime events up to and including boot-mr-done */
	int has_boot_mr_done;               /* boot-mr-done seen before system-ready; else rtmr3_boot == rtmr[3] */
	size_t n_trusted;                   /* events [0, n_trusted) precede the first system-ready on IMR 3 */
	int has_system_ready;
	unsigned imr_mask;                  /* bit i set when IMR i has at least one extended event */
};

/*
 * Parse dstack's event log: a JSON array of
 * {"imr":u32,"event_type":u32,"digest":hex,"event":str,"event_payload":hex[,"version":1|2][,"preimage":hex]}
 * (digest may be empty or absent for runtime events; unknown members are ignored).
 *
 * Validates: IMR 0..3; IMR 3 exactly for events of type 0x08000001; IMR 0-2
 * digests 48 bytes; runtime digests empty or 48 bytes and equal to the
 * recomputed V1/V2 digest; a preimage equal to the canonical rebuild of its
 * version (a preimage without "version" selects V2 when it is the V2 JSON,
 * V1 when it is the V1 bytes); sizes within the caps above; at most
 * ATTEST_EVENTLOG_MAX_EVENTS events. Then replays all four RTMRs and the
 * boot-time RTMR3 and marks where the trusted (pre-system-ready) prefix ends.
 *
 * Errors: ERR_ATTEST_EVENT_LOG (malformed, invalid or inconsistent; *detail
 * says which, static text), ERR_PROTO_TOO_LARGE (text or count over the
 * caps), ERR_BUDGET / ERR_NOMEM (arena). Work is linear in len.
 * `text` borrowed; `out` points into `a`. `detail` may be NULL.
 */
err_t attest_eventlog_parse_json(const char *text, size_t len, struct arena *a, struct attest_eventlog *out,
				 const char **detail) MUST_CHECK;

/*
 * The same validation and replay for events decoded elsewhere (the SCALE
 * TdxEvent list of a V0 VersionedAttestation, msgpack of V1): each ev[i]
 * gives imr, event_type, name/name_len (must be valid UTF-8 for V2),
 * payload/payload_len, digest + digest_given, and version (0 or 1 = V1,
 * 2 = V2). Preimages are not carried there. Runtime digests are recomputed
 * in place (a given one must match); the other outputs are set as by the
 * JSON parser. `ev` is modified and referenced by out (caller keeps it).
 * Errors as for attest_eventlog_parse_json; ERR_INVALID_ARG for NULL
 * pointers with non-zero lengths.
 */
err_t attest_eventlog_from_events(struct attest_event *ev, size_t n, struct attest_eventlog *out,
				  const char **detail) MUST_CHECK;

/*
 * Parse a CCEL / TCG crypto-agile event log (TCG_PCClientPCREvent header with
 * the "Spec ID Event03" structure, then TCG_PCR_EVENT2 records) into the same
 * shape: PCR index 1..4 becomes IMR 0..3, index 0 records are skipped (as
 * dstack does), EV_NO_ACTION records are kept but not extended. The SHA-384
 * digest of each record is used; the header must declare SHA-384. The log
 * ends at the end of input or at a record whose index is 0xFFFFFFFF (the
 * ACPI log area is padded with 0xFF). The three RTMR0 "ACPI DATA" events
 * (type 10) are named acpi-loader, acpi-rsdp, acpi-tables like dstack does.
 * Errors: ERR_ATTEST_EVENT_LOG (with *detail), ERR_PROTO_TOO_LARGE,
 * ERR_BUDGET / ERR_NOMEM. `p` borrowed and referenced by the result.
 */
err_t attest_ccel_parse(const uint8_t *p, size_t len, struct arena *a, struct attest_eventlog *out,
			const char **detail) MUST_CHECK;

/*
 * First runtime event (IMR 3, type 0x08000001) named `name` among the trusted
 * events (before the first system-ready); NULL when absent.
 */
const struct attest_event *attest_eventlog_find(const struct attest_eventlog *log, const char *name);
/* How many trusted runtime events are named `name`. */
size_t attest_eventlog_count(const struct attest_eventlog *log, const char *name);

/* RTMR extend: mr = SHA-384(mr || digest). */
void attest_rtmr_extend(uint8_t mr[ATTEST_RTMR_LEN], const uint8_t digest[ATTEST_RTMR_LEN]);

/* V1 digest: SHA-384(u32le(0x08000001) || ":" || name || ":" || payload). */
void attest_event_digest_v1(const char *name, size_t name_len, const uint8_t *payload, size_t payload_len,
			    uint8_t out[ATTEST_RTMR_LEN]);

/*
 * Append the V2 preimage, the JCS (RFC 8785) form of
 * {"name":name,"payload":"<lowercase hex>","type":134217729}, to w. `name`
 * must be valid UTF-8 (JSON strings always are). Errors from w (sticky).
 */
err_t attest_event_preimage_v2(const char *name, size_t name_len, const uint8_t *payload, size_t payload_len,
			       struct buf_writer *w) MUST_CHECK;

/* V2 digest: SHA-384 of that preimage. ERR_PROTO_TOO_LARGE past the caps, ERR_NOMEM. */
err_t attest_event_digest_v2(const char *name, size_t name_len, const uint8_t *payload, size_t payload_len,
			     uint8_t out[ATTEST_RTMR_LEN]) MUST_CHECK;

/*
 * Append one event as the TdxEvent JSON object that attest_eventlog_parse_json
 * accepts and replays to the same value:
 *   {"imr":I,"event_type":T,"digest":"<hex of e->digest>","event":"<name>","event_payload":"<hex>"}
 * and, for a V2 runtime event, ,"version":2,"preimage":"<hex of the JCS preimage>".
 * Runtime events (IMR 3, type 0x08000001) always carry their payload, since a
 * verifier recomputes their digest from it. Boot events (IMR 0-2) carry it
 * only with `keep_boot_payload` or when it is one of RTMR0's "ACPI DATA"
 * markers (type 10), as dstack's GetQuote does; their digest is what the
 * firmware extended. `e->digest` must be the value extended (as the parsers
 * and attest_eventlog_from_events set it). The name must be valid UTF-8
 * (ERR_INVALID_ARG otherwise: JSON could not carry it unchanged).
 * Errors from w (sticky), ERR_PROTO_TOO_LARGE for a V2 event past the caps.
 */
err_t attest_event_put_json(const struct attest_event *e, int keep_boot_payload, struct buf_writer *w) MUST_CHECK;

#endif
