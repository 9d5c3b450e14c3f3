/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest agent end to end on loopback with the KMS harness: a registry
 * (policy file), a bootstrapped KMS, and dstack-guest-agent processes on the
 * sim TEE. Boot gets the keys over mutual RA-TLS, the app the agent launches
 * reads its key (curl on the agent's socket) and its decrypted env; then a
 * changed compose (new compose hash) is denied by the registry and the boot
 * stops with the reason and no keys; a tampered .encrypted-env and an
 * unreachable KMS stop the boot too, before system-ready.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "dstack/guest/v1/guest.pb-c.h"
#include "dstack_keys.h"
#include "enc.h"
#include "eventlog.h"
#include "file.h"
#include "json.h"
#include "kms_harness.h"
#include "rpc_client.h"

#define APP_ID "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define OS_IMAGE "0505050505050505050505050505050505050505050505050505050505050505"

static struct spawned g_registry, g_agent;
static struct kh_kms g_kms;
static char g_registry_url[300];
static uint8_t g_root_k256[K256_PUB_LEN], g_env_pub[32];
static char g_compose[1024];

/* GetMeta and GetAppEnvEncryptPubKey from the KMS (public methods; TLS not verified: test only). */
static void kms_public(void)
{
	struct rpc_client_opts o = { .base_url = g_kms.url, .wire = RPC_WIRE_GRPC, .timeout_ms = 10000 };
	Dstack__Kms__V1__AppId q;
	ProtobufCMessage empty;
	struct rpc_result res;
	struct arena mem;
	uint8_t app[20];

	o.tls.insecure_skip_verify = 1;
	arena_init(&mem, 1u << 20, 0);
	protobuf_c_message_init(&google__protobuf__empty__descriptor, &empty);
	assert_int_equal(rpc_call_sync(&o, "/dstack.kms.v1.Kms/GetMeta", &empty, &dstack__kms__v1__get_meta_response__descriptor,
				       NULL, &mem, &res),
			 ERR_OK);
	assert_int_equal(((Dstack__Kms__V1__GetMetaResponse *)res.resp)->k256_pubkey.len, K256_PUB_LEN);
	memcpy(g_root_k256, ((Dstack__Kms__V1__GetMetaResponse *)res.resp)->k256_pubkey.data, K256_PUB_LEN);
	kh_unhex(APP_ID, app, 20);
	dstack__kms__v1__app_id__init(&q);
	q.app_id = (ProtobufCBinaryData){ 20, app };
	assert_int_equal(rpc_call_sync(&o, "/dstack.kms.v1.Kms/GetAppEnvEncryptPubKey", &q.base,
				       &dstack__kms__v1__public_key_response__descriptor, NULL, &mem, &res),
			 ERR_OK);
	assert_int_equal(((Dstack__Kms__V1__PublicKeyResponse *)res.resp)->public_key.len, 32);
	memcpy(g_env_pub, ((Dstack__Kms__V1__PublicKeyResponse *)res.resp)->public_key.data, 32);
	arena_fini(&mem);
}

static void write_policy(const char *hash1, const char *hash2)
{
	char text[2048];
	int n = snprintf(text, sizeof(text),
			 "{\"gatewayAppId\":\"any\",\"osImages\":[\"0x" OS_IMAGE "\"],"
			 "\"kms\":{\"mrAggregated\":[],\"devices\":[],\"allowAnyDevice\":true},"
			 "\"apps\":{\"0x" APP_ID "\":{\"composeHashes\":[\"0x%s\"%s%s%s],\"allowAnyDevice\":true}}}",
			 hash1, hash2 ? ",\"0x" : "", hash2 ? hash2 : "", hash2 ? "\"" : "");

	assert_true(n > 0 && (size_t)n < sizeof(text));
	kh_write("policy.json", text, (size_t)n);
}

static void compose_hash_hex(const char *compose, char out[65])
{
	uint8_t h[32];

	sha256(compose, strlen(compose), h);
	hex_encode(out, h, 32);
}

/* A CVM's host-shared dir <name>-shared: compose, sys-config, instance info, encrypted env (FOO, BAZ). */
static void make_shared(const char *name, const char *compose, const char *kms_url)
{
	char dir[512], rel[600], text[2048], env[256];
	uint8_t blob[512];
	size_t blen = 0;
	int n;

	snprintf(rel, sizeof(rel), "%s-shared", name);
	kh_path(dir, sizeof(dir), rel);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(rel, sizeof(rel), "%s-shared/app-compose.json", name);
	kh_write(rel, compose, strlen(compose));
	snprintf(rel, sizeof(rel), "%s-shared/.instance_info", name);
	kh_write(rel, "{\"app_id\":\"" APP_ID "\"}", strlen("{\"app_id\":\"" APP_ID "\"}"));
	n = snprintf(text, sizeof(text), "{\"kms_urls\":[\"%s\"],\"vm_config\":\"{\\\"os_image_hash\\\":\\\"" OS_IMAGE "\\\"}\"}",
		     kms_url);
	snprintf(rel, sizeof(rel), "%s-shared/.sys-config.json", name);
	kh_write(rel, text, (size_t)n);
	n = snprintf(env, sizeof(env), "{\"env\":[{\"key\":\"FOO\",\"value\":\"secret value\"},{\"key\":\"BAZ\",\"value\":\"no\"}]}");
	assert_int_equal(dstack_env_encrypt(g_env_pub, env, (size_t)n, blob, sizeof(blob), &blen), ERR_OK);
	snprintf(rel, sizeof(rel), "%s-shared/.encrypted-env", name);
	kh_write(rel, blob, blen);
}

/* The agent's config for CVM <name>: its own TEE state, its shared dir, its sockets. */
static void make_conf(const char *name, const char *extra, char *conf_path, size_t cap)
{
	char state[512], shared[512], sock[512], rel[600], text[4096];
	int n;

	snprintf(rel, sizeof(rel), "%s-tee", name);
	kh_path(state, sizeof(state), rel);
	assert_int_equal(mkdir(state, 0700), 0);
	snprintf(rel, sizeof(rel), "%s-shared", name);
	kh_path(shared, sizeof(shared), rel);
	snprintf(rel, sizeof(rel), "%s.sock", name);
	kh_path(sock, sizeof(sock), rel);
	n = snprintf(text, sizeof(text),
		     "listen = unix://%s\ntee.backend = sim\ntee.state_dir = %s\nboot.host_shared_dir = %s\n"
		     "boot.kms_attempts = 2\nboot.kms_backoff = 200ms\nboot.kms_timeout = 5s\n%s",
		     sock, state, shared, extra ? extra : "");
	assert_true(n > 0 && (size_t)n < sizeof(text));
	snprintf(rel, sizeof(rel), "%s.conf", name);
	kh_write(rel, text, (size_t)n);
	kh_path(conf_path, cap, rel);
}

/* `dstack-guest-agent boot -c conf`: exit status and stdout. */
static int run_boot(const char *conf, char *out, size_t cap)
{
	char *argv[] = { UNCONST(DS_GUEST_AGENT_BIN), UNCONST("boot"), UNCONST("-c"), UNCONST(conf), NULL };
	int fds[2], status = 0;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], out + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = 0;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Names of the runtime events in a CVM's TEE state. */
static void rtmr3_events(const char *name, char *out, size_t cap)
{
	struct tee_config cfg = { .backend = "sim" };
	struct attest_eventlog log;
	struct arena a;
	struct tee *t;
	const char *detail = NULL;
	char dir[512], rel[600], *json = NULL;
	size_t len = 0, k = 0;

	snprintf(rel, sizeof(rel), "%s-tee", name);
	kh_path(dir, sizeof(dir), rel);
	cfg.state_dir = dir;
	assert_int_equal(tee_open(&cfg, &t, &detail), ERR_OK);
	assert_int_equal(tee_event_log_json(t, &json, &len, &detail), ERR_OK);
	arena_init(&a, 16u << 20, 0);
	assert_int_equal(attest_eventlog_parse_json(json, len, &a, &log, &detail), ERR_OK);
	out[0] = 0;
	for (size_t i = 0; i < log.n; i++)
		if (log.events[i].imr == 3)
			k += (size_t)snprintf(out + k, cap - k, "%s%s", k ? "," : "", log.events[i].name);
	arena_fini(&a);
	free(json);
	tee_close(t);
}

static int setup(void **state)
{
	char compose_hash[65], conf[512], app_dir[512], extra[2048];
	char *argv[] = { UNCONST(DS_GUEST_AGENT_BIN), UNCONST("serve"), UNCONST("-c"), conf, NULL };
	struct kh_kms_opts ko = { .name = "kms", .dev_root = 1, .collateral = 1 };
	char run[512];

	(void)state;
	kh_setup_dir();
	kh_sim_platform();
	/* The app: reads its key with curl on the socket the agent gives it, and writes its env. */
	kh_path(app_dir, sizeof(app_dir), "app");
	assert_int_equal(mkdir(app_dir, 0700), 0);
	snprintf(g_compose, sizeof(g_compose),
		 "{\"manifest_version\":2,\"name\":\"e2e-app\",\"runner\":\"bash\",\"kms_enabled\":true,"
		 "\"allowed_envs\":[\"FOO\"],\"bash_script\":\"curl -s --unix-socket \\\"$DSTACK_SIMULATOR_ENDPOINT\\\" "
		 "-X POST http://dstack/GetKey -d '{\\\"path\\\":\\\"app/db\\\",\\\"purpose\\\":\\\"encryption\\\"}' > key.tmp && "
		 "mv key.tmp key.json; printf '%%s|%%s' \\\"$FOO\\\" \\\"${BAZ:-unset}\\\" > env.tmp && mv env.tmp env.txt; "
		 "exec sleep 600\"}");
	compose_hash_hex(g_compose, compose_hash);
	write_policy(compose_hash, NULL);
	kh_registry_start(&g_registry, g_registry_url, sizeof(g_registry_url));
	ko.registry_url = g_registry_url;
	kh_kms_start(&g_kms, &ko);
	kh_bootstrap(&g_kms);
	kms_public();
	make_shared("cvm1", g_compose, g_kms.url);
	snprintf(extra, sizeof(extra), "app.run = true\napp.dir = %s\napp.socket = %s/cvm1.sock\n", app_dir, kh_dir);
	make_conf("cvm1", extra, conf, sizeof(conf));
	kh_path(run, sizeof(run), "cvm1-run");
	assert_int_equal(mkdir(run, 0700), 0);
	assert_int_equal(spawn_server(&g_agent, run, argv), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(spawn_stop(&g_agent), 0);
	assert_int_equal(kh_kms_stop(&g_kms), 0);
	spawn_stop(&g_registry);
	kh_remove_dir();
	return 0;
}

/* GetKey over the agent's socket (gRPC on the unix socket: the protobuf runtime). */
static void get_key(const char *path, const char *purpose, Dstack__Guest__V1__GetKeyResponse **out, struct arena *mem)
{
	struct rpc_client_opts o = { .wire = RPC_WIRE_GRPC, .timeout_ms = 10000 };
	Dstack__Guest__V1__GetKeyArgs q;
	struct rpc_result res;
	char url[600];

	snprintf(url, sizeof(url), "unix://%s/cvm1.sock", kh_dir);
	o.base_url = url;
	dstack__guest__v1__get_key_args__init(&q);
	q.path = UNCONST(path);
	q.purpose = UNCONST(purpose);
	assert_int_equal(rpc_call_sync(&o, "/dstack.guest.v1.DstackGuest/GetKey", &q.base,
				       &dstack__guest__v1__get_key_response__descriptor, NULL, mem, &res),
			 ERR_OK);
	*out = (Dstack__Guest__V1__GetKeyResponse *)res.resp;
}

static void test_boot_gets_keys_and_the_app_reads_its_key(void **state)
{
	Dstack__Guest__V1__GetKeyResponse *k;
	struct arena mem;
	struct buf_writer w;
	struct json_value *root;
	uint8_t pub[K256_PUB_LEN], app[20], key[32];
	char path[512];
	size_t n = 0;

	(void)state;
	arena_init(&mem, 1u << 20, 0);
	get_key("app/db", "encryption", &k, &mem);
	assert_int_equal(k->key.len, 32);
	assert_int_equal(k->n_signature_chain, 2);
	assert_int_equal(k256_pubkey(k->key.data, pub), ERR_OK);
	kh_unhex(APP_ID, app, 20);
	/* The chain ends at the KMS root the KMS itself publishes (GetMeta), not at anything the agent says. */
	assert_int_equal(dstack_verify_key_chain(pub, K256_PUB_LEN, "encryption", 10, app, 20, k->signature_chain[0].data,
						 k->signature_chain[1].data, g_root_k256, NULL),
			 ERR_OK);
	assert_int_equal(dstack_verify_key_chain(pub, K256_PUB_LEN, "signing", 7, app, 20, k->signature_chain[0].data,
						 k->signature_chain[1].data, g_root_k256, NULL),
			 ERR_PROTO_SIGNATURE);
	/* The app the agent launched asked for the same key and saw only its allowed env. */
	kh_path(path, sizeof(path), "app/key.json");
	for (int i = 0; i < 200 && access(path, F_OK) != 0; i++)
		usleep(50000);
	buf_writer_init(&w, 65536);
	assert_int_equal(file_read_all(path, 65536, 0, &w), ERR_OK);
	assert_int_equal(json_parse((const char *)w.p, w.len, NULL, &mem, &root, NULL), ERR_OK);
	assert_int_equal(json_get_hex(root, "key", key, sizeof(key), 32, &n), ERR_OK);
	assert_memory_equal(key, k->key.data, 32);
	buf_writer_free(&w);
	kh_path(path, sizeof(path), "app/env.txt");
	for (int i = 0; i < 100 && access(path, F_OK) != 0; i++)
		usleep(50000);
	buf_writer_init(&w, 4096);
	assert_int_equal(file_read_all(path, 4096, 0, &w), ERR_OK);
	assert_string_equal(buf_cstr(&w), "secret value|unset");
	buf_writer_free(&w);
	arena_fini(&mem);
}

static void test_changed_compose_is_denied(void **state)
{
	char conf[512], out[8192], events[1024], changed[1100];
	int rc;

	(void)state;
	/* The same app, a new compose: a new compose hash the registry has not allowed. */
	snprintf(changed, sizeof(changed), "%s", g_compose);
	memcpy(strstr(changed, "e2e-app"), "e2e-v02", 7);
	make_shared("cvm2", changed, g_kms.url);
	make_conf("cvm2", NULL, conf, sizeof(conf));
	rc = run_boot(conf, out, sizeof(out));
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "\"ok\":false"));
	assert_non_null(strstr(out, "\"error\":\"ERR_POLICY_DENIED\""));
	assert_non_null(strstr(out, "refused the keys"));
	if (!strstr(out, "ompose"))
		fail_msg("the reason does not name the compose hash: %s", out);
	rtmr3_events("cvm2", events, sizeof(events));
	assert_string_equal(events, "system-preparing,app-id,compose-hash,instance-id,boot-mr-done,os-image-hash");
}

static void test_tampered_env_stops_the_boot(void **state)
{
	char conf[512], out[8192], events[1024], path[512];
	struct buf_writer w;

	(void)state;
	make_shared("cvm3", g_compose, g_kms.url);
	kh_path(path, sizeof(path), "cvm3-shared/.encrypted-env");
	buf_writer_init(&w, 65536);
	assert_int_equal(file_read_all(path, 65536, 0, &w), ERR_OK);
	w.p[w.len - 3] ^= 0x04;   /* inside the GCM tag */
	kh_write("cvm3-shared/.encrypted-env", w.p, w.len);
	buf_writer_free(&w);
	make_conf("cvm3", NULL, conf, sizeof(conf));
	assert_int_equal(run_boot(conf, out, sizeof(out)), 1);
	assert_non_null(strstr(out, "\"error\":\"ERR_PROTO_DECRYPT\""));
	assert_non_null(strstr(out, "tampered"));
	rtmr3_events("cvm3", events, sizeof(events));
	/* The keys came, the env did not open: no system-ready. */
	assert_string_equal(events, "system-preparing,app-id,compose-hash,instance-id,boot-mr-done,os-image-hash,key-provider");
}

static void test_kms_unreachable_retries_then_stops(void **state)
{
	char conf[512], out[8192], events[1024];
	uint64_t t0;

	(void)state;
	make_shared("cvm4", g_compose, "https://127.0.0.1:1");
	make_conf("cvm4", NULL, conf, sizeof(conf));
	t0 = mono_ms();
	assert_int_equal(run_boot(conf, out, sizeof(out)), 1);
	assert_true(mono_ms() - t0 >= 200);   /* one backoff between the two rounds */
	assert_non_null(strstr(out, "no KMS answered after 2 attempts"));
	rtmr3_events("cvm4", events, sizeof(events));
	assert_string_equal(events, "system-preparing,app-id,compose-hash,instance-id,boot-mr-done,os-image-hash");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_gets_keys_and_the_app_reads_its_key),
		cmocka_unit_test(test_changed_compose_is_denied),
		cmocka_unit_test(test_tampered_env_stops_the_boot),
		cmocka_unit_test(test_kms_unreachable_retries_then_stops),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
