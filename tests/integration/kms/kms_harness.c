/* SPDX-License-Identifier: Apache-2.0 */
/* Test harness for the KMS on loopback: a registry with a policy file, KMS nodes, simulated CVMs (lib/tee sim). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enc.h"
#include "file.h"
#include "kms_harness.h"
#include "ratls.h"
#include "rpc_client.h"

char kh_dir[] = "/tmp/ds-kms-test-XXXXXX";

void kh_setup_dir(void)
{
	assert_non_null(mkdtemp(kh_dir));
}

void kh_remove_dir(void)
{
	char cmd[600];

	if (getenv("DS_KEEP_TMP"))
		return;
	assert_true(snprintf(cmd, sizeof(cmd), "rm -rf '%s'", kh_dir) > 0);
	assert_int_equal(system(cmd), 0);
}

void kh_path(char *out, size_t cap, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", kh_dir, name);

	assert_true(n > 0 && (size_t)n < cap);
}

void kh_write(const char *name, const void *p, size_t n)
{
	char path[512];

	kh_path(path, sizeof(path), name);
	assert_int_equal(file_write_atomic(path, p, n, 0600), ERR_OK);
}

void kh_unhex(const char *h, uint8_t *out, size_t n)
{
	assert_int_equal(strlen(h), 2 * n);
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(hex_digit_value(h[2 * i]) << 4 | hex_digit_value(h[2 * i + 1]));
}

void kh_sim_platform(void)
{
	struct tee_config cfg = { .backend = "sim" };
	struct tee *t;
	const char *detail = NULL;
	const uint8_t *der;
	char dir[512], *coll;
	size_t len;

	kh_path(dir, sizeof(dir), "platform");
	assert_int_equal(mkdir(dir, 0700), 0);
	cfg.state_dir = dir;
	assert_int_equal(tee_open(&cfg, &t, &detail), ERR_OK);
	assert_int_equal(tee_sim_collateral_json(t, wall_s(), &coll, &len), ERR_OK);
	kh_write("collateral.json", coll, len);
	free(coll);
	assert_int_equal(tee_sim_dev_root_der(t, &der, &len), ERR_OK);
	kh_write("dev-root.der", der, len);
	tee_close(t);
}

void kh_cvm_open(struct kh_cvm *c, const char *name, const char *app_id_hex, const char *compose_hex,
		 const char *instance_hex, const char *os_image_hex)
{
	uint8_t app[20], ch[32], inst[20], os[32];
	static const char kp[] = "{\"name\":\"kms\",\"id\":\"\"}";
	struct tee_config cfg = { .backend = "sim" };
	const char *detail = NULL;

	kh_path(c->dir, sizeof(c->dir), name);
	assert_int_equal(mkdir(c->dir, 0700), 0);
	cfg.state_dir = c->dir;
	assert_int_equal(tee_open(&cfg, &c->tee, &detail), ERR_OK);
	kh_unhex(app_id_hex, app, sizeof(app));
	kh_unhex(compose_hex, ch, sizeof(ch));
	kh_unhex(instance_hex, inst, sizeof(inst));
	kh_unhex(os_image_hex, os, sizeof(os));
	assert_int_equal(tee_extend_runtime_event(c->tee, "system-preparing", NULL, 0, &detail), ERR_OK);
	assert_int_equal(tee_extend_runtime_event(c->tee, "app-id", app, sizeof(app), &detail), ERR_OK);
	assert_int_equal(tee_extend_runtime_event(c->tee, "compose-hash", ch, sizeof(ch), &detail), ERR_OK);
	assert_int_equal(tee_extend_runtime_event(c->tee, "instance-id", inst, sizeof(inst), &detail), ERR_OK);
	assert_int_equal(tee_extend_runtime_event(c->tee, "boot-mr-done", NULL, 0, &detail), ERR_OK);
	assert_int_equal(tee_extend_runtime_event(c->tee, "os-image-hash", os, sizeof(os), &detail), ERR_OK);
	assert_int_equal(tee_extend_runtime_event(c->tee, "key-provider", (const uint8_t *)kp, sizeof(kp) - 1, &detail),
			 ERR_OK);
}

void kh_cvm_close(struct kh_cvm *c)
{
	tee_close(c->tee);
	c->tee = NULL;
}

void kh_cvm_mr_aggregated(struct kh_cvm *c, uint8_t out[32])
{
	struct ratls_cert_params p = { .cn = "probe", .not_after = wall_s() + 600 };
	struct ratls_verifier_config vc;
	struct ratls_coll_store *coll = ratls_coll_store_new();
	struct ratls_verifier *v;
	const struct ratls_verdict *vd;
	struct attest_trust trust;
	struct buf_writer w;
	const char *detail = NULL;
	char root[512], cpath[512];
	EVP_PKEY *key = ratls_key_new();
	X509 *x = NULL;

	kh_path(root, sizeof(root), "dev-root.der");
	kh_path(cpath, sizeof(cpath), "collateral.json");
	assert_int_equal(attest_trust_load(&trust, root, NULL, &detail), ERR_OK);
	buf_writer_init(&w, 4u << 20);
	assert_int_equal(file_read_all(cpath, 4u << 20, 0, &w), ERR_OK);
	assert_int_equal(ratls_coll_store_put(coll, (const char *)w.p, w.len, &trust, &detail), ERR_OK);
	buf_writer_free(&w);
	memset(&vc, 0, sizeof(vc));
	vc.trust = trust;
	vc.get_collateral = ratls_coll_store_get;
	vc.collateral_arg = coll;
	assert_non_null(v = ratls_verifier_new(&vc));
	assert_int_equal(ratls_cert_new_attested(&p, key, ratls_tee_quote, c->tee, NULL, key, &x, &detail), ERR_OK);
	assert_int_equal(ratls_verify_cert(v, x, wall_s(), &vd, NULL), ERR_OK);
	memcpy(out, vd->claims.mr_aggregated, 32);
	ratls_verdict_unref(vd);
	ratls_verifier_free(v);
	ratls_coll_store_free(coll);
	attest_trust_free(&trust);
	X509_free(x);
	EVP_PKEY_free(key);
}

void kh_attest_start(struct spawned *s, char *url, size_t cap)
{
	char conf[512], dir[512], run[512], root[512], src[512], text[1200];
	char *argv[] = { UNCONST(DS_ATTEST_BIN), UNCONST("serve"), UNCONST("-c"), conf, NULL };
	struct buf_writer w;
	int n;

	kh_path(dir, sizeof(dir), "offline");
	kh_path(run, sizeof(run), "attest-run");
	kh_path(conf, sizeof(conf), "attest.conf");
	kh_path(root, sizeof(root), "dev-root.der");
	kh_path(src, sizeof(src), "collateral.json");
	(void)mkdir(dir, 0700);
	(void)mkdir(run, 0700);
	buf_writer_init(&w, 4u << 20);
	assert_int_equal(file_read_all(src, 4u << 20, 0, &w), ERR_OK);
	kh_write("offline/collateral.json", w.p, w.len);
	buf_writer_free(&w);
	n = snprintf(text, sizeof(text),
		     "listen = tcp://127.0.0.1:0\ncollateral.mode = offline\ncollateral.dir = %s\n"
		     "collateral.cache_dir = %s/cache\ntrust.dev_root = %s\n", dir, run, root);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	kh_write("attest.conf", text, (size_t)n);
	assert_int_equal(spawn_server(s, run, argv), 0);
	assert_true(snprintf(url, cap, "http://%s", s->lines[0] + strlen("tcp://")) > 0);
}

void kh_registry_start(struct spawned *s, char *url, size_t cap)
{
	char conf[512], policy[512], text[1200], dir[512];
	char *argv[] = { UNCONST(DS_REGISTRY_BIN), UNCONST("serve"), UNCONST("-c"), conf, NULL };
	int n;

	kh_path(policy, sizeof(policy), "policy.json");
	kh_path(conf, sizeof(conf), "registry.conf");
	kh_path(dir, sizeof(dir), "registry-run");
	(void)mkdir(dir, 0700);
	n = snprintf(text, sizeof(text), "listen = tcp://127.0.0.1:0\npolicy_file = %s\npolicy_poll_interval = 100ms\n",
		     policy);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	kh_write("registry.conf", text, (size_t)n);
	assert_int_equal(spawn_server(s, dir, argv), 0);
	assert_true(snprintf(url, cap, "http://%s", s->lines[0] + strlen("tcp://")) > 0);
}

void kh_kms_start(struct kh_kms *k, const struct kh_kms_opts *o)
{
	char conf[512], confname[128], state[512], run[512], coll[512], root[512], text[4000];
	char *argv[] = { UNCONST(DS_KMS_BIN), UNCONST("serve"), UNCONST("-c"), conf, NULL };
	char sockname[128];
	int n;

	snprintf(confname, sizeof(confname), "%s.conf", o->name);
	snprintf(sockname, sizeof(sockname), "%s.sock", o->name);
	kh_path(conf, sizeof(conf), confname);
	snprintf(text, sizeof(text), "%s-state", o->name);
	kh_path(state, sizeof(state), text);
	snprintf(text, sizeof(text), "%s-run", o->name);
	kh_path(run, sizeof(run), text);
	(void)mkdir(run, 0700);
	kh_path(coll, sizeof(coll), "collateral.json");
	kh_path(root, sizeof(root), "dev-root.der");
	kh_path(k->admin_sock, sizeof(k->admin_sock), sockname);
	n = snprintf(text, sizeof(text),
		     "listen = tcp://127.0.0.1:0\nlisten = unix://%s\nstate_dir = %s\nseal.provider = sim\n"
		     "registry.url = %s\n%s%s\n%s%s\n%s%s%s\n%s%s%s\nattest.url = %s\n",
		     k->admin_sock, state, o->registry_url, o->dev_root ? "trust.dev_root = " : "", o->dev_root ? root : "",
		     o->collateral ? "collateral.file = " : "", o->collateral ? coll : "",
		     o->tee_state_dir ? "tee.backend = sim\ntee.state_dir = " : "", o->tee_state_dir ? o->tee_state_dir : "",
		     "", o->replica_source ? "replica.source_url = " : "", o->replica_source ? o->replica_source : "",
		     o->replica_source ? "\nreplica.sync_interval = 1s" : "", o->attest_url ? o->attest_url : "");
	assert_true(n > 0 && (size_t)n < sizeof(text));
	kh_write(confname, text, (size_t)n);
	assert_int_equal(spawn_server(&k->proc, run, argv), 0);
	assert_true(snprintf(k->url, sizeof(k->url), "https://%s", k->proc.lines[0] + strlen("tcp://")) > 0);
}

int kh_kms_stop(struct kh_kms *k)
{
	return spawn_stop(&k->proc);
}

err_t kh_admin(struct kh_kms *k, const char *method, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *rd,
	       struct arena *mem, ProtobufCMessage **resp)
{
	char url[400], path[128];
	struct rpc_client_opts o = { .wire = RPC_WIRE_GRPC, .timeout_ms = 30000 };
	struct rpc_result res;
	err_t err;

	assert_true(snprintf(url, sizeof(url), "unix://%s", k->admin_sock) > 0);
	assert_true(snprintf(path, sizeof(path), "/dstack.kms.v1.KmsAdmin/%s", method) > 0);
	o.base_url = url;
	err = rpc_call_sync(&o, path, req, rd, NULL, mem, &res);
	*resp = res.resp;
	if (err != ERR_OK && res.message)
		fprintf(stderr, "KmsAdmin/%s: %s\n", method, res.message);
	return err;
}

void kh_bootstrap(struct kh_kms *k)
{
	Dstack__Kms__V1__BootstrapRequest breq;
	ProtobufCMessage *resp;
	struct arena mem;

	arena_init(&mem, 1u << 20, 0);
	dstack__kms__v1__bootstrap_request__init(&breq);
	breq.domain = UNCONST("127.0.0.1");
	assert_int_equal(kh_admin(k, "Bootstrap", &breq.base, &dstack__kms__v1__bootstrap_response__descriptor, &mem, &resp),
			 ERR_OK);
	arena_fini(&mem);
}

err_t kh_get_keys(struct kh_kms *k, struct kh_cvm *c, struct arena *mem, struct kms_client_result *res)
{
	struct kms_client_opts o = { .url = k->url, .quote = ratls_tee_quote, .quote_arg = c->tee };
	const char *detail = NULL;

	return kms_client_get_app_key(&o, "{}", mem, res, &detail);
}
