/* SPDX-License-Identifier: Apache-2.0 */
/* The one project-wide error enum, grouped by cause, with one message table. */
#ifndef DS_ERR_H
#define DS_ERR_H

#include "base.h"

/*
 * 0 is success; every failure is negative and belongs to one group. The group
 * decides the default RPC status (see rpc_status_from_err); the code itself
 * is what tests assert. Add new codes at the end of their group and to the
 * table in err.c (a unit test checks every code has text).
 */
typedef enum err {
	ERR_OK = 0,

	/* IO: the transport or the file system failed. */
	ERR_IO = -100,
	ERR_IO_CLOSED = -101,
	ERR_IO_TIMEOUT = -102,
	ERR_IO_CONNECT = -103,
	ERR_IO_TLS = -104,
	ERR_IO_FILE = -105,
	ERR_IO_RESOLVE = -106,

	/* PROTO: bytes from a peer do not follow the format. */
	ERR_PROTO = -200,
	ERR_PROTO_TRUNCATED = -201,
	ERR_PROTO_TRAILING = -202,
	ERR_PROTO_TOO_LARGE = -203,
	ERR_PROTO_MALFORMED = -204,
	ERR_PROTO_JSON = -205,
	ERR_PROTO_PROTOBUF = -206,
	ERR_PROTO_HTTP = -207,
	ERR_PROTO_CONTENT_TYPE = -208,
	ERR_PROTO_UNKNOWN_FIELD = -209,
	ERR_PROTO_FIELD_TYPE = -210,
	ERR_PROTO_DEPTH = -211,
	ERR_PROTO_ENCODING = -212,
	ERR_PROTO_COMPRESSED = -213,
	ERR_PROTO_HEADER = -214,
	ERR_PROTO_SIGNATURE = -215,
	ERR_PROTO_DECRYPT = -216,

	/* ATTEST: evidence failed verification; each code names the check that failed. */
	ERR_ATTEST = -300,
	ERR_ATTEST_QUOTE_FORMAT = -301,
	ERR_ATTEST_QUOTE_VERSION = -302,
	ERR_ATTEST_TEE_TYPE = -303,
	ERR_ATTEST_KEY_TYPE = -304,
	ERR_ATTEST_QE_VENDOR = -305,
	ERR_ATTEST_CERT_DATA = -306,
	ERR_ATTEST_ROOT_UNTRUSTED = -307,
	ERR_ATTEST_CERT_CHAIN = -308,
	ERR_ATTEST_CERT_EXPIRED = -309,
	ERR_ATTEST_CERT_REVOKED = -310,
	ERR_ATTEST_CRL_INVALID = -311,
	ERR_ATTEST_CRL_EXPIRED = -312,
	ERR_ATTEST_PCK_EXTENSION = -313,
	ERR_ATTEST_TCB_INFO_FORMAT = -314,
	ERR_ATTEST_TCB_INFO_SIGNATURE = -315,
	ERR_ATTEST_TCB_INFO_EXPIRED = -316,
	ERR_ATTEST_TCB_INFO_FUTURE = -317,
	ERR_ATTEST_TCB_INFO_MISMATCH = -318,
	ERR_ATTEST_QE_IDENTITY_FORMAT = -319,
	ERR_ATTEST_QE_IDENTITY_SIGNATURE = -320,
	ERR_ATTEST_QE_IDENTITY_EXPIRED = -321,
	ERR_ATTEST_QE_IDENTITY_FUTURE = -322,
	ERR_ATTEST_QE_IDENTITY_MISMATCH = -323,
	ERR_ATTEST_QE_REPORT_SIGNATURE = -324,
	ERR_ATTEST_QE_REPORT_DATA = -325,
	ERR_ATTEST_QUOTE_SIGNATURE = -326,
	ERR_ATTEST_TCB_NOT_SUPPORTED = -327,
	ERR_ATTEST_TCB_REVOKED = -328,
	ERR_ATTEST_TDX_MODULE = -329,
	ERR_ATTEST_UNKNOWN_VALUE = -330,
	ERR_ATTEST_TCB_STATUS = -331,
	ERR_ATTEST_ADVISORY = -332,
	ERR_ATTEST_COLLATERAL_STALE = -333,
	ERR_ATTEST_DEBUG = -334,
	ERR_ATTEST_TD_ATTRIBUTES = -335,
	ERR_ATTEST_SERVICE_TD = -336,
	ERR_ATTEST_REPORT_DATA = -337,
	ERR_ATTEST_MEASUREMENT = -338,
	ERR_ATTEST_EVENT_LOG = -339,
	ERR_ATTEST_RTMR_MISMATCH = -340,
	ERR_ATTEST_SNP_FORMAT = -341,
	ERR_ATTEST_SNP_SIGNATURE = -342,
	ERR_ATTEST_SNP_TCB = -343,
	ERR_ATTEST_SNP_POLICY = -344,
	ERR_ATTEST_SNP_VMPL = -345,
	ERR_ATTEST_SNP_CHIP_ID = -346,
	ERR_ATTEST_DEV_ROOT = -347,
	ERR_ATTEST_COLLATERAL_MISSING = -348,
	ERR_ATTEST_PRODUCT = -349,
	ERR_ATTEST_TCB_EVAL_NUMBER = -350,
	/* RA-TLS certificates (lib/ratls): the step of the certificate check that failed. */
	ERR_RATLS_NO_EVIDENCE = -360,
	ERR_RATLS_EVIDENCE_FORMAT = -361,
	ERR_RATLS_UNSUPPORTED = -362,
	ERR_RATLS_BINDING = -363,
	ERR_RATLS_RTMR3_MISMATCH = -364,
	ERR_RATLS_POLICY = -365,
	ERR_RATLS_CERT_EXPIRED = -366,
	ERR_RATLS_COLLATERAL_UNAVAILABLE = -367,

	/* POLICY: well-formed input that policy refuses. */
	ERR_POLICY = -400,
	ERR_POLICY_DENIED = -401,
	ERR_POLICY_STALE = -402,

	/* AUTH: who the peer is, or what it may do. */
	ERR_AUTH = -500,
	ERR_AUTH_UNAUTHENTICATED = -501,
	ERR_AUTH_PEER_REQUIRED = -502,
	ERR_AUTH_NOT_ATTESTED = -503,
	ERR_AUTH_ADMIN_REQUIRED = -504,
	ERR_AUTH_PEER_REJECTED = -505,

	/* INTERNAL: our side cannot do it right now or at all. */
	ERR_INTERNAL = -600,
	ERR_NOMEM = -601,
	ERR_BUDGET = -602,
	ERR_UNIMPLEMENTED = -603,
	ERR_UNAVAILABLE = -604,
	ERR_DEADLINE = -605,
	ERR_CANCELLED = -606,
	ERR_NOT_FOUND = -607,
	ERR_EXISTS = -608,
	ERR_OVERLOADED = -609,
	ERR_SHUTTING_DOWN = -610,
	ERR_CRYPTO = -611,
	ERR_KEY_RANGE = -612,

	/* USAGE: the caller or the operator asked for something invalid. */
	ERR_USAGE = -700,
	ERR_INVALID_ARG = -701,
	ERR_CONFIG = -702,
	ERR_CONFIG_UNKNOWN_KEY = -703,
	ERR_CONFIG_DUPLICATE = -704,
	ERR_CONFIG_RANGE = -705,
	ERR_CONFIG_PERMS = -706,
	ERR_UNKNOWN_METHOD = -707,
	ERR_FAILED_PRECONDITION = -708,
} err_t;

/* Static text for a code; never NULL ("unknown error" for codes not in the table). */
const char *err_str(int code);
/* Symbolic name ("ERR_PROTO_JSON"); never NULL. */
const char *err_name(int code);
/* The group base of a code: ERR_PROTO for ERR_PROTO_JSON, ERR_OK for 0. */
int err_group(int code);
/* Number of codes in the table, and the i-th code; for tests and docs. */
size_t err_count(void);
int err_at(size_t i);

#endif
