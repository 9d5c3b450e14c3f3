/* SPDX-License-Identifier: Apache-2.0 */
/* Text for every error code, kept in one table. */
#include "err.h"

struct err_entry {
	int code;
	const char *name;
	const char *text;
};

#define E(c, t) { c, #c, t }
static const struct err_entry err_table[] = {
	E(ERR_OK, "ok"),
	E(ERR_IO, "I/O error"),
	E(ERR_IO_CLOSED, "connection closed"),
	E(ERR_IO_TIMEOUT, "timed out"),
	E(ERR_IO_CONNECT, "cannot connect"),
	E(ERR_IO_TLS, "TLS failure"),
	E(ERR_IO_FILE, "file error"),
	E(ERR_IO_RESOLVE, "cannot resolve address"),
	E(ERR_PROTO, "protocol error"),
	E(ERR_PROTO_TRUNCATED, "input truncated"),
	E(ERR_PROTO_TRAILING, "trailing bytes after the end of the input"),
	E(ERR_PROTO_TOO_LARGE, "input exceeds the size limit"),
	E(ERR_PROTO_MALFORMED, "malformed input"),
	E(ERR_PROTO_JSON, "malformed JSON"),
	E(ERR_PROTO_PROTOBUF, "malformed protobuf message"),
	E(ERR_PROTO_HTTP, "malformed HTTP request"),
	E(ERR_PROTO_CONTENT_TYPE, "unsupported content type"),
	E(ERR_PROTO_UNKNOWN_FIELD, "unknown field"),
	E(ERR_PROTO_FIELD_TYPE, "field has the wrong type"),
	E(ERR_PROTO_DEPTH, "input nested too deeply"),
	E(ERR_PROTO_ENCODING, "invalid encoding"),
	E(ERR_PROTO_COMPRESSED, "compressed messages are not supported"),
	E(ERR_PROTO_HEADER, "invalid header"),
	E(ERR_ATTEST, "attestation failed"),
	E(ERR_POLICY, "policy error"),
	E(ERR_POLICY_DENIED, "denied by policy"),
	E(ERR_POLICY_STALE, "policy view is stale"),
	E(ERR_AUTH, "authorisation error"),
	E(ERR_AUTH_UNAUTHENTICATED, "unauthenticated"),
	E(ERR_AUTH_PEER_REQUIRED, "a client certificate is required"),
	E(ERR_AUTH_NOT_ATTESTED, "the peer is not attested"),
	E(ERR_AUTH_ADMIN_REQUIRED, "admin credentials required"),
	E(ERR_AUTH_PEER_REJECTED, "the peer was rejected"),
	E(ERR_INTERNAL, "internal error"),
	E(ERR_NOMEM, "out of memory"),
	E(ERR_BUDGET, "memory budget exceeded"),
	E(ERR_UNIMPLEMENTED, "not implemented"),
	E(ERR_UNAVAILABLE, "service unavailable"),
	E(ERR_DEADLINE, "deadline exceeded"),
	E(ERR_CANCELLED, "cancelled"),
	E(ERR_NOT_FOUND, "not found"),
	E(ERR_EXISTS, "already exists"),
	E(ERR_OVERLOADED, "overloaded"),
	E(ERR_SHUTTING_DOWN, "shutting down"),
	E(ERR_CRYPTO, "cryptographic operation failed"),
	E(ERR_USAGE, "usage error"),
	E(ERR_INVALID_ARG, "invalid argument"),
	E(ERR_CONFIG, "configuration error"),
	E(ERR_CONFIG_UNKNOWN_KEY, "unknown configuration key"),
	E(ERR_CONFIG_DUPLICATE, "duplicate configuration key"),
	E(ERR_CONFIG_RANGE, "configuration value out of range"),
	E(ERR_CONFIG_PERMS, "secret file is readable by group or others"),
	E(ERR_UNKNOWN_METHOD, "unknown method"),
	E(ERR_FAILED_PRECONDITION, "failed precondition"),
};
#undef E

static const struct err_entry *err_find(int code)
{
	for (size_t i = 0; i < ARRAY_LEN(err_table); i++)
		if (err_table[i].code == code)
			return &err_table[i];
	return NULL;
}

const char *err_str(int code)
{
	const struct err_entry *e = err_find(code);
	return e ? e->text : "unknown error";
}

const char *err_name(int code)
{
	const struct err_entry *e = err_find(code);
	return e ? e->name : "ERR_UNKNOWN";
}

int err_group(int code)
{
	unsigned int mag;

	if (code >= 0)
		return ERR_OK;
	/* Unsigned negation: -INT_MIN would overflow. */
	mag = 0u - (unsigned int)code;
	return -(int)((mag / 100) * 100);
}

size_t err_count(void)
{
	return ARRAY_LEN(err_table);
}

int err_at(size_t i)
{
	return i < ARRAY_LEN(err_table) ? err_table[i].code : ERR_OK;
}
