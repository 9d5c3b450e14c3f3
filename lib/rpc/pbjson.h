/* SPDX-License-Identifier: Apache-2.0 */
/* protobuf <-> JSON codec driven by protobuf-c descriptors (proto3 JSON mapping, plus dstack's flavour). */
#ifndef DS_PBJSON_H
#define DS_PBJSON_H

#include <protobuf-c/protobuf-c.h>
#include "arena.h"
#include "buf.h"
#include "err.h"

/*
 * PBJSON_PROTO3: the canonical proto3 JSON mapping. Output uses lowerCamelCase
 * names, omits fields at their default value, writes 64-bit integers as
 * strings, bytes as padded standard base64, enums by name. Input accepts the
 * lowerCamelCase and the original field names, integers as numbers or
 * strings, bytes as standard or URL-safe base64 (padded or not), enums by
 * name or number, null as "default".
 *
 * PBJSON_DSTACK: what dstack's pRPC speaks (serde over prost). Output uses
 * the original snake_case names, writes every field (defaults included),
 * bytes as lowercase hex without 0x, 64-bit integers as JSON numbers. Input
 * accepts the same, hex with or without 0x, and unknown fields are ignored.
 *
 * Well-known types: google.protobuf.Empty is {}; google.protobuf.*Value
 * wrappers are their bare value (null when absent).
 */
enum pbjson_flavour { PBJSON_PROTO3 = 0, PBJSON_DSTACK = 1 };

struct pbjson_opts {
	enum pbjson_flavour flavour;
	int ignore_unknown;   /* PROTO3 input: skip unknown fields instead of failing (DSTACK always skips) */
	int emit_defaults;    /* PROTO3 output: also write fields at their default value */
	unsigned max_depth;   /* nesting limit for objects and arrays; 0 = 32 */
};

/*
 * Decode `len` bytes of JSON text into a new message of type `desc`, every
 * byte of which (the message, strings, arrays, sub-messages) comes from the
 * arena, so arena_reset frees it. The text must be one JSON object with
 * nothing but whitespace after it.
 *
 * Errors: ERR_PROTO_JSON (syntax), ERR_PROTO_UNKNOWN_FIELD,
 * ERR_PROTO_FIELD_TYPE (value of the wrong JSON type or out of range for the
 * field), ERR_PROTO_ENCODING (bad base64/hex/UTF-8), ERR_PROTO_DEPTH,
 * ERR_BUDGET (arena exhausted). `*detail`, when not NULL, is set to a short
 * arena-allocated text naming the field or byte offset ("field 'reportData':
 * invalid base64"); it never quotes the input's values.
 */
err_t pbjson_decode(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
		    const struct pbjson_opts *o, struct arena *a, ProtobufCMessage **out,
		    const char **detail) MUST_CHECK;

/* Append the JSON text of `msg` to `w` (no trailing newline). Errors come from the writer (size cap). */
err_t pbjson_encode(const ProtobufCMessage *msg, const struct pbjson_opts *o, struct buf_writer *w) MUST_CHECK;

/* Append `s` (len bytes, UTF-8) as a JSON string literal with quotes; invalid UTF-8 becomes U+FFFD. */
void pbjson_put_string(struct buf_writer *w, const char *s, size_t len);

#endif
