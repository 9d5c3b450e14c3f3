/* SPDX-License-Identifier: Apache-2.0 */
/* ratls_app_info: dstack's AppInfo msgpack (dstack's legacy vector, a hand-derived named vector, round trips, strictness) and APP_INFO from sim evidence through a verified certificate. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "enc.h"
#include "ratls.h"
#include "ratls_testutil.h"

#define X4(b) b b b b
#define X32(b) X4(b) X4(b) X4(b) X4(b) X4(b) X4(b) X4(b) X4(b)

/*
 * dstack's own vector (ra-tls cert.rs, app_info_encoding::LEGACY_POSITIONAL_APP_INFO):
 * the v0.5.11 AppInfo of 8 fields as rmp_serde::to_vec wrote it.
 */
static const char LEGACY_HEX[] =
	"98c403a1a2a3c402b1b2c402c1c2c401d1c42051515151515151515151515151"
	"51515151515151515151515151515151515151c4206262626262626262626262"
	"626262626262626262626262626262626262626262c402e1e2c4036b6d73";

/*
 * The same sample with init_script_hashes = Some([f1 x 32, f2 x 32]) as
 * rmp_serde::to_vec_named writes it, derived by hand from the msgpack spec:
 * 0x80|n is a fixmap of n entries, 0xa0|n a fixstr of n bytes, 0x90|n a
 * fixarray, 0xc4 n a bin 8 of n bytes. Keys in struct order, ASCII.
 *
 *   89                                          fixmap, 9 entries
 *   a6 "app_id"             61 70 70 5f 69 64   -> c4 03 a1a2a3
 *   ac "compose_hash"       (12 bytes)          -> c4 02 b1b2
 *   ab "instance_id"        (11 bytes)          -> c4 02 c1c2
 *   a9 "device_id"          (9 bytes)           -> c4 01 d1
 *   a9 "mr_system"          (9 bytes)           -> c4 20 51 x 32
 *   ad "mr_aggregated"      (13 bytes)          -> c4 20 62 x 32
 *   ad "os_image_hash"      (13 bytes)          -> c4 02 e1e2
 *   b1 "key_provider_info"  (17 bytes)          -> c4 03 6b6d73 ("kms")
 *   b2 "init_script_hashes" (18 bytes)          -> 92 (fixarray 2) c4 20 f1 x 32  c4 20 f2 x 32
 */
static const char NAMED_HEX[] =
	"89"
	"a6" "6170705f6964" "c403" "a1a2a3"
	"ac" "636f6d706f73655f68617368" "c402" "b1b2"
	"ab" "696e7374616e63655f6964" "c402" "c1c2"
	"a9" "6465766963655f6964" "c401" "d1"
	"a9" "6d725f73797374656d" "c420" X32("51")
	"ad" "6d725f61676772656761746564" "c420" X32("62")
	"ad" "6f735f696d6167655f68617368" "c402" "e1e2"
	"b1" "6b65795f70726f76696465725f696e666f" "c403" "6b6d73"
	"b2" "696e69745f7363726970745f686173686573" "92" "c420" X32("f1") "c420" X32("f2");

static const uint8_t APP_ID[] = { 0xa1, 0xa2, 0xa3 }, COMPOSE[] = { 0xb1, 0xb2 }, INSTANCE[] = { 0xc1, 0xc2 },
		     DEVICE[] = { 0xd1 }, OS[] = { 0xe1, 0xe2 };

static uint8_t *unhex(const char *h, size_t *n)
{
	size_t cap = strlen(h) / 2;
	uint8_t *p = malloc(cap ? cap : 1);

	assert_non_null(p);
	assert_int_equal(hex_decode(p, cap, n, h, strlen(h), 0), ERR_OK);
	return p;
}

static struct ratls_app_info sample(int with_init)
{
	struct ratls_app_info ai;

	memset(&ai, 0, sizeof(ai));
	ai.app_id = (struct ratls_blob){ APP_ID, sizeof(APP_ID) };
	ai.compose_hash = (struct ratls_blob){ COMPOSE, sizeof(COMPOSE) };
	ai.instance_id = (struct ratls_blob){ INSTANCE, sizeof(INSTANCE) };
	ai.device_id = (struct ratls_blob){ DEVICE, sizeof(DEVICE) };
	memset(ai.mr_system, 0x51, 32);
	memset(ai.mr_aggregated, 0x62, 32);
	ai.os_image_hash = (struct ratls_blob){ OS, sizeof(OS) };
	ai.key_provider_info = (struct ratls_blob){ (const uint8_t *)"kms", 3 };
	if (with_init) {
		ai.has_init_script_hashes = 1;
		ai.n_init_script_hashes = 2;
		memset(ai.init_script_hashes[0], 0xf1, 32);
		memset(ai.init_script_hashes[1], 0xf2, 32);
	}
	return ai;
}

static void assert_blob(struct ratls_blob b, const void *p, size_t n)
{
	assert_int_equal(b.len, n);
	if (n)
		assert_memory_equal(b.p, p, n);
}

static void assert_same(const struct ratls_app_info *a, const struct ratls_app_info *b)
{
	assert_blob(a->app_id, b->app_id.p, b->app_id.len);
	assert_blob(a->compose_hash, b->compose_hash.p, b->compose_hash.len);
	assert_blob(a->instance_id, b->instance_id.p, b->instance_id.len);
	assert_blob(a->device_id, b->device_id.p, b->device_id.len);
	assert_memory_equal(a->mr_system, b->mr_system, 32);
	assert_memory_equal(a->mr_aggregated, b->mr_aggregated, 32);
	assert_blob(a->os_image_hash, b->os_image_hash.p, b->os_image_hash.len);
	assert_blob(a->key_provider_info, b->key_provider_info.p, b->key_provider_info.len);
	assert_int_equal(a->has_init_script_hashes, b->has_init_script_hashes);
	assert_int_equal(a->n_init_script_hashes, b->n_init_script_hashes);
	if (a->n_init_script_hashes)
		assert_memory_equal(a->init_script_hashes, b->init_script_hashes, 32 * a->n_init_script_hashes);
}

static err_t decode_hex(const char *h, struct ratls_app_info *out, uint8_t **keep)
{
	size_t n = 0;

	*keep = unhex(h, &n);
	return ratls_app_info_decode(*keep, n, out, NULL);
}

/* Old certificate, this reader: every field of dstack's legacy vector; the field it lacks is None. */
static void test_legacy_positional_vector(void **state)
{
	struct ratls_app_info ai, want = sample(0);
	uint8_t *p;

	(void)state;
	assert_int_equal(decode_hex(LEGACY_HEX, &ai, &p), ERR_OK);
	assert_same(&ai, &want);
	assert_int_equal(ai.has_init_script_hashes, 0);
	free(p);
}

/* What this encoder writes is the hand-derived named form, byte for byte, and reads back. */
static void test_named_vector(void **state)
{
	struct ratls_app_info ai = sample(1), back;
	struct buf_writer w;
	size_t n = 0;
	uint8_t *want = unhex(NAMED_HEX, &n);

	(void)state;
	buf_writer_init(&w, RATLS_APP_INFO_MAX);
	assert_int_equal(ratls_app_info_encode(&ai, &w), ERR_OK);
	assert_int_equal(w.len, n);
	assert_memory_equal(w.p, want, n);
	assert_int_equal(ratls_app_info_decode(w.p, w.len, &back, NULL), ERR_OK);
	assert_same(&back, &ai);
	buf_writer_free(&w);
	free(want);
}

/* Round trips: None (key present, nil), Some([]), Some of 5, empty and 4096-byte fields. */
static void test_round_trip(void **state)
{
	static uint8_t big[RATLS_APP_INFO_FIELD_MAX];
	struct ratls_app_info ai, back;
	struct buf_writer w;

	(void)state;
	memset(big, 0x5a, sizeof(big));
	buf_writer_init(&w, RATLS_APP_INFO_MAX);
	for (int variant = 0; variant < 4; variant++) {
		ai = sample(0);
		if (variant == 1) {
			ai.has_init_script_hashes = 1;
		} else if (variant == 2) {
			ai.has_init_script_hashes = 1;
			ai.n_init_script_hashes = RATLS_APP_INFO_MAX_INIT_SCRIPTS;
			for (int i = 0; i < RATLS_APP_INFO_MAX_INIT_SCRIPTS; i++)
				memset(ai.init_script_hashes[i], 0x30 + i, 32);
		} else if (variant == 3) {
			ai.app_id = (struct ratls_blob){ NULL, 0 };
			ai.key_provider_info = (struct ratls_blob){ big, sizeof(big) };   /* bin 16 */
		}
		buf_writer_clear(&w);
		assert_int_equal(ratls_app_info_encode(&ai, &w), ERR_OK);
		assert_int_equal(w.p[0], 0x89);
		if (variant == 0) {
			/* ... b2 "init_script_hashes" c0: the last entry is the key with nil */
			assert_int_equal(w.p[w.len - 1], 0xc0);
			assert_memory_equal(w.p + w.len - 20, "\xb2init_script_hashes", 19);
		}
		assert_int_equal(ratls_app_info_decode(w.p, w.len, &back, NULL), ERR_OK);
		assert_same(&back, &ai);
	}
	/* The encoder refuses what a reader would refuse. */
	ai = sample(1);
	ai.n_init_script_hashes = RATLS_APP_INFO_MAX_INIT_SCRIPTS + 1;
	assert_int_equal(ratls_app_info_encode(&ai, &w), ERR_INVALID_ARG);
	ai = sample(0);
	ai.os_image_hash = (struct ratls_blob){ big, sizeof(big) + 1 };
	assert_int_equal(ratls_app_info_encode(&ai, &w), ERR_INVALID_ARG);
	ai.os_image_hash = (struct ratls_blob){ NULL, 2 };
	assert_int_equal(ratls_app_info_encode(&ai, &w), ERR_INVALID_ARG);
	buf_writer_free(&w);
}

/* Positional with 9 fields, maps in another order, without init_script_hashes, with unknown keys. */
static void test_other_accepted_forms(void **state)
{
	struct ratls_app_info ai, want;
	uint8_t *p;
	char hex[1024];

	(void)state;
	/* rmp_serde::to_vec of the newest struct: fixarray 9, the 9th a list of one hash */
	snprintf(hex, sizeof(hex), "99%s" "91c420" X32("f1"), LEGACY_HEX + 2);
	want = sample(0);
	want.has_init_script_hashes = 1;
	want.n_init_script_hashes = 1;
	memset(want.init_script_hashes[0], 0xf1, 32);
	assert_int_equal(decode_hex(hex, &ai, &p), ERR_OK);
	assert_same(&ai, &want);
	free(p);
	/* ... and with nil as the 9th */
	snprintf(hex, sizeof(hex), "99%sc0", LEGACY_HEX + 2);
	want = sample(0);
	assert_int_equal(decode_hex(hex, &ai, &p), ERR_OK);
	assert_same(&ai, &want);
	free(p);
	/*
	 * A map of 10 in another order, no init_script_hashes (None), two unknown
	 * keys: "zz" -> {"a": [1, nil, "x"]}, "v" -> 3.5 (float 64).
	 */
	want = sample(0);
	assert_int_equal(decode_hex("8a"
				    "a27a7a" "81a161" "9301c0a178"
				    "b1" "6b65795f70726f76696465725f696e666f" "c403" "6b6d73"
				    "a9" "6d725f73797374656d" "c420" X32("51")
				    "a6" "6170705f6964" "c403" "a1a2a3"
				    "ad" "6f735f696d6167655f68617368" "c402" "e1e2"
				    "a176" "cb400c000000000000"
				    "ac" "636f6d706f73655f68617368" "c402" "b1b2"
				    "ab" "696e7374616e63655f6964" "c402" "c1c2"
				    "a9" "6465766963655f6964" "c401" "d1"
				    "ad" "6d725f61676772656761746564" "c420" X32("62"),
				    &ai, &p),
			 ERR_OK);
	assert_same(&ai, &want);
	free(p);
}

static void expect(const char *h, err_t want, const char *what)
{
	struct ratls_app_info ai;
	const char *detail = NULL;
	size_t n = 0;
	uint8_t *p = unhex(h, &n);
	err_t got = ratls_app_info_decode(p, n, &ai, &detail);

	if (got != want)
		fail_msg("%s: %s (%s), want %s", what, err_name(got), detail ? detail : "-", err_name(want));
	assert_non_null(detail);
	assert_int_equal(ai.app_id.len, 0);   /* nothing half-decoded is left behind */
	free(p);
}

/* Every strict prefix of both forms is truncated, nothing else. */
static void test_truncations(void **state)
{
	const char *const forms[] = { LEGACY_HEX, NAMED_HEX };

	(void)state;
	for (size_t f = 0; f < 2; f++) {
		size_t n = 0;
		uint8_t *p = unhex(forms[f], &n);
		struct ratls_app_info ai;

		for (size_t cut = 0; cut < n; cut++) {
			const char *detail = NULL;

			assert_int_equal(ratls_app_info_decode(p, cut, &ai, &detail), ERR_PROTO_TRUNCATED);
			assert_non_null(detail);
		}
		assert_int_equal(ratls_app_info_decode(p, n, &ai, NULL), ERR_OK);
		free(p);
	}
}

/* Each defect with its specific error. */
static void test_negative(void **state)
{
	char hex[4096];
	const char *tail = LEGACY_HEX + 2;   /* the 8 positional fields, without the array header */
	uint8_t *p;
	struct ratls_app_info ai;

	(void)state;
	snprintf(hex, sizeof(hex), "%s00", LEGACY_HEX);
	expect(hex, ERR_PROTO_TRAILING, "a byte after the value");
	snprintf(hex, sizeof(hex), "%s00", NAMED_HEX);
	expect(hex, ERR_PROTO_TRAILING, "a byte after the map");

	/* wrong lengths */
	expect("98c403a1a2a3c402b1b2c402c1c2c401d1c41f" "515151515151515151515151515151515151515151515151515151515151"
	       "51" "c420" X32("62") "c402e1e2c4036b6d73",
	       ERR_PROTO_MALFORMED, "mr_system of 31 bytes");
	expect("98c403a1a2a3c402b1b2c402c1c2c401d1c420" X32("51") "c421" X32("62") "62" "c402e1e2c4036b6d73",
	       ERR_PROTO_MALFORMED, "mr_aggregated of 33 bytes");
	snprintf(hex, sizeof(hex), "99%s91c41f%s", tail,
		 "f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1");
	expect(hex, ERR_PROTO_MALFORMED, "an init script hash of 31 bytes");
	expect("97c403a1a2a3c402b1b2c402c1c2c401d1c420" X32("51") "c420" X32("62") "c402e1e2",
	       ERR_PROTO_MALFORMED, "a positional AppInfo of 7 fields");
	snprintf(hex, sizeof(hex), "9a%sc0c0", tail);
	expect(hex, ERR_PROTO_MALFORMED, "a positional AppInfo of 10 fields");

	/* too many init hashes, too long fields, too much input */
	snprintf(hex, sizeof(hex), "99%s96" "c420" X32("01") "c420" X32("02") "c420" X32("03") "c420" X32("04")
		 "c420" X32("05") "c420" X32("06"), tail);
	expect(hex, ERR_PROTO_TOO_LARGE, "6 init script hashes");
	expect("98c5100141", ERR_PROTO_TOO_LARGE, "an app_id of 4097 bytes (bin 16)");
	{
		size_t n = RATLS_APP_INFO_MAX + 1;

		p = calloc(1, n);
		assert_non_null(p);
		p[0] = 0x98;
		assert_int_equal(ratls_app_info_decode(p, n, &ai, NULL), ERR_PROTO_TOO_LARGE);
		free(p);
	}
	/* a map of 33 entries is refused before any is read */
	expect("de0021", ERR_PROTO_TOO_LARGE, "a map of 33 entries");

	/* wrong types */
	expect("c0", ERR_PROTO_FIELD_TYPE, "nil instead of a map or an array");
	expect("a3616263", ERR_PROTO_FIELD_TYPE, "a string instead of a map or an array");
	expect("98a3a1a2a3", ERR_PROTO_FIELD_TYPE, "app_id as a str");
	expect("9893a1a2a3", ERR_PROTO_FIELD_TYPE, "app_id as an array of integers");
	snprintf(hex, sizeof(hex), "99%s80", tail);
	expect(hex, ERR_PROTO_FIELD_TYPE, "init_script_hashes as a map");
	snprintf(hex, sizeof(hex), "99%s91a1f1", tail);
	expect(hex, ERR_PROTO_FIELD_TYPE, "an init script hash as a str");
	expect("8100c403a1a2a3", ERR_PROTO_FIELD_TYPE, "an integer map key");

	/* missing or repeated fields */
	expect("81a6" "6170705f6964" "c403a1a2a3", ERR_PROTO_MALFORMED, "a map with app_id only");
	expect("82a6" "6170705f6964" "c403a1a2a3" "a6" "6170705f6964" "c403a1a2a3", ERR_PROTO_MALFORMED,
	       "app_id twice");
	expect("81" "b2" "696e69745f7363726970745f686173686573" "c0", ERR_PROTO_MALFORMED,
	       "only init_script_hashes");

	/* unknown keys are skipped only when well-formed and shallow */
	expect("81a17a" "c1", ERR_PROTO_MALFORMED, "an unknown key whose value is the reserved 0xc1");
	expect("81a17a" X4("91") X4("91") X4("91") X4("91") "91c0", ERR_PROTO_DEPTH, "an unknown value 17 deep");
	expect("81a17a" "dd00010000", ERR_PROTO_TRUNCATED, "an unknown array claiming 65536 entries");
}

/* ---- from evidence ---------------------------------------------------------------------------- */

struct fix {
	struct rt_sim s;
	struct ratls_verifier *v;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct ratls_verifier_config cfg;

	if (!f || rt_sim_init(&f->s, 0xa1) != 0)
		return -1;
	rt_verifier_config(&f->s, &cfg);
	f->v = ratls_verifier_new(&cfg);
	if (!f->v)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	ratls_verifier_free(f->v);
	rt_sim_fini(&f->s);
	free(f);
	return 0;
}

/* A self-signed leaf carrying ATTESTATION and APP_INFO of the same evidence (what the guest agent's local CA does). */
static X509 *leaf_with_app_info(struct fix *f, EVP_PKEY *key, const uint8_t *device_id, struct buf_writer *info)
{
	struct ratls_cert_params p;
	struct buf_writer att;
	const char *detail = NULL;
	X509 *x = NULL;
	err_t rc;

	buf_writer_init(&att, RATLS_ATTESTATION_MAX);
	buf_writer_init(info, RATLS_APP_INFO_MAX);
	rc = ratls_app_info_for_key(key, rt_sim_quote, &f->s, device_id, &att, info, &detail);
	if (rc != ERR_OK)
		fail_msg("ratls_app_info_for_key: %s (%s)", err_name(rc), detail ? detail : "-");
	memset(&p, 0, sizeof(p));
	p.cn = "app";
	p.not_after = RT_NOW + RT_DAY;
	p.attestation = att.p;
	p.attestation_len = att.len;
	p.app_info = info->p;
	p.app_info_len = info->len;
	assert_int_equal(ratls_cert_build(&p, key, NULL, key, &x), ERR_OK);
	buf_writer_free(&att);
	return x;
}

/* dstack's derivation from the sim's evidence, checked against the verifier's claims and by hand. */
static void test_from_evidence(void **state)
{
	static const char kp[] = "{\"name\":\"kms\",\"id\":\"3059\"}";
	struct fix *f = *state;
	EVP_PKEY *key = ratls_key_new();
	const struct ratls_verdict *vd = NULL;
	struct ratls_failure why;
	struct ratls_app_info ai;
	struct buf_writer info;
	uint8_t dev[32], mr_kp[32], mr_system[32], r[4][48];
	X509 *x;

	(void)state;
	assert_non_null(key);
	memset(dev, 0xde, sizeof(dev));
	f->s.n_init_scripts = 2;
	x = leaf_with_app_info(f, key, dev, &info);
	assert_int_equal(ratls_app_info_decode(info.p, info.len, &ai, NULL), ERR_OK);
	assert_blob(ai.app_id, f->s.app_id, 20);
	assert_blob(ai.compose_hash, f->s.compose_hash, 32);
	assert_blob(ai.instance_id, f->s.instance_id, 20);
	assert_blob(ai.device_id, dev, 32);
	assert_blob(ai.os_image_hash, NULL, 0);   /* the sim measures no os-image-hash */
	assert_blob(ai.key_provider_info, kp, strlen(kp));
	/* mr_system = sha256(MRTD || RTMR0 || RTMR1 || RTMR2 || sha256(key-provider payload)), sim registers 42/10/11/12 */
	memset(r[0], 0x42, 48);
	memset(r[1], 0x10, 48);
	memset(r[2], 0x11, 48);
	memset(r[3], 0x12, 48);
	sha256(kp, strlen(kp), mr_kp);
	{
		const void *parts[5] = { r[0], r[1], r[2], r[3], mr_kp };
		const size_t lens[5] = { 48, 48, 48, 48, 32 };

		sha256_parts(parts, lens, 5, mr_system);
	}
	assert_memory_equal(ai.mr_system, mr_system, 32);
	assert_int_equal(ai.has_init_script_hashes, 1);
	assert_int_equal(ai.n_init_script_hashes, 2);
	assert_int_equal(ai.init_script_hashes[0][0], 0xf1);
	assert_int_equal(ai.init_script_hashes[1][31], 0xf2);

	/* The verifier exposes the extension, and it agrees with the claims of the same evidence. */
	assert_int_equal(ratls_verify_cert(f->v, x, RT_NOW, &vd, &why), ERR_OK);
	assert_int_equal(vd->has_app_info, 1);
	assert_same(&vd->app_info, &ai);
	assert_memory_equal(ai.mr_aggregated, vd->claims.mr_aggregated, 32);   /* full RTMR3, boottime_mr = false */
	assert_memory_equal(ai.mr_system, vd->claims.mr_system, 32);
	assert_memory_equal(ai.app_id.p, vd->claims.app_id, 20);
	ratls_verdict_unref(vd);
	X509_free(x);
	buf_writer_free(&info);

	/* No device id given: dstack's sha256(""); an empty key-provider: a zero mr_key_provider; no init scripts: Some([]). */
	f->s.n_init_scripts = 0;
	f->s.empty_key_provider = 1;
	x = leaf_with_app_info(f, key, NULL, &info);
	assert_int_equal(ratls_app_info_decode(info.p, info.len, &ai, NULL), ERR_OK);
	sha256("", 0, dev);
	assert_blob(ai.device_id, dev, 32);
	assert_int_equal(ai.key_provider_info.len, 0);
	memset(mr_kp, 0, sizeof(mr_kp));
	{
		const void *parts[5] = { r[0], r[1], r[2], r[3], mr_kp };
		const size_t lens[5] = { 48, 48, 48, 48, 32 };

		sha256_parts(parts, lens, 5, mr_system);
	}
	assert_memory_equal(ai.mr_system, mr_system, 32);
	assert_int_equal(ai.has_init_script_hashes, 1);
	assert_int_equal(ai.n_init_script_hashes, 0);
	X509_free(x);
	buf_writer_free(&info);
	f->s.empty_key_provider = 0;
	EVP_PKEY_free(key);
}

/* Evidence an issuer must not turn into APP_INFO, and a certificate whose APP_INFO does not decode. */
static void test_from_evidence_refusals(void **state)
{
	struct fix *f = *state;
	EVP_PKEY *key = ratls_key_new();
	struct buf_writer info, att;
	struct ratls_attestation a;
	struct ratls_app_info ai;
	struct arena mem;
	const char *detail = NULL;
	const struct ratls_verdict *vd = NULL;
	struct ratls_failure why;
	struct ratls_cert_params p;
	X509 *x = NULL;

	assert_non_null(key);
	buf_writer_init(&info, RATLS_APP_INFO_MAX);
	f->s.n_init_scripts = 6;
	assert_int_equal(ratls_app_info_for_key(key, rt_sim_quote, &f->s, NULL, NULL, &info, &detail),
			 ERR_ATTEST_EVENT_LOG);
	assert_string_equal(detail, "more than 5 init-script-hash events before system-ready");
	f->s.n_init_scripts = 1;
	f->s.init_script_len = 31;
	assert_int_equal(ratls_app_info_for_key(key, rt_sim_quote, &f->s, NULL, NULL, &info, &detail),
			 ERR_ATTEST_EVENT_LOG);
	assert_string_equal(detail, "an init-script-hash event's payload is not 32 bytes");
	f->s.n_init_scripts = 0;
	f->s.init_script_len = 0;
	f->s.tamper_log = 1;
	assert_int_equal(ratls_app_info_for_key(key, rt_sim_quote, &f->s, NULL, NULL, &info, &detail),
			 ERR_ATTEST_RTMR_MISMATCH);
	f->s.tamper_log = 0;
	assert_int_equal(info.len, 0);
	memset(&a, 0, sizeof(a));
	a.platform = RATLS_PLATFORM_SEV_SNP;
	arena_init(&mem, 1u << 20, 4096);
	assert_int_equal(ratls_app_info_from_attestation(&a, NULL, &mem, &ai, &detail), ERR_RATLS_UNSUPPORTED);
	arena_fini(&mem);

	/* APP_INFO that does not decode fails the certificate at the evidence step. */
	buf_writer_init(&att, RATLS_ATTESTATION_MAX);
	assert_int_equal(ratls_app_info_for_key(key, rt_sim_quote, &f->s, NULL, &att, &info, &detail), ERR_OK);
	memset(&p, 0, sizeof(p));
	p.cn = "app";
	p.not_after = RT_NOW + RT_DAY;
	p.attestation = att.p;
	p.attestation_len = att.len;
	p.app_info = info.p;
	p.app_info_len = info.len - 1;
	assert_int_equal(ratls_cert_build(&p, key, NULL, key, &x), ERR_OK);
	assert_int_equal(ratls_verify_cert(f->v, x, RT_NOW, &vd, &why), ERR_RATLS_EVIDENCE_FORMAT);
	assert_int_equal(why.step, RATLS_STEP_EVIDENCE);
	assert_string_equal(why.detail, "APP_INFO msgpack truncated");
	assert_null(vd);
	X509_free(x);
	/* Without the extension there is none in the verdict. */
	p.app_info = NULL;
	p.app_info_len = 0;
	assert_int_equal(ratls_cert_build(&p, key, NULL, key, &x), ERR_OK);
	assert_int_equal(ratls_verify_cert(f->v, x, RT_NOW, &vd, &why), ERR_OK);
	assert_int_equal(vd->has_app_info, 0);
	ratls_verdict_unref(vd);
	X509_free(x);
	buf_writer_free(&att);
	buf_writer_free(&info);
	EVP_PKEY_free(key);
}

/* DS_RATLS_WRITE_CORPUS=<fuzz/corpus> writes the seeds for fuzz_ratls_app_info: both vectors, and the sim's. */
static void test_write_corpus(void **state)
{
	const char *dir = getenv("DS_RATLS_WRITE_CORPUS");
	struct fix *f = *state;
	char sub[400];
	size_t n = 0;
	uint8_t *p;

	if (!dir)
		skip();
	snprintf(sub, sizeof(sub), "%s/ratls_app_info", dir);
	p = unhex(LEGACY_HEX, &n);
	assert_int_equal(rt_write_seed(sub, "legacy_positional.bin", p, n), ERR_OK);
	free(p);
	p = unhex(NAMED_HEX, &n);
	assert_int_equal(rt_write_seed(sub, "named_init_hashes.bin", p, n), ERR_OK);
	free(p);
	{
		EVP_PKEY *key = ratls_key_new();
		struct buf_writer info;

		assert_non_null(key);
		buf_writer_init(&info, RATLS_APP_INFO_MAX);
		f->s.n_init_scripts = 0;
		assert_int_equal(ratls_app_info_for_key(key, rt_sim_quote, &f->s, NULL, NULL, &info, NULL), ERR_OK);
		assert_int_equal(rt_write_seed(sub, "named_sim.bin", info.p, info.len), ERR_OK);
		buf_writer_free(&info);
		EVP_PKEY_free(key);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_legacy_positional_vector),
		cmocka_unit_test(test_named_vector),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_other_accepted_forms),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_negative),
		cmocka_unit_test_setup_teardown(test_from_evidence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_from_evidence_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_corpus, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
