/* SPDX-License-Identifier: Apache-2.0 */
/* SignCert's pure parts: the boot-time BootInfo dstack authorises with (mr_system without the key provider) and the request validator. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "claims.h"
#include "crypto.h"
#include "kms.h"
#include "ratls.h"

static void fill_claims(struct attest_claims *c)
{
	static const char kp[] = "{\"name\":\"kms\",\"id\":\"3059\"}";

	memset(c, 0, sizeof(*c));
	c->tee = ATTEST_TEE_TDX;
	memset(c->mrtd, 0x11, 48);
	memset(c->rtmr[0], 0x20, 48);
	memset(c->rtmr[1], 0x21, 48);
	memset(c->rtmr[2], 0x22, 48);
	memset(c->rtmr[3], 0x23, 48);
	memset(c->mr_aggregated, 0xa0, 32);
	memset(c->mr_aggregated_boot, 0xb0, 32);
	c->has_mr_aggregated_boot = 1;
	memset(c->app_id, 0xaa, 20);
	c->has_app_id = 1;
	memset(c->compose_hash, 0xcc, 32);
	c->has_compose_hash = 1;
	c->key_provider_info = (const uint8_t *)kp;
	c->key_provider_info_len = sizeof(kp) - 1;
	c->has_key_provider = 1;
	sha256(kp, sizeof(kp) - 1, c->mr_key_provider);
	{
		const void *parts[5] = { c->mrtd, c->rtmr[0], c->rtmr[1], c->rtmr[2], c->mr_key_provider };
		const size_t lens[5] = { 48, 48, 48, 48, 32 };

		sha256_parts(parts, lens, 5, c->mr_system);
	}
}

static void test_boot_time_info(void **state)
{
	struct attest_claims c;
	struct attest_boot_info full, boot;
	uint8_t want[32], zero[32] = { 0 };
	const void *parts[5];
	const size_t lens[5] = { 48, 48, 48, 48, 32 };

	(void)state;
	fill_claims(&c);
	attest_claims_boot_info(&c, 0, &full);
	kms_signcert_boot_info(&c, &boot);
	/* GetAppKey's view: full RTMR3, key provider in mr_system */
	assert_memory_equal(full.mr_aggregated, c.mr_aggregated, 32);
	assert_memory_equal(full.mr_system, c.mr_system, 32);
	assert_int_equal(full.key_provider_info_len, c.key_provider_info_len);
	/* SignCert's (dstack decode_app_info_ex, boottime_mr = true): boot-time MR, no key provider at all */
	assert_int_equal(boot.mr_aggregated_len, 32);
	assert_memory_equal(boot.mr_aggregated, c.mr_aggregated_boot, 32);
	assert_int_equal(boot.key_provider_info_len, 0);
	assert_null(boot.key_provider_info);
	parts[0] = c.mrtd;
	parts[1] = c.rtmr[0];
	parts[2] = c.rtmr[1];
	parts[3] = c.rtmr[2];
	parts[4] = zero;
	sha256_parts(parts, lens, 5, want);
	assert_int_equal(boot.mr_system_len, 32);
	assert_memory_equal(boot.mr_system, want, 32);
	assert_memory_not_equal(boot.mr_system, full.mr_system, 32);
	/* the identity is the same */
	assert_memory_equal(boot.app_id, full.app_id, 20);
	assert_memory_equal(boot.compose_hash, full.compose_hash, 32);
	assert_string_equal(boot.tee_variant, "dstack-tdx");
	/* without a key-provider event both views agree on mr_system */
	c.key_provider_info = NULL;
	c.key_provider_info_len = 0;
	memset(c.mr_key_provider, 0, 32);
	memcpy(c.mr_system, want, 32);
	kms_signcert_boot_info(&c, &boot);
	assert_memory_equal(boot.mr_system, c.mr_system, 32);
}

static void test_validate(void **state)
{
	Dstack__Kms__V1__SignCertRequest q;
	uint8_t csr[4] = { 0 }, sig[RATLS_CSR_SIG_MAX + 1] = { 0 };
	const char *detail = NULL;

	(void)state;
	dstack__kms__v1__sign_cert_request__init(&q);
	q.api_version = 2;
	q.csr = (ProtobufCBinaryData){ sizeof(csr), csr };
	q.signature = (ProtobufCBinaryData){ 70, sig };
	assert_int_equal(kms_validate_sign_cert(&q.base, &detail), ERR_OK);
	q.api_version = 1;
	assert_int_equal(kms_validate_sign_cert(&q.base, &detail), ERR_OK);
	q.api_version = 0;
	assert_int_equal(kms_validate_sign_cert(&q.base, &detail), ERR_INVALID_ARG);
	assert_non_null(strstr(detail, "api_version"));
	q.api_version = 3;
	assert_int_equal(kms_validate_sign_cert(&q.base, &detail), ERR_INVALID_ARG);
	q.api_version = 2;
	q.csr.len = 0;
	assert_int_equal(kms_validate_sign_cert(&q.base, &detail), ERR_INVALID_ARG);
	assert_non_null(strstr(detail, "csr"));
	q.csr.len = RATLS_CSR_MAX + 1;
	assert_int_equal(kms_validate_sign_cert(&q.base, &detail), ERR_INVALID_ARG);
	q.csr.len = sizeof(csr);
	q.signature.len = RATLS_CSR_SIG_MAX + 1;
	assert_int_equal(kms_validate_sign_cert(&q.base, &detail), ERR_INVALID_ARG);
	assert_non_null(strstr(detail, "signature"));
	q.signature.len = 0;
	assert_int_equal(kms_validate_sign_cert(&q.base, &detail), ERR_INVALID_ARG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_time_info),
		cmocka_unit_test(test_validate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
