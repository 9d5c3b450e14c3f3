/* SPDX-License-Identifier: Apache-2.0 */
/* registry_chain (log decoding, the fold, isAppAllowed calldata) and registry_audit (order, merge, file) without a node. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi.h"
#include "contracts_bytecode.h"
#include "crypto.h"
#include "enc.h"
#include "registry_chain.h"

static const uint8_t KMS[20] = { 0x5f, 0xbd, 0xb2, 0x31, 0x56, 0x78, 0xaf, 0xec, 0xb3, 0x67,
				 0xf0, 0x32, 0xd9, 0x3f, 0x64, 0x2f, 0x64, 0x18, 0x0a, 0xa3 };

struct fx {
	struct registry_chain_abi *abi;
	struct arena mem;
	uint8_t app[20];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(registry_chain_abi_new(&f->abi), ERR_OK);
	arena_init(&f->mem, 1u << 24, 1u << 16);
	memset(f->app, 0xa1, 20);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	registry_chain_abi_free(f->abi);
	arena_fini(&f->mem);
	free(f);
	return 0;
}

/* A log of `sig` from `addr` with data words. */
static struct eth_log mklog(const uint8_t addr[20], const char *sig, const uint8_t *data, size_t n, uint64_t block,
			    uint64_t li)
{
	struct eth_log l;

	memset(&l, 0, sizeof(l));
	memcpy(l.address, addr, 20);
	abi_topic(sig, l.topics[0]);
	l.ntopics = 1;
	l.data = data;
	l.data_len = n;
	l.block_number = block;
	l.log_index = li;
	memset(l.block_hash, (int)block, 32);
	memset(l.tx_hash, 0x77, 32);
	return l;
}

static void word_u64(uint8_t w[32], uint64_t x)
{
	memset(w, 0, 32);
	for (int i = 0; i < 8; i++)
		w[31 - i] = (uint8_t)(x >> (8 * i));
}

static void test_decode(void **state)
{
	struct fx *f = *state;
	uint8_t data[64], hash[32];
	struct registry_event ev;
	struct eth_log l;
	char hex[67];

	memset(hash, 0xc1, 32);
	memcpy(data, hash, 32);
	word_u64(data + 32, 1700000000);
	l = mklog(f->app, "ComposeHashAdded(bytes32,uint64)", data, 64, 12, 3);
	assert_int_equal(registry_chain_decode(f->abi, &l, REGISTRY_EMITTER_APP, 1699999999, &f->mem, &ev), ERR_OK);
	assert_int_equal(ev.kind, REGISTRY_EV_COMPOSE_HASH_ADDED);
	assert_string_equal(ev.name, "ComposeHashAdded");
	assert_int_equal(ev.nfields, 2);
	hex[0] = '0';
	hex[1] = 'x';
	hex_encode(hex + 2, hash, 32);
	assert_string_equal(ev.fields[0].name, "composeHash");
	assert_string_equal(ev.fields[0].type, "bytes32");
	assert_string_equal(ev.fields[0].value, hex);
	assert_string_equal(ev.fields[1].value, "1700000000");
	assert_string_equal(ev.fields[1].type, "uint64");
	assert_int_equal(ev.has_app, 1);
	assert_memory_equal(ev.app_id, f->app, 20);
	assert_int_equal(ev.block, 12);
	assert_int_equal(ev.log_index, 3);
	assert_int_equal(ev.time, 1699999999);

	/* The same log from the registry: not in its vocabulary. */
	assert_int_equal(registry_chain_decode(f->abi, &l, REGISTRY_EMITTER_KMS, 0, &f->mem, &ev), ERR_NOT_FOUND);
	/* A uint64 word with high bytes set, a short data, an extra topic: malformed. */
	data[33] = 1;
	assert_int_equal(registry_chain_decode(f->abi, &l, REGISTRY_EMITTER_APP, 0, &f->mem, &ev), ERR_PROTO_MALFORMED);
	data[33] = 0;
	l.data_len = 63;
	assert_int_equal(registry_chain_decode(f->abi, &l, REGISTRY_EMITTER_APP, 0, &f->mem, &ev), ERR_PROTO_TRUNCATED);
	l.data_len = 64;
	l.ntopics = 2;
	assert_int_equal(registry_chain_decode(f->abi, &l, REGISTRY_EMITTER_APP, 0, &f->mem, &ev), ERR_PROTO_MALFORMED);
	l.ntopics = 0;
	assert_int_equal(registry_chain_decode(f->abi, &l, REGISTRY_EMITTER_APP, 0, &f->mem, &ev), ERR_NOT_FOUND);

	/* Indexed ownership topics, and a string that is not UTF-8 (rendered as bytes). */
	l = mklog(f->app, "OwnershipTransferred(address,address)", NULL, 0, 1, 0);
	memset(l.topics[1], 0, 32);
	memset(l.topics[2], 0, 12);
	memset(l.topics[2] + 12, 0xbb, 20);
	l.ntopics = 3;
	assert_int_equal(registry_chain_decode(f->abi, &l, REGISTRY_EMITTER_APP, 0, &f->mem, &ev), ERR_OK);
	assert_int_equal(ev.kind, REGISTRY_EV_OWNERSHIP_TRANSFERRED);
	assert_int_equal(ev.fields[1].indexed, 1);
	assert_string_equal(ev.fields[1].value, "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	l.topics[2][0] = 1;  /* dirty address topic */
	assert_int_equal(registry_chain_decode(f->abi, &l, REGISTRY_EMITTER_APP, 0, &f->mem, &ev), ERR_PROTO_MALFORMED);
	{
		uint8_t s[96];

		word_u64(s, 32);
		word_u64(s + 32, 2);
		memset(s + 64, 0, 32);
		s[64] = 0xff;
		s[65] = 0xfe;
		l = mklog(KMS, "GatewayAppIdSet(string)", s, sizeof(s), 2, 0);
		assert_int_equal(registry_chain_decode(f->abi, &l, REGISTRY_EMITTER_KMS, 0, &f->mem, &ev), ERR_OK);
		assert_string_equal(ev.fields[0].type, "bytes");
		assert_string_equal(ev.fields[0].value, "0xfffe");
	}
}

/* Decode a KMS or App log, stamp AppRegistered with code, fold into st. */
static void fold_log(struct fx *f, struct registry_state *st, const struct eth_log *l, enum registry_emitter who,
		     const uint8_t *code, size_t ncode)
{
	struct registry_event ev;

	assert_int_equal(registry_chain_decode(f->abi, l, who, 100, &f->mem, &ev), ERR_OK);
	if (ev.kind == REGISTRY_EV_APP_REGISTERED)
		assert_int_equal(registry_chain_set_code(&ev, code, ncode, &f->mem), ERR_OK);
	assert_int_equal(registry_chain_apply(st, &ev, KMS), ERR_OK);
}

static void test_fold_and_decide(void **state)
{
	struct fx *f = *state;
	struct registry_state *st = registry_state_new(REGISTRY_SOURCE_CHAIN);
	uint8_t w1[32], w2[64], os[32], ch[32], dev[32], foreign_app[20], bare_app[20], fake_code[3] = { 1, 2, 3 };
	struct registry_snapshot *s = NULL;
	struct registry_boot_info b;
	struct registry_decision d;
	struct registry_snapshot_meta meta;
	struct eth_log l;
	struct registry_event ev;

	memset(os, 0x05, 32);
	memset(ch, 0xc1, 32);
	memset(dev, 0xd1, 32);
	memset(foreign_app, 0xf0, 20);
	memset(bare_app, 0xb0, 20);
	l = mklog(KMS, "OsImageHashAdded(bytes32)", os, 32, 1, 0);
	fold_log(f, st, &l, REGISTRY_EMITTER_KMS, NULL, 0);
	/* The App's constructor logs, then AppRegistered (the factory's order). */
	word_u64(w1, 1);
	l = mklog(f->app, "TcbRequirementSet(bool)", w1, 32, 2, 0);
	fold_log(f, st, &l, REGISTRY_EMITTER_APP, NULL, 0);
	l = mklog(f->app, "DeviceAdded(bytes32)", dev, 32, 2, 1);
	fold_log(f, st, &l, REGISTRY_EMITTER_APP, NULL, 0);
	memcpy(w2, ch, 32);
	word_u64(w2 + 32, 50);
	l = mklog(f->app, "ComposeHashAdded(bytes32,uint64)", w2, 64, 2, 2);
	fold_log(f, st, &l, REGISTRY_EMITTER_APP, NULL, 0);
	memset(w1, 0, 12);
	memcpy(w1 + 12, f->app, 20);
	l = mklog(KMS, "AppRegistered(address)", w1, 32, 2, 3);
	{
		/* A code blob whose keccak we cannot forge: fold the event with the App code hash itself. */
		assert_int_equal(registry_chain_decode(f->abi, &l, REGISTRY_EMITTER_KMS, 100, &f->mem, &ev), ERR_OK);
		ev.fields[ev.nfields].name = "codeHash";
		ev.fields[ev.nfields].type = "bytes32";
		ev.fields[ev.nfields].value = arena_printf(&f->mem, "0x%s", registry_app_runtime_codehash_hex);
		ev.fields[ev.nfields].value_len = 66;
		ev.nfields++;
		assert_int_equal(registry_chain_apply(st, &ev, KMS), ERR_OK);
	}
	memcpy(w1 + 12, foreign_app, 20);
	l = mklog(KMS, "AppRegistered(address)", w1, 32, 3, 0);
	fold_log(f, st, &l, REGISTRY_EMITTER_KMS, fake_code, sizeof(fake_code));
	memcpy(w1 + 12, bare_app, 20);
	l = mklog(KMS, "AppRegistered(address)", w1, 32, 3, 1);
	fold_log(f, st, &l, REGISTRY_EMITTER_KMS, NULL, 0);
	/* A registered-but-missing codeHash is a corrupt log. */
	assert_int_equal(registry_chain_decode(f->abi, &l, REGISTRY_EMITTER_KMS, 100, &f->mem, &ev), ERR_OK);
	assert_int_equal(registry_chain_apply(st, &ev, KMS), ERR_PROTO_MALFORMED);

	memset(&meta, 0, sizeof(meta));
	meta.block_number = 3;
	meta.block_time = 100;
	assert_int_equal(registry_state_freeze(st, &meta, &s), ERR_OK);
	memset(&b, 0, sizeof(b));
	b.app_id = (struct registry_bytes){ f->app, 20 };
	b.compose_hash = (struct registry_bytes){ ch, 32 };
	b.device_id = (struct registry_bytes){ dev, 32 };
	b.os_image_hash = (struct registry_bytes){ os, 32 };
	b.tcb_status = "UpToDate";
	assert_int_equal(registry_check(s, &b, REGISTRY_KIND_APP, 100, &d), ERR_OK);
	assert_true(d.allowed);
	assert_int_equal(registry_snapshot_app(s, f->app)->version, 2);
	assert_int_equal(registry_check(s, &b, REGISTRY_KIND_APP, 49, &d), ERR_OK);
	assert_string_equal(d.reason, REGISTRY_R_COMPOSE_HASH);
	b.tcb_status = "OutOfDate";
	assert_int_equal(registry_check(s, &b, REGISTRY_KIND_APP, 100, &d), ERR_OK);
	assert_string_equal(d.reason, REGISTRY_R_TCB);
	b.app_id = (struct registry_bytes){ foreign_app, 20 };
	assert_int_equal(registry_check(s, &b, REGISTRY_KIND_APP, 100, &d), ERR_OK);
	assert_int_equal(d.undecidable, 1);
	b.app_id = (struct registry_bytes){ bare_app, 20 };
	assert_int_equal(registry_check(s, &b, REGISTRY_KIND_APP, 100, &d), ERR_OK);
	assert_string_equal(d.reason, REGISTRY_R_APP_NO_CODE);
	registry_snapshot_unref(s);
	registry_state_free(st);
	assert_true(registry_chain_is_app_code(NULL, 0) == 0);
	assert_true(registry_chain_is_app_code(fake_code, sizeof(fake_code)) == 0);
}

static void test_calldata_and_answer(void **state)
{
	struct fx *f = *state;
	struct registry_boot_info b;
	struct buf_writer w;
	uint8_t app[19], long33[33];
	const char *adv[] = { "INTEL-SA-00837" };
	int allowed = -1;
	const char *reason = NULL;

	memset(&b, 0, sizeof(b));
	memset(app, 0x11, sizeof(app));
	b.app_id = (struct registry_bytes){ app, sizeof(app) };  /* left-padded like auth-eth */
	b.tcb_status = "UpToDate";
	b.advisory_ids = adv;
	b.n_advisory_ids = 1;
	buf_writer_init(&w, 1 << 16);
	assert_int_equal(registry_chain_encode_check(f->abi, REGISTRY_KIND_APP, &b, &w), ERR_OK);
	assert_int_equal(w.p[0], 0x1e);
	assert_int_equal(w.p[3], 0x98);  /* isAppAllowed: 0x1e079198 (EVENTS.md, dstack's interface id) */
	/* The tuple is dynamic: one offset word, then appId left-padded (13 zero bytes, 19 of 0x11). */
	assert_int_equal(w.p[4 + 31], 0x20);
	assert_int_equal(w.p[4 + 32 + 12], 0x00);
	assert_int_equal(w.p[4 + 32 + 13], 0x11);
	buf_writer_clear(&w);
	assert_int_equal(registry_chain_encode_check(f->abi, REGISTRY_KIND_KMS, &b, &w), ERR_OK);
	assert_int_equal(w.p[0], 0xe0);
	assert_int_equal(w.p[3], 0x9d);  /* isKmsAllowed: 0xe067ec9d */
	memset(long33, 1, sizeof(long33));
	b.compose_hash = (struct registry_bytes){ long33, 33 };
	buf_writer_clear(&w);
	assert_int_equal(registry_chain_encode_check(f->abi, REGISTRY_KIND_APP, &b, &w), ERR_INVALID_ARG);
	buf_writer_free(&w);

	/* (false, "Compose hash not allowed") as the contract returns it. */
	{
		uint8_t ret[128];

		memset(ret, 0, sizeof(ret));
		ret[63] = 0x40;
		ret[95] = 24;
		memcpy(ret + 96, "Compose hash not allowed", 24);
		assert_int_equal(registry_chain_decode_answer(f->abi, ret, sizeof(ret), &f->mem, &allowed, &reason), ERR_OK);
		assert_int_equal(allowed, 0);
		assert_string_equal(reason, "Compose hash not allowed");
		ret[31] = 2;  /* not a bool */
		assert_int_not_equal(registry_chain_decode_answer(f->abi, ret, sizeof(ret), &f->mem, &allowed, &reason),
				     ERR_OK);
		assert_int_not_equal(registry_chain_decode_answer(f->abi, ret, 100, &f->mem, &allowed, &reason), ERR_OK);
	}
}

/* --- the audit log --- */

static struct registry_event mkev(uint64_t block, uint32_t li, const char *v)
{
	struct registry_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = REGISTRY_EV_OS_IMAGE_ADDED;
	ev.name = "OsImageHashAdded";
	ev.source = REGISTRY_SOURCE_CHAIN;
	ev.has_contract = 1;
	memcpy(ev.contract, KMS, 20);
	ev.block = block;
	ev.log_index = li;
	ev.time = 1000 + block;
	ev.nfields = 1;
	ev.fields[0] = (struct registry_event_field){ "osImageHash", "bytes32", v, strlen(v), 0 };
	return ev;
}

static size_t count_lines(const char *path)
{
	FILE *fp = fopen(path, "r");
	size_t n = 0;
	int c;

	assert_non_null(fp);
	while ((c = fgetc(fp)) != EOF)
		n += c == '\n';
	fclose(fp);
	return n;
}

static void test_audit(void **state)
{
	char dir[] = "/tmp/ds-audit-XXXXXX", path[128], detail[256];
	struct registry_audit *a;
	struct registry_event evs[3];
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/events", dir);
	a = registry_audit_new(0);
	assert_int_equal(registry_audit_open(a, path, detail, sizeof(detail)), ERR_OK);
	evs[0] = mkev(5, 0, "a");
	evs[1] = mkev(5, 1, "b");
	evs[2] = mkev(9, 0, "c");
	assert_int_equal(registry_audit_merge(a, evs, 3), ERR_OK);
	/* Appends must go forward: equal or older keys are refused (nothing applied twice). */
	assert_int_equal(registry_audit_append(a, &evs[2]), ERR_INVALID_ARG);
	evs[0] = mkev(8, 7, "x");
	assert_int_equal(registry_audit_append(a, &evs[0]), ERR_INVALID_ARG);
	/* A backfilled event in the past is merged in place (the file is rewritten). */
	assert_int_equal(registry_audit_merge(a, evs, 1), ERR_OK);
	assert_int_equal(registry_audit_count(a), 4);
	assert_string_equal(registry_audit_at(a, 2)->fields[0].value, "x");
	assert_int_equal(registry_audit_lower_bound(a, 8, 0), 2);
	assert_int_equal(registry_audit_lower_bound(a, 9, 1), 4);
	evs[1] = mkev(5, 1, "dup");
	assert_int_equal(registry_audit_merge(a, &evs[1], 1), ERR_EXISTS);
	assert_int_equal(registry_audit_count(a), 4);
	assert_int_equal(registry_audit_sync(a), ERR_OK);
	assert_int_equal(count_lines(path), 4);
	/* Truncate (a reorg), append, then reopen: the same log. */
	assert_int_equal(registry_audit_truncate(a, 3), ERR_OK);
	evs[0] = mkev(10, 0, "d");
	assert_int_equal(registry_audit_append(a, &evs[0]), ERR_OK);
	registry_audit_free(a);
	assert_int_equal(count_lines(path), 4);
	/* A crash mid-append leaves a torn line: cut on open. */
	fp = fopen(path, "a");
	fputs("{\"kind\":9,\"na", fp);
	fclose(fp);
	a = registry_audit_new(0);
	assert_int_equal(registry_audit_open(a, path, detail, sizeof(detail)), ERR_OK);
	assert_int_equal(registry_audit_count(a), 4);
	assert_string_equal(registry_audit_at(a, 3)->fields[0].value, "d");
	assert_int_equal(registry_audit_at(a, 3)->time, 1010);
	assert_memory_equal(registry_audit_at(a, 3)->contract, KMS, 20);
	registry_audit_free(a);
	assert_int_equal(count_lines(path), 4);
	/* A complete line that is not a record is an error naming the line. */
	fp = fopen(path, "a");
	fputs("{\"kind\":9}\n", fp);
	fclose(fp);
	a = registry_audit_new(0);
	assert_int_not_equal(registry_audit_open(a, path, detail, sizeof(detail)), ERR_OK);
	assert_non_null(strstr(detail, ":5: not an audit record"));
	registry_audit_free(a);
	/* A bounded memory log drops the oldest and takes appends only. */
	a = registry_audit_new(2);
	for (uint32_t i = 0; i < 3; i++) {
		evs[0] = mkev(0, i, "f");
		assert_int_equal(registry_audit_append(a, &evs[0]), ERR_OK);
	}
	assert_int_equal(registry_audit_count(a), 2);
	assert_int_equal(registry_audit_at(a, 0)->log_index, 1);
	registry_audit_free(a);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_decode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fold_and_decide, setup, teardown),
		cmocka_unit_test_setup_teardown(test_calldata_and_answer, setup, teardown),
		cmocka_unit_test(test_audit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
