/* SPDX-License-Identifier: Apache-2.0 */
/* Status code tables; rpc_code_from_err is the single err_t -> status mapping. */
#include "rpc_status.h"

#include <string.h>

struct code_info {
	const char *grpc;
	const char *connect;
	int http;
};

static const struct code_info codes[RPC_CODE_COUNT] = {
	[RPC_OK] = { "OK", "ok", 200 },
	[RPC_CANCELLED] = { "CANCELLED", "canceled", 499 },
	[RPC_UNKNOWN] = { "UNKNOWN", "unknown", 500 },
	[RPC_INVALID_ARGUMENT] = { "INVALID_ARGUMENT", "invalid_argument", 400 },
	[RPC_DEADLINE_EXCEEDED] = { "DEADLINE_EXCEEDED", "deadline_exceeded", 504 },
	[RPC_NOT_FOUND] = { "NOT_FOUND", "not_found", 404 },
	[RPC_ALREADY_EXISTS] = { "ALREADY_EXISTS", "already_exists", 409 },
	[RPC_PERMISSION_DENIED] = { "PERMISSION_DENIED", "permission_denied", 403 },
	[RPC_RESOURCE_EXHAUSTED] = { "RESOURCE_EXHAUSTED", "resource_exhausted", 429 },
	[RPC_FAILED_PRECONDITION] = { "FAILED_PRECONDITION", "failed_precondition", 400 },
	[RPC_ABORTED] = { "ABORTED", "aborted", 409 },
	[RPC_OUT_OF_RANGE] = { "OUT_OF_RANGE", "out_of_range", 400 },
	[RPC_UNIMPLEMENTED] = { "UNIMPLEMENTED", "unimplemented", 501 },
	[RPC_INTERNAL] = { "INTERNAL", "internal", 500 },
	[RPC_UNAVAILABLE] = { "UNAVAILABLE", "unavailable", 503 },
	[RPC_DATA_LOSS] = { "DATA_LOSS", "data_loss", 500 },
	[RPC_UNAUTHENTICATED] = { "UNAUTHENTICATED", "unauthenticated", 401 },
};

enum rpc_code rpc_code_from_err(int err)
{
	switch (err) {
	case ERR_OK:
		return RPC_OK;
	case ERR_PROTO_TOO_LARGE:
	case ERR_BUDGET:
	case ERR_OVERLOADED:
		return RPC_RESOURCE_EXHAUSTED;
	case ERR_PROTO_COMPRESSED:
	case ERR_UNIMPLEMENTED:
	case ERR_UNKNOWN_METHOD:
		return RPC_UNIMPLEMENTED;
	case ERR_AUTH_UNAUTHENTICATED:
	case ERR_AUTH_PEER_REQUIRED:
	case ERR_AUTH_ADMIN_REQUIRED:
		return RPC_UNAUTHENTICATED;
	case ERR_UNAVAILABLE:
	case ERR_SHUTTING_DOWN:
	case ERR_POLICY_STALE:
	case ERR_RATLS_COLLATERAL_UNAVAILABLE:   /* retry once the collateral is fetched */
		return RPC_UNAVAILABLE;
	case ERR_DEADLINE:
		return RPC_DEADLINE_EXCEEDED;
	case ERR_CANCELLED:
		return RPC_CANCELLED;
	case ERR_NOT_FOUND:
		return RPC_NOT_FOUND;
	case ERR_EXISTS:
		return RPC_ALREADY_EXISTS;
	case ERR_FAILED_PRECONDITION:
		return RPC_FAILED_PRECONDITION;
	default:
		break;
	}
	switch (err_group(err)) {
	case ERR_IO:
		return RPC_UNAVAILABLE;
	case ERR_PROTO:
	case ERR_USAGE:
		return RPC_INVALID_ARGUMENT;
	case ERR_ATTEST:
	case ERR_POLICY:
	case ERR_AUTH:
		return RPC_PERMISSION_DENIED;
	default:
		return RPC_INTERNAL;
	}
}

err_t rpc_err_from_code(enum rpc_code code)
{
	switch (code) {
	case RPC_OK: return ERR_OK;
	case RPC_CANCELLED: return ERR_CANCELLED;
	case RPC_INVALID_ARGUMENT: return ERR_INVALID_ARG;
	case RPC_OUT_OF_RANGE: return ERR_INVALID_ARG;
	case RPC_DEADLINE_EXCEEDED: return ERR_DEADLINE;
	case RPC_NOT_FOUND: return ERR_NOT_FOUND;
	case RPC_ALREADY_EXISTS: return ERR_EXISTS;
	case RPC_PERMISSION_DENIED: return ERR_POLICY_DENIED;
	case RPC_RESOURCE_EXHAUSTED: return ERR_OVERLOADED;
	case RPC_FAILED_PRECONDITION: return ERR_FAILED_PRECONDITION;
	case RPC_UNIMPLEMENTED: return ERR_UNIMPLEMENTED;
	case RPC_UNAVAILABLE: return ERR_UNAVAILABLE;
	case RPC_UNAUTHENTICATED: return ERR_AUTH_UNAUTHENTICATED;
	default: return ERR_INTERNAL;
	}
}

const char *rpc_code_connect_name(enum rpc_code code)
{
	return (unsigned)code < RPC_CODE_COUNT ? codes[code].connect : "unknown";
}

int rpc_code_from_connect_name(const char *name, size_t len)
{
	for (int i = 0; i < RPC_CODE_COUNT; i++)
		if (strlen(codes[i].connect) == len && memcmp(codes[i].connect, name, len) == 0)
			return i;
	return -1;
}

const char *rpc_code_name(enum rpc_code code)
{
	return (unsigned)code < RPC_CODE_COUNT ? codes[code].grpc : "UNKNOWN";
}

int rpc_code_http_status(enum rpc_code code)
{
	return (unsigned)code < RPC_CODE_COUNT ? codes[code].http : 500;
}

enum rpc_code rpc_code_from_http_status(int status)
{
	switch (status) {
	case 200: return RPC_OK;
	case 400: return RPC_INTERNAL;
	case 401: return RPC_UNAUTHENTICATED;
	case 403: return RPC_PERMISSION_DENIED;
	case 404: return RPC_UNIMPLEMENTED;
	case 408: return RPC_DEADLINE_EXCEEDED;
	case 429: case 502: case 503: case 504: return RPC_UNAVAILABLE;
	default: return RPC_UNKNOWN;
	}
}
