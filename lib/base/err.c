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
	E(ERR_PROTO_SIGNATURE, "signature invalid or not by the expected key"),
	E(ERR_PROTO_DECRYPT, "decryption failed: authentication tag mismatch"),
	E(ERR_ATTEST, "attestation failed"),
	E(ERR_ATTEST_QUOTE_FORMAT, "quote is malformed"),
	E(ERR_ATTEST_QUOTE_VERSION, "unsupported quote version or body type"),
	E(ERR_ATTEST_TEE_TYPE, "unsupported TEE type"),
	E(ERR_ATTEST_KEY_TYPE, "unsupported attestation key type"),
	E(ERR_ATTEST_QE_VENDOR, "QE vendor is not Intel"),
	E(ERR_ATTEST_CERT_DATA, "unsupported or malformed certification data"),
	E(ERR_ATTEST_ROOT_UNTRUSTED, "certificate chain does not end at the pinned root"),
	E(ERR_ATTEST_CERT_CHAIN, "certificate chain is invalid"),
	E(ERR_ATTEST_CERT_EXPIRED, "certificate not valid at the evaluation time"),
	E(ERR_ATTEST_CERT_REVOKED, "certificate revoked"),
	E(ERR_ATTEST_CRL_INVALID, "CRL invalid (signature or issuer)"),
	E(ERR_ATTEST_CRL_EXPIRED, "CRL not valid at the evaluation time"),
	E(ERR_ATTEST_PCK_EXTENSION, "PCK certificate SGX extension malformed"),
	E(ERR_ATTEST_TCB_INFO_FORMAT, "TCB info malformed"),
	E(ERR_ATTEST_TCB_INFO_SIGNATURE, "TCB info signature invalid"),
	E(ERR_ATTEST_TCB_INFO_EXPIRED, "TCB info expired"),
	E(ERR_ATTEST_TCB_INFO_FUTURE, "TCB info issue date is in the future"),
	E(ERR_ATTEST_TCB_INFO_MISMATCH, "TCB info does not match the quote (id, version, FMSPC or PCE-ID)"),
	E(ERR_ATTEST_QE_IDENTITY_FORMAT, "QE identity malformed"),
	E(ERR_ATTEST_QE_IDENTITY_SIGNATURE, "QE identity signature invalid"),
	E(ERR_ATTEST_QE_IDENTITY_EXPIRED, "QE identity expired"),
	E(ERR_ATTEST_QE_IDENTITY_FUTURE, "QE identity issue date is in the future"),
	E(ERR_ATTEST_QE_IDENTITY_MISMATCH, "QE report does not match the QE identity"),
	E(ERR_ATTEST_QE_REPORT_SIGNATURE, "QE report signature invalid"),
	E(ERR_ATTEST_QE_REPORT_DATA, "QE report data does not bind the attestation key"),
	E(ERR_ATTEST_QUOTE_SIGNATURE, "quote signature invalid"),
	E(ERR_ATTEST_TCB_NOT_SUPPORTED, "no matching TCB level"),
	E(ERR_ATTEST_TCB_REVOKED, "TCB revoked"),
	E(ERR_ATTEST_TDX_MODULE, "TDX module identity mismatch"),
	E(ERR_ATTEST_UNKNOWN_VALUE, "unknown TCB status or enum value"),
	E(ERR_ATTEST_TCB_STATUS, "TCB status not accepted by policy"),
	E(ERR_ATTEST_ADVISORY, "advisory ID not allowed by policy"),
	E(ERR_ATTEST_COLLATERAL_STALE, "collateral older than policy allows"),
	E(ERR_ATTEST_DEBUG, "debug mode is enabled"),
	E(ERR_ATTEST_TD_ATTRIBUTES, "TD attributes not accepted (reserved bits or SEPT_VE_DISABLE)"),
	E(ERR_ATTEST_SERVICE_TD, "invalid MR service TD"),
	E(ERR_ATTEST_REPORT_DATA, "report data does not match the expected value"),
	E(ERR_ATTEST_MEASUREMENT, "measurement does not match the expected value"),
	E(ERR_ATTEST_EVENT_LOG, "event log malformed"),
	E(ERR_ATTEST_RTMR_MISMATCH, "event log replay does not match the RTMR"),
	E(ERR_ATTEST_SNP_FORMAT, "SEV-SNP report malformed"),
	E(ERR_ATTEST_SNP_SIGNATURE, "SEV-SNP report signature invalid"),
	E(ERR_ATTEST_SNP_TCB, "SEV-SNP reported TCB does not match the VCEK"),
	E(ERR_ATTEST_SNP_POLICY, "SEV-SNP guest policy not accepted"),
	E(ERR_ATTEST_SNP_VMPL, "SEV-SNP VMPL not accepted"),
	E(ERR_ATTEST_SNP_CHIP_ID, "SEV-SNP chip id does not match the VCEK"),
	E(ERR_ATTEST_DEV_ROOT, "evidence chains to the development root, which is not trusted here"),
	E(ERR_ATTEST_COLLATERAL_MISSING, "collateral missing"),
	E(ERR_ATTEST_PRODUCT, "processor product does not match the certificate chain"),
	E(ERR_ATTEST_TCB_EVAL_NUMBER, "TCB evaluation data number below the policy minimum"),
	E(ERR_RATLS_NO_EVIDENCE, "certificate carries no attestation evidence"),
	E(ERR_RATLS_EVIDENCE_FORMAT, "attestation evidence in the certificate is malformed"),
	E(ERR_RATLS_UNSUPPORTED, "attestation platform or encoding not supported"),
	E(ERR_RATLS_BINDING, "attestation report data does not bind the certificate key"),
	E(ERR_RATLS_RTMR3_MISMATCH, "runtime events do not replay to the quote's RTMR3"),
	E(ERR_RATLS_POLICY, "attested peer not allowed by the RA-TLS policy"),
	E(ERR_RATLS_CERT_EXPIRED, "RA-TLS certificate not valid at the evaluation time"),
	E(ERR_RATLS_COLLATERAL_UNAVAILABLE, "no prefetched collateral for the peer's platform"),
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
	E(ERR_KEY_RANGE, "derived key is not a valid scalar for its curve"),
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
