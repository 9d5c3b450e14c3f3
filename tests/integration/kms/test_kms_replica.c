/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KMS replicas and key epochs on loopback with the simulated TEE: onboarding
 * refused until the registry allows the newcomer, then identical derivations
 * on both nodes; rotation and retirement reaching the replica; the audit log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "dstack/kms/v1/kms.pb-c.h"
#include "enc.h"
#include "kms_harness.h"
#include "kms_store.h"

#define APP_A "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define COMPOSE_OK "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"
#define KMS_APP "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0"
#define KMS_COMPOSE "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1"
#define OS_IMAGE "0505050505050505050505050505050505050505050505050505050505050505"

/* One line of /proc/<pid>/maps: "lo-hi perms ...". */
static int parse_map(const char *line, unsigned long *lo, unsigned long *hi, char perms[8])
{
	char *end;

	*lo = strtoul(line, &end, 16);
	if (*end != '-')
		return 0;
	*hi = strtoul(end + 1, &end, 16);
	if (*end != ' ' || *hi <= *lo)
		return 0;
	memcpy(perms, end + 1, 4);
	perms[4] = 0;
	return 1;
}

static struct spawned g_registry;
static char g_registry_url[300];
static struct kh_kms g_a, g_b;
static char g_b_tee[512];
static char g_b_mr_hex[65];

/* The policy; kms_mrs is the JSON list body of admitted KMS measurements ("" = none). */
static void write_policy(const char *kms_mrs)
{
	char text[2048];
	int n = snprintf(text, sizeof(text),
			 "{\"gatewayAppId\":\"0xgateway\",\"osImages\":[\"0x" OS_IMAGE "\"],"
			 "\"kms\":{\"mrAggregated\":[%s],\"devices\":[],\"allowAnyDevice\":true},"
			 "\"apps\":{\"0x" APP_A "\":{\"composeHashes\":[\"0x" COMPOSE_OK "\"],\"allowAnyDevice\":true}}}",
			 kms_mrs ? kms_mrs : "");

	assert_true(n > 0 && (size_t)n < sizeof(text));
	kh_write("policy.json", text, (size_t)n);
	usleep(400 * 1000);   /* the registry polls the file every 100 ms */
}

static int setup(void **state)
{
	struct kh_cvm a_tee, b_tee;
	struct kh_kms_opts o = { .name = "kms-a", .dev_root = 1, .collateral = 1 };

	(void)state;
	kh_setup_dir();
	kh_sim_platform();
	write_policy(NULL);
	kh_registry_start(&g_registry, g_registry_url, sizeof(g_registry_url));
	/* Each KMS runs in its own (simulated) CVM; the guest agent would have measured it like this. */
	kh_cvm_open(&a_tee, "kms-a-tee", KMS_APP, KMS_COMPOSE, "a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0", OS_IMAGE);
	kh_cvm_close(&a_tee);
	kh_cvm_open(&b_tee, "kms-b-tee", KMS_APP, KMS_COMPOSE, "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0", OS_IMAGE);
	{
		uint8_t mr[32];

		/* Measured now: once KMS B runs, its TEE state is its own. */
		kh_cvm_mr_aggregated(&b_tee, mr);
		hex_encode(g_b_mr_hex, mr, 32);
	}
	kh_cvm_close(&b_tee);
	memcpy(g_b_tee, b_tee.dir, sizeof(g_b_tee));
	o.registry_url = g_registry_url;
	o.tee_state_dir = a_tee.dir;
	kh_kms_start(&g_a, &o);
	kh_bootstrap(&g_a);
	o.name = "kms-b";
	o.tee_state_dir = g_b_tee;
	kh_kms_start(&g_b, &o);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kh_kms_stop(&g_b);
	kh_kms_stop(&g_a);
	spawn_stop(&g_registry);
	kh_remove_dir();
	return 0;
}

static Dstack__Kms__V1__StatusResponse *status(struct kh_kms *k, struct arena *mem)
{
	ProtobufCMessage empty, *resp;

	protobuf_c_message_init(&google__protobuf__empty__descriptor, &empty);
	assert_int_equal(kh_admin(k, "Status", &empty, &dstack__kms__v1__status_response__descriptor, mem, &resp), ERR_OK);
	return (Dstack__Kms__V1__StatusResponse *)resp;
}

static err_t onboard(struct kh_kms *k, const char *source, struct arena *mem)
{
	Dstack__Kms__V1__OnboardRequest q;
	ProtobufCMessage *resp;

	dstack__kms__v1__onboard_request__init(&q);
	q.source_url = UNCONST(source);
	q.domain = UNCONST("127.0.0.1");
	return kh_admin(k, "Onboard", &q.base, &dstack__kms__v1__onboard_response__descriptor, mem, &resp);
}

static void test_bootstrap_attested(void **state)
{
	struct arena mem;
	Dstack__Kms__V1__StatusResponse *st;

	(void)state;
	arena_init(&mem, 4u << 20, 0);
	st = status(&g_a, &mem);
	assert_int_equal(st->state, DSTACK__KMS__V1__KMS_STATE__KMS_STATE_SERVING);
	assert_int_equal(st->n_epochs, 1);
	/* dstack's bootstrap attestation over the root public keys, from the KMS's own (simulated) TEE. */
	assert_true(st->epochs[0]->attestation.len > 1000);
	assert_true(st->dev);
	arena_fini(&mem);
}


/* Search a process's readable memory for `needle`: 1 found, 0 not found, -1 cannot read it. */
static int mem_contains(pid_t pid, const uint8_t *needle, size_t n)
{
	char path[64], line[512];
	FILE *maps;
	int fd, found = 0, readable = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if (!(maps = fopen(path, "r")))
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY);
	while (fd >= 0 && !found && fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perms[8];
		uint8_t *buf;

		if (!parse_map(line, &lo, &hi, perms) || perms[0] != 'r' || strstr(line, "[vvar]") || hi - lo > (512ul << 20))
			continue;
		if (!(buf = malloc(hi - lo)))
			continue;
		if (pread(fd, buf, hi - lo, (off_t)lo) == (ssize_t)(hi - lo)) {
			readable = 1;
			for (size_t i = 0; i + n <= hi - lo && !found; i++)
				found = memcmp(buf + i, needle, n) == 0;
		}
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	fclose(maps);
	return found ? 1 : readable ? 0 : -1;
}

/* The key holder: the one child of the KMS process. */
static pid_t child_of(pid_t parent)
{
	char path[64], buf[64];
	FILE *f;
	pid_t child = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)parent, (int)parent);
	if ((f = fopen(path, "r"))) {
		if (fgets(buf, sizeof(buf), f))
			child = (pid_t)strtol(buf, NULL, 10);
		fclose(f);
	}
	return child;
}

/*
 * Privilege separation: after serving key releases, the network-facing
 * process's memory does not contain the root keys; the key holder's does
 * (which shows the search works, where this test may read that process).
 */
static void test_root_keys_only_in_key_holder(void **state)
{
	struct kh_cvm app;
	struct kms_client_result r;
	struct kms_sealer sealer;
	kms_sealed_state *sealed;
	struct arena mem, smem;
	char astate[512];
	const char *detail = NULL;
	uint8_t ca[32], k256[32];
	pid_t kh;
	int in_kh;

	(void)state;
	arena_init(&mem, 16u << 20, 0);
	kh_cvm_open(&app, "app-mem", APP_A, COMPOSE_OK, "7777777777777777777777777777777777777777", OS_IMAGE);
	for (int i = 0; i < 3; i++)
		assert_int_equal(kh_get_keys(&g_a, &app, &mem, &r), ERR_OK);
	kh_cvm_close(&app);
	kh_path(astate, sizeof(astate), "kms-a-state");
	assert_int_equal(kms_sealer_open("sim", astate, &sealer, &detail), ERR_OK);
	arena_init(&smem, 8u << 20, 0);
	smem.wipe = 1;
	assert_int_equal(kms_store_load(astate, &sealer, &smem, &sealed, &detail), ERR_OK);
	memcpy(ca, sealed->epochs[0]->ca_key.data, 32);
	memcpy(k256, sealed->epochs[0]->k256_key.data, 32);
	arena_fini(&smem);
	kms_sealer_close(&sealer);

	assert_int_equal(mem_contains(g_a.proc.pid, ca, 32), 0);
	assert_int_equal(mem_contains(g_a.proc.pid, k256, 32), 0);
	kh = child_of(g_a.proc.pid);
	assert_true(kh > 0);
	in_kh = mem_contains(kh, k256, 32);
	if (in_kh < 0)
		fprintf(stderr, "note: the key holder is not readable here (not dumpable; needs CAP_SYS_PTRACE)\n");
	else
		assert_int_equal(in_kh, 1);
	secure_wipe(ca, sizeof(ca));
	secure_wipe(k256, sizeof(k256));
	arena_fini(&mem);
}

static void test_onboarding(void **state)
{
	struct kh_cvm app;
	struct kms_client_result ra, rb;
	Dstack__Kms__V1__ListOnboardingsRequest lq;
	Dstack__Kms__V1__ListOnboardingsResponse *list;
	ProtobufCMessage *resp;
	struct arena mem;

	(void)state;
	arena_init(&mem, 16u << 20, 0);
	mem.wipe = 1;
	/* The registry lists no KMS measurement yet: the source refuses the newcomer. */
	assert_int_not_equal(onboard(&g_b, g_a.url, &mem), ERR_OK);
	assert_int_equal(status(&g_b, &mem)->state, DSTACK__KMS__V1__KMS_STATE__KMS_STATE_UNINITIALIZED);
	dstack__kms__v1__list_onboardings_request__init(&lq);
	assert_int_equal(kh_admin(&g_a, "ListOnboardings", &lq.base, &dstack__kms__v1__list_onboardings_response__descriptor,
				  &mem, &resp),
			 ERR_OK);
	list = (Dstack__Kms__V1__ListOnboardingsResponse *)resp;
	assert_int_equal(list->n_records, 1);
	assert_int_equal(list->records[0]->direction, DSTACK__KMS__V1__ONBOARDING_DIRECTION__ONBOARDING_DIRECTION_OUTBOUND);
	assert_false(list->records[0]->ok);
	assert_false(list->records[0]->registry_allowed);
	assert_string_equal(list->records[0]->registry_reason, "aggregated MR not allowed");
	assert_int_equal(list->records[0]->peer_app_id.len, 20);

	/* Governance admits the newcomer's measurement: onboarding succeeds. */
	{
		char mrs[100];

		snprintf(mrs, sizeof(mrs), "\"0x%s\"", g_b_mr_hex);
		write_policy(mrs);
	}
	assert_int_equal(onboard(&g_b, g_a.url, &mem), ERR_OK);
	assert_memory_equal(status(&g_b, &mem)->k256_pubkey.data, status(&g_a, &mem)->k256_pubkey.data, 33);
	/* Onboarding twice is refused: it would replace root keys. */
	assert_int_equal(onboard(&g_b, g_a.url, &mem), ERR_EXISTS);

	/* Both nodes derive the same keys for the same app instance. */
	kh_cvm_open(&app, "app-1", APP_A, COMPOSE_OK, "1111111111111111111111111111111111111111", OS_IMAGE);
	assert_int_equal(kh_get_keys(&g_a, &app, &mem, &ra), ERR_OK);
	assert_int_equal(kh_get_keys(&g_b, &app, &mem, &rb), ERR_OK);
	assert_memory_equal(ra.app_keys->disk_crypt_key.data, rb.app_keys->disk_crypt_key.data, 32);
	assert_memory_equal(ra.app_keys->k256_key.data, rb.app_keys->k256_key.data, 32);
	assert_memory_equal(ra.app_keys->k256_signature.data, rb.app_keys->k256_signature.data, 65);
	assert_string_equal(ra.app_keys->ca_cert, rb.app_keys->ca_cert);
	kh_cvm_close(&app);

	/* Both sides recorded the movement. */
	assert_int_equal(kh_admin(&g_b, "ListOnboardings", &lq.base, &dstack__kms__v1__list_onboardings_response__descriptor,
				  &mem, &resp),
			 ERR_OK);
	list = (Dstack__Kms__V1__ListOnboardingsResponse *)resp;
	assert_true(list->n_records >= 1);
	assert_true(list->records[0]->ok);
	assert_int_equal(list->records[0]->direction, DSTACK__KMS__V1__ONBOARDING_DIRECTION__ONBOARDING_DIRECTION_INBOUND);
	arena_fini(&mem);
}

static uint32_t wait_epoch(struct kh_kms *k, uint32_t want, struct arena *mem)
{
	uint32_t cur = 0;

	for (int i = 0; i < 100; i++) {
		if ((cur = status(k, mem)->current_epoch) == want)
			break;
		usleep(100 * 1000);
	}
	return cur;
}

static void test_rotation_and_retirement(void **state)
{
	struct kh_kms_opts o = { .name = "kms-b", .dev_root = 1, .collateral = 1 };
	struct kh_cvm app;
	struct kms_client_result r0, r1, rb;
	Dstack__Kms__V1__RotateEpochRequest rq;
	Dstack__Kms__V1__RetireEpochRequest tq;
	Google__Protobuf__UInt32Value ep;
	ProtobufCMessage *resp;
	struct kms_sealer sealer;
	kms_sealed_state *sealed;
	struct arena mem, smem;
	char bstate[512];
	const char *detail = NULL;

	(void)state;
	arena_init(&mem, 16u << 20, 0);
	mem.wipe = 1;
	/* B becomes a replica that follows A's epochs. */
	assert_int_equal(kh_kms_stop(&g_b), 0);
	o.registry_url = g_registry_url;
	o.tee_state_dir = g_b_tee;
	o.replica_source = g_a.url;
	kh_kms_start(&g_b, &o);

	kh_cvm_open(&app, "app-2", APP_A, COMPOSE_OK, "2222222222222222222222222222222222222222", OS_IMAGE);
	assert_int_equal(kh_get_keys(&g_a, &app, &mem, &r0), ERR_OK);
	assert_int_equal(r0.app_keys->key_epoch, 0);
	assert_int_equal(r0.app_keys->n_previous_epoch_keys, 0);

	dstack__kms__v1__rotate_epoch_request__init(&rq);
	rq.reason = UNCONST("test rotation");
	assert_int_equal(kh_admin(&g_a, "RotateEpoch", &rq.base, &dstack__kms__v1__rotate_epoch_response__descriptor, &mem,
				  &resp),
			 ERR_OK);
	assert_int_equal(((Dstack__Kms__V1__RotateEpochResponse *)resp)->epoch->epoch, 1);
	/* Rotation is refused on the replica. */
	assert_int_equal(kh_admin(&g_b, "RotateEpoch", &rq.base, &dstack__kms__v1__rotate_epoch_response__descriptor, &mem,
				  &resp),
			 ERR_FAILED_PRECONDITION);

	/* New keys under epoch 1; the epoch-0 keys come along as previous keys, unchanged (dstack's derivation). */
	assert_int_equal(kh_get_keys(&g_a, &app, &mem, &r1), ERR_OK);
	assert_int_equal(r1.app_keys->key_epoch, 1);
	assert_memory_not_equal(r1.app_keys->disk_crypt_key.data, r0.app_keys->disk_crypt_key.data, 32);
	assert_int_equal(r1.app_keys->n_previous_epoch_keys, 1);
	assert_int_equal(r1.app_keys->previous_epoch_keys[0]->epoch, 0);
	assert_memory_equal(r1.app_keys->previous_epoch_keys[0]->disk_crypt_key.data, r0.app_keys->disk_crypt_key.data, 32);
	assert_memory_equal(r1.app_keys->previous_epoch_keys[0]->k256_key.data, r0.app_keys->k256_key.data, 32);

	/* The replica picks the new epoch up within its sync interval and derives the same. */
	assert_int_equal(wait_epoch(&g_b, 1, &mem), 1);
	assert_int_equal(kh_get_keys(&g_b, &app, &mem, &rb), ERR_OK);
	assert_int_equal(rb.app_keys->key_epoch, 1);
	assert_memory_equal(rb.app_keys->disk_crypt_key.data, r1.app_keys->disk_crypt_key.data, 32);

	/* The current epoch cannot be retired; epoch 0 can, and then it is gone everywhere. */
	dstack__kms__v1__retire_epoch_request__init(&tq);
	google__protobuf__uint32_value__init(&ep);
	ep.value = 1;
	tq.epoch = &ep;
	assert_int_equal(kh_admin(&g_a, "RetireEpoch", &tq.base, &dstack__kms__v1__retire_epoch_response__descriptor, &mem,
				  &resp),
			 ERR_FAILED_PRECONDITION);
	ep.value = 0;
	tq.reason = UNCONST("forward secrecy test");
	assert_int_equal(kh_admin(&g_a, "RetireEpoch", &tq.base, &dstack__kms__v1__retire_epoch_response__descriptor, &mem,
				  &resp),
			 ERR_OK);
	assert_int_equal(((Dstack__Kms__V1__RetireEpochResponse *)resp)->epoch->state,
			 DSTACK__KMS__V1__EPOCH_STATE__EPOCH_STATE_RETIRED);
	assert_int_equal(kh_get_keys(&g_a, &app, &mem, &r1), ERR_OK);
	assert_int_equal(r1.app_keys->n_previous_epoch_keys, 0);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(kh_get_keys(&g_b, &app, &mem, &rb), ERR_OK);
		if (!rb.app_keys->n_previous_epoch_keys)
			break;
		usleep(100 * 1000);
	}
	assert_int_equal(rb.app_keys->n_previous_epoch_keys, 0);
	/* On disk too: the replica's sealed state has no epoch-0 secret left. */
	assert_int_equal(kh_kms_stop(&g_b), 0);
	kh_path(bstate, sizeof(bstate), "kms-b-state");
	assert_int_equal(kms_sealer_open("sim", bstate, &sealer, &detail), ERR_OK);
	arena_init(&smem, 8u << 20, 0);
	smem.wipe = 1;
	assert_int_equal(kms_store_load(bstate, &sealer, &smem, &sealed, &detail), ERR_OK);
	assert_int_equal(sealed->current_epoch, 1);
	for (size_t i = 0; i < sealed->n_epochs; i++) {
		if (sealed->epochs[i]->epoch != 0)
			continue;
		assert_int_equal(sealed->epochs[i]->state, DSTACK__KMS__V1__EPOCH_STATE__EPOCH_STATE_RETIRED);
		assert_int_equal(sealed->epochs[i]->ca_key.len, 0);
		assert_int_equal(sealed->epochs[i]->k256_key.len, 0);
	}
	arena_fini(&smem);
	kms_sealer_close(&sealer);
	kh_kms_start(&g_b, &o);
	kh_cvm_close(&app);
	arena_fini(&mem);
}


/* Run the dstack-kms CLI; returns its exit code. */
static int cli(const char *fmt, ...) PRINTF_LIKE(1, 2);
static int cli(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int n, rc;

	n = snprintf(cmd, sizeof(cmd), "'%s' ", DS_KMS_BIN);
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void read_line(const char *name, char *out, size_t cap)
{
	char path[512];
	FILE *f;

	kh_path(path, sizeof(path), name);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(out, (int)cap, f));
	out[strcspn(out, "\n")] = 0;
	fclose(f);
}

/* Custodians hold 2-of-3 shares; a fresh, admitted KMS recovers the root from any two, not from one. */
static void test_threshold_recovery(void **state)
{
	struct kh_kms_opts o = { .name = "kms-c", .dev_root = 1, .collateral = 1 };
	struct kh_kms c;
	struct kh_cvm c_tee, app;
	struct kms_client_result ra, rc;
	ProtobufCMessage empty, *resp;
	Dstack__Kms__V1__GetRecoveryKeyResponse *rk;
	struct arena mem;
	char pub[3][80], rkhex[65], list[300], c_mr[65], dir[512], shares[512];
	uint8_t mr[32];

	(void)state;
	arena_init(&mem, 16u << 20, 0);
	mem.wipe = 1;
	kh_path(dir, sizeof(dir), "");
	/* Custodian keys, made where the custodians are (here: the test). */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cli("custodian keygen --out '%s/cust%d.key' > '%s/cust%d.pub'", dir, i, dir, i), 0);
		snprintf(list, sizeof(list), "cust%d.pub", i);
		read_line(list, pub[i], sizeof(pub[i]));
		assert_int_equal(strlen(pub[i]), 64);
	}
	kh_path(shares, sizeof(shares), "shares");
	assert_int_equal(mkdir(shares, 0700), 0);
	assert_int_equal(cli("export-shares --admin 'unix://%s' --threshold 2 --custodian alice=%s --custodian bob=%s "
			     "--custodian carol=%s --out '%s' --reason drill > /dev/null",
			     g_a.admin_sock, pub[0], pub[1], pub[2], shares),
			 0);

	/* A fresh KMS in its own (simulated) CVM, admitted by governance. */
	kh_cvm_open(&c_tee, "kms-c-tee", KMS_APP, KMS_COMPOSE, "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0", OS_IMAGE);
	kh_cvm_mr_aggregated(&c_tee, mr);
	kh_cvm_close(&c_tee);
	hex_encode(c_mr, mr, 32);
	snprintf(list, sizeof(list), "\"0x%s\",\"0x%s\"", g_b_mr_hex, c_mr);
	write_policy(list);
	o.registry_url = g_registry_url;
	o.tee_state_dir = c_tee.dir;
	kh_kms_start(&c, &o);
	protobuf_c_message_init(&google__protobuf__empty__descriptor, &empty);
	assert_int_equal(kh_admin(&c, "GetRecoveryKey", &empty, &dstack__kms__v1__get_recovery_key_response__descriptor,
				  &mem, &resp),
			 ERR_OK);
	rk = (Dstack__Kms__V1__GetRecoveryKeyResponse *)resp;
	assert_int_equal(rk->public_key.len, 32);
	assert_true(rk->attestation.len > 1000);   /* the key is bound to C's evidence */
	hex_encode(rkhex, rk->public_key.data, 32);

	/* Custodians re-encrypt their shares to C's recovery key. */
	assert_int_equal(cli("custodian reencrypt --key '%s/cust0.key' --share '%s/share-1-alice.json' --to %s "
			     "--out '%s/r1.json'", dir, shares, rkhex, shares),
			 0);
	/* Bob cannot open Alice's share. */
	assert_int_equal(cli("custodian reencrypt --key '%s/cust1.key' --share '%s/share-1-alice.json' --to %s "
			     "--out '%s/bad.json' 2>/dev/null", dir, shares, rkhex, shares),
			 1);
	assert_int_equal(cli("recover --admin 'unix://%s' --set '%s' --share '%s/r1.json' 2>/dev/null > /dev/null",
			     c.admin_sock, shares, shares),
			 1);
	assert_int_equal(status(&c, &mem)->state, DSTACK__KMS__V1__KMS_STATE__KMS_STATE_UNINITIALIZED);
	assert_int_equal(cli("custodian reencrypt --key '%s/cust2.key' --share '%s/share-3-carol.json' --to %s "
			     "--out '%s/r3.json'", dir, shares, rkhex, shares),
			 0);
	assert_int_equal(cli("recover --admin 'unix://%s' --set '%s' --share '%s/r1.json' --share '%s/r3.json' "
			     "--domain 127.0.0.1 > /dev/null", c.admin_sock, shares, shares, shares),
			 0);
	assert_memory_equal(status(&c, &mem)->k256_pubkey.data, status(&g_a, &mem)->k256_pubkey.data, 33);
	assert_int_equal(status(&c, &mem)->current_epoch, status(&g_a, &mem)->current_epoch);

	/* The recovered KMS derives what the original does. */
	kh_cvm_open(&app, "app-3", APP_A, COMPOSE_OK, "3333333333333333333333333333333333333333", OS_IMAGE);
	assert_int_equal(kh_get_keys(&g_a, &app, &mem, &ra), ERR_OK);
	assert_int_equal(kh_get_keys(&c, &app, &mem, &rc), ERR_OK);
	assert_memory_equal(ra.app_keys->disk_crypt_key.data, rc.app_keys->disk_crypt_key.data, 32);
	assert_memory_equal(ra.app_keys->k256_key.data, rc.app_keys->k256_key.data, 32);
	kh_cvm_close(&app);
	assert_int_equal(kh_kms_stop(&c), 0);
	arena_fini(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bootstrap_attested),
		/* Before any onboarding: GetKmsKey does move root keys through the network process. */
		cmocka_unit_test(test_root_keys_only_in_key_holder),
		cmocka_unit_test(test_onboarding),
		cmocka_unit_test(test_rotation_and_retirement),
		cmocka_unit_test(test_threshold_recovery),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
