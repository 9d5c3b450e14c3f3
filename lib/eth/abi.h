/* SPDX-License-Identifier: Apache-2.0 */
/* Solidity ABI: types parsed from signatures, an encoder, a strictly bounds-checked decoder into arena memory, selectors, event topics and logs. */
#ifndef DS_ETH_ABI_H
#define DS_ETH_ABI_H

#include "arena.h"
#include "base.h"
#include "buf.h"
#include "err.h"

/*
 * Types come from canonical Solidity type strings ("uint256", "bytes32[]",
 * "(address,bytes32,string[])"), parsed once into arena memory and then
 * shared read-only. Type strings are our own code's, not peer input; they
 * are still parsed under hard caps (depth, fields, fixed-array length,
 * static size) so a mistake cannot make the decoder unbounded.
 *
 * Values are trees of struct abi_value. Scalars keep the raw 32-byte ABI
 * word; bytes/string keep a pointer and length; arrays and tuples keep their
 * items. Encoding reads a value tree the caller built (with the abi_set_*
 * helpers, all borrowed pointers); decoding builds one in an arena.
 *
 * The top level of both abi_encode and abi_decode is always a tuple: the
 * parameter list of a call, the return values, or an event's non-indexed
 * data, exactly as Solidity's abi.encode(...)/abi.decode(..., (...)).
 */

#define ABI_WORD 32
#define ABI_MAX_TYPE_DEPTH 16          /* nesting of tuples and arrays in one type string */
#define ABI_MAX_TUPLE_FIELDS 64
#define ABI_MAX_FIXED_COUNT 4096        /* T[k]: k <= this */
#define ABI_MAX_STATIC_SIZE (1u << 20)  /* the head bytes of one static type */
#define ABI_MAX_TYPE_STRING 4096

enum abi_kind {
	ABI_UINT = 1,        /* uint<bits>, bits 8..256 step 8 */
	ABI_INT,             /* int<bits>, two's complement */
	ABI_ADDRESS,
	ABI_BOOL,
	ABI_FIXED_BYTES,     /* bytes<size>, size 1..32 */
	ABI_BYTES,
	ABI_STRING,
	ABI_ARRAY,           /* T[] */
	ABI_FIXED_ARRAY,     /* T[count] */
	ABI_TUPLE,           /* (T1,...,Tn) */
};

struct abi_type {
	enum abi_kind kind;
	unsigned size;                       /* bits for UINT/INT, bytes for FIXED_BYTES, else 0 */
	size_t count;                        /* FIXED_ARRAY length, TUPLE field count, else 0 */
	const struct abi_type *elem;         /* ARRAY, FIXED_ARRAY */
	const struct abi_type *const *fields;/* TUPLE: count entries */
	int dynamic;                         /* encoded out of line (head holds an offset) */
	size_t head_size;                    /* bytes in an enclosing head: 32 if dynamic, else the static size */
	unsigned depth;                      /* 1 for scalars; 1 + deepest child otherwise */
};

/*
 * Parse one canonical type string of `len` bytes ("uint" and "int" are
 * accepted as uint256/int256; no spaces). The type and its children live in
 * `a`. ERR_INVALID_ARG for bad syntax or a cap above; ERR_BUDGET/ERR_NOMEM
 * from the arena. An empty tuple "()" is refused except at the top level.
 */
err_t abi_type_parse(struct arena *a, const char *s, size_t len, const struct abi_type **out) MUST_CHECK;

/* The canonical string of a type ("uint256", "(address,string[])") appended to w. */
void abi_type_canonical(const struct abi_type *t, struct buf_writer *w);

/* A function: "name(type [name], ...)" (parameter names optional, ignored). */
struct abi_function {
	const char *name;                    /* arena */
	const struct abi_type *inputs;       /* TUPLE */
	uint8_t selector[4];                 /* keccak256(canonical signature)[0..4) */
};
err_t abi_function_parse(struct arena *a, const char *sig, struct abi_function *out) MUST_CHECK;

struct abi_event_param {
	const struct abi_type *type;
	const char *name;                    /* arena; "" when unnamed */
	int indexed;
};

/* An event: "Name(type [indexed] [name], ...) [anonymous]". */
struct abi_event {
	const char *name;                    /* arena */
	const struct abi_event_param *params;/* arena; nparams entries, declaration order */
	size_t nparams;
	size_t nindexed;                     /* at most 3 (4 when anonymous) */
	int anonymous;
	const struct abi_type *data_type;    /* TUPLE of the non-indexed params, in order */
	uint8_t topic0[32];                  /* keccak256(canonical signature); unused when anonymous */
};
err_t abi_event_parse(struct arena *a, const char *sig, struct abi_event *out) MUST_CHECK;

/* keccak256 of a canonical signature string: first 4 bytes for a selector, all 32 for an event topic. */
void abi_selector(const char *canonical_sig, uint8_t out[4]);
void abi_topic(const char *canonical_sig, uint8_t out[32]);

struct abi_value {
	enum abi_kind kind;
	/* Set by abi_log_decode for an indexed parameter of a dynamic or composite type:
	 * only keccak256 of its encoding is in the log; kind is ABI_FIXED_BYTES and u.word holds it. */
	int hashed;
	union {
		uint8_t word[ABI_WORD];      /* UINT, INT, ADDRESS (right-aligned), BOOL, FIXED_BYTES (left-aligned) */
		struct {
			const uint8_t *p;    /* decoded: arena copy followed by a NUL (not counted); encoding: borrowed */
			size_t len;
		} bytes;                     /* BYTES, STRING (bytes as sent; not checked to be UTF-8) */
		struct {
			struct abi_value *items;
			size_t n;
		} list;                      /* ARRAY, FIXED_ARRAY, TUPLE */
	} u;
};

/* Builders for encoding. Pointers are borrowed until abi_encode returns. */
void abi_set_uint64(struct abi_value *v, uint64_t x);
void abi_set_uint256(struct abi_value *v, const uint8_t be[32]);
void abi_set_int64(struct abi_value *v, int64_t x);
void abi_set_address(struct abi_value *v, const uint8_t addr[20]);
void abi_set_bool(struct abi_value *v, int b);
/* bytesN: n bytes (1..32) left-aligned in the word; n must equal the type's size when encoding. */
void abi_set_fixed_bytes(struct abi_value *v, const void *p, size_t n);
void abi_set_bytes(struct abi_value *v, const void *p, size_t n);
void abi_set_string(struct abi_value *v, const char *s);      /* NUL-terminated */
void abi_set_string_n(struct abi_value *v, const char *s, size_t n);
void abi_set_array(struct abi_value *v, struct abi_value *items, size_t n);       /* T[] */
void abi_set_fixed_array(struct abi_value *v, struct abi_value *items, size_t n); /* T[k] */
void abi_set_tuple(struct abi_value *v, struct abi_value *items, size_t n);

/*
 * Readers for decoded values: ERR_PROTO_FIELD_TYPE when the kind differs,
 * ERR_PROTO_TOO_LARGE when an integer does not fit the C type.
 */
err_t abi_get_u64(const struct abi_value *v, uint64_t *x) MUST_CHECK;
err_t abi_get_i64(const struct abi_value *v, int64_t *x) MUST_CHECK;
err_t abi_get_address(const struct abi_value *v, uint8_t addr[20]) MUST_CHECK;
err_t abi_get_bool(const struct abi_value *v, int *b) MUST_CHECK;
/* A bytes32 value (or a hashed indexed topic). */
err_t abi_get_bytes32(const struct abi_value *v, uint8_t out[32]) MUST_CHECK;

/*
 * Append the encoding of tuple value v (kind TUPLE) of tuple type t to w.
 * ERR_INVALID_ARG when v does not fit t (kind, item count, a word out of
 * range for its type: e.g. 256 for uint8, dirty address bytes, bool 2, a
 * bytes4 value with bytes after the fourth); w's error (ERR_PROTO_TOO_LARGE,
 * ERR_NOMEM) when it runs out. On error w holds partial output.
 */
err_t abi_encode(const struct abi_type *t, const struct abi_value *v, struct buf_writer *w) MUST_CHECK;
/* The 4-byte selector followed by abi_encode of the arguments (a TUPLE value). */
err_t abi_encode_call(const struct abi_function *f, const struct abi_value *args, struct buf_writer *w) MUST_CHECK;

struct abi_limits {
	size_t max_len;          /* input bytes; also the cap on any offset or length word; 0 = 16 MiB */
	size_t max_items;        /* decoded values in total (aliased tails count each time); 0 = 65536 */
	unsigned max_depth;      /* 0 = ABI_MAX_TYPE_DEPTH */
	int allow_trailing;      /* accept bytes after the furthest one the encoding uses */
};

/*
 * Decode `len` bytes of untrusted data as the tuple type t into a value tree
 * in `a` (*out, kind TUPLE). Every offset and length is checked against the
 * data and against lim->max_len before use, with no arithmetic that can
 * overflow; padding must be zero; non-canonical but in-bounds offsets are
 * accepted, as Solidity does, with the item budget bounding the work.
 * Errors:
 *   ERR_PROTO_TOO_LARGE   input longer than max_len, or an offset/length word above max_len;
 *   ERR_PROTO_TRUNCATED   a head, offset target, length or content past the end of its region;
 *   ERR_PROTO_MALFORMED   a non-zero padding or high-order byte: uintN/address/bytesN/bool out of
 *                         range, intN not sign-extended, bytes/string padding not zero;
 *   ERR_PROTO_TRAILING    bytes after the encoding (unless allow_trailing);
 *   ERR_PROTO_DEPTH       a type deeper than max_depth;
 *   ERR_BUDGET            more than max_items values, or the arena's budget;
 *   ERR_INVALID_ARG       t is not a tuple; ERR_NOMEM.
 * *out is NULL on failure.
 */
err_t abi_decode(const struct abi_type *t, const uint8_t *data, size_t len, const struct abi_limits *lim,
		 struct arena *a, struct abi_value **out) MUST_CHECK;

/*
 * Decode an event log: topics[0..ntopics) (32 bytes each) and data. The
 * result is a TUPLE of ev->nparams values in declaration order: indexed
 * word types from their topic (checked as a head word would be), indexed
 * dynamic or composite types as `hashed` bytes32, the rest from abi_decode
 * of data as ev->data_type. Errors: ERR_INVALID_ARG when topic0 is not the
 * event's (not an error in the log: the caller asked for the wrong event);
 * ERR_PROTO_MALFORMED when the topic count differs from 1 + nindexed (or
 * nindexed when anonymous) or a topic word is out of range; abi_decode's.
 */
err_t abi_log_decode(const struct abi_event *ev, const uint8_t (*topics)[32], size_t ntopics, const uint8_t *data,
		     size_t len, const struct abi_limits *lim, struct arena *a, struct abi_value **out) MUST_CHECK;

/*
 * The dstack AppBootInfo tuple (IAppAuth), and isAppAllowed/isKmsAllowed's
 * parameter and return types, as type strings.
 */
#define ABI_APP_BOOT_INFO "(address,bytes32,address,bytes32,bytes32,bytes32,bytes32,string,string[])"
#define ABI_IS_ALLOWED_RETURNS "(bool,string)"

#endif
