/* SPDX-License-Identifier: Apache-2.0 */
/* The err_t -> gRPC/Connect/HTTP status mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "rpc_status.h"

static void test_specific_codes(void **state)
{
	(void)state;
	assert_int_equal(rpc_code_from_err(ERR_OK), RPC_OK);
	assert_int_equal(rpc_code_from_err(ERR_PROTO_JSON), RPC_INVALID_ARGUMENT);
	assert_int_equal(rpc_code_from_err(ERR_PROTO_TOO_LARGE), RPC_RESOURCE_EXHAUSTED);
	assert_int_equal(rpc_code_from_err(ERR_BUDGET), RPC_RESOURCE_EXHAUSTED);
	assert_int_equal(rpc_code_from_err(ERR_PROTO_COMPRESSED), RPC_UNIMPLEMENTED);
	assert_int_equal(rpc_code_from_err(ERR_UNKNOWN_METHOD), RPC_UNIMPLEMENTED);
	assert_int_equal(rpc_code_from_err(ERR_AUTH_ADMIN_REQUIRED), RPC_UNAUTHENTICATED);
	assert_int_equal(rpc_code_from_err(ERR_AUTH_PEER_REQUIRED), RPC_UNAUTHENTICATED);
	assert_int_equal(rpc_code_from_err(ERR_AUTH_NOT_ATTESTED), RPC_PERMISSION_DENIED);
	assert_int_equal(rpc_code_from_err(ERR_POLICY_DENIED), RPC_PERMISSION_DENIED);
	assert_int_equal(rpc_code_from_err(ERR_POLICY_STALE), RPC_UNAVAILABLE);
	assert_int_equal(rpc_code_from_err(ERR_IO_TIMEOUT), RPC_UNAVAILABLE);
	assert_int_equal(rpc_code_from_err(ERR_DEADLINE), RPC_DEADLINE_EXCEEDED);
	assert_int_equal(rpc_code_from_err(ERR_NOMEM), RPC_INTERNAL);
	assert_int_equal(rpc_code_from_err(ERR_CONFIG), RPC_INVALID_ARGUMENT);
	assert_int_equal(rpc_code_from_err(-99999), RPC_INTERNAL);
}

static void test_every_error_maps_to_a_real_code(void **state)
{
	(void)state;
	for (size_t i = 0; i < err_count(); i++) {
		int code = (int)rpc_code_from_err(err_at(i));
		assert_true(code >= 0 && code < RPC_CODE_COUNT);
		/* Only success may map to OK. */
		assert_true((code == RPC_OK) == (err_at(i) == ERR_OK));
	}
}

static void test_connect_names_and_http(void **state)
{
	(void)state;
	for (int c = 0; c < RPC_CODE_COUNT; c++) {
		const char *name = rpc_code_connect_name((enum rpc_code)c);
		assert_int_equal(rpc_code_from_connect_name(name, strlen(name)), c);
	}
	assert_int_equal(rpc_code_from_connect_name("nope", 4), -1);
	assert_string_equal(rpc_code_connect_name(RPC_CANCELLED), "canceled");
	assert_int_equal(rpc_code_http_status(RPC_NOT_FOUND), 404);
	assert_int_equal(rpc_code_http_status(RPC_UNAUTHENTICATED), 401);
	assert_int_equal(rpc_code_http_status(RPC_RESOURCE_EXHAUSTED), 429);
	assert_int_equal(rpc_code_http_status(RPC_UNIMPLEMENTED), 501);
	assert_int_equal(rpc_code_http_status(RPC_CANCELLED), 499);
	assert_int_equal(rpc_code_from_http_status(503), RPC_UNAVAILABLE);
	assert_int_equal(rpc_code_from_http_status(404), RPC_UNIMPLEMENTED);
	assert_int_equal(rpc_code_from_http_status(418), RPC_UNKNOWN);
	assert_string_equal(rpc_code_name(RPC_DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
	assert_string_equal(rpc_code_name((enum rpc_code)99), "UNKNOWN");
}

static void test_reverse_mapping_round_trips(void **state)
{
	(void)state;
	for (int c = 1; c < RPC_CODE_COUNT; c++) {
		err_t e = rpc_err_from_code((enum rpc_code)c);
		enum rpc_code back = rpc_code_from_err(e);
		/* Codes with a dedicated error come back as themselves. */
		if (c == RPC_CANCELLED || c == RPC_DEADLINE_EXCEEDED || c == RPC_NOT_FOUND || c == RPC_ALREADY_EXISTS ||
		    c == RPC_FAILED_PRECONDITION || c == RPC_UNIMPLEMENTED || c == RPC_UNAVAILABLE ||
		    c == RPC_UNAUTHENTICATED || c == RPC_PERMISSION_DENIED || c == RPC_INVALID_ARGUMENT ||
		    c == RPC_RESOURCE_EXHAUSTED)
			assert_int_equal(back, c);
		else
			assert_true(back == RPC_INTERNAL || back == RPC_INVALID_ARGUMENT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_specific_codes),
		cmocka_unit_test(test_every_error_maps_to_a_real_code),
		cmocka_unit_test(test_connect_names_and_http),
		cmocka_unit_test(test_reverse_mapping_round_trips),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
