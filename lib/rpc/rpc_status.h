/* SPDX-License-Identifier: Apache-2.0 */
/* gRPC status codes, their Connect names and HTTP statuses, and the one mapping from err_t. */
#ifndef DS_RPC_STATUS_H
#define DS_RPC_STATUS_H

#include "err.h"

enum rpc_code {
	RPC_OK = 0,
	RPC_CANCELLED = 1,
	RPC_UNKNOWN = 2,
	RPC_INVALID_ARGUMENT = 3,
	RPC_DEADLINE_EXCEEDED = 4,
	RPC_NOT_FOUND = 5,
	RPC_ALREADY_EXISTS = 6,
	RPC_PERMISSION_DENIED = 7,
	RPC_RESOURCE_EXHAUSTED = 8,
	RPC_FAILED_PRECONDITION = 9,
	RPC_ABORTED = 10,
	RPC_OUT_OF_RANGE = 11,
	RPC_UNIMPLEMENTED = 12,
	RPC_INTERNAL = 13,
	RPC_UNAVAILABLE = 14,
	RPC_DATA_LOSS = 15,
	RPC_UNAUTHENTICATED = 16,
	RPC_CODE_COUNT
};

/* The only place an err_t becomes a wire status. */
enum rpc_code rpc_code_from_err(int err);
/* Best-effort reverse, for clients: a status from a peer as our error code. */
err_t rpc_err_from_code(enum rpc_code code);
/* Connect's snake_case name ("not_found"); "unknown" for out-of-range codes. */
const char *rpc_code_connect_name(enum rpc_code code);
/* Parse a Connect name; -1 when not a known name. */
int rpc_code_from_connect_name(const char *name, size_t len);
/* gRPC's upper-case name ("NOT_FOUND"), for metrics labels and logs. */
const char *rpc_code_name(enum rpc_code code);
/* The HTTP status Connect uses for a code (404 for NOT_FOUND ...). */
int rpc_code_http_status(enum rpc_code code);
/* The code a Connect/gRPC client infers from an HTTP status without a body it understands. */
enum rpc_code rpc_code_from_http_status(int status);

#endif
