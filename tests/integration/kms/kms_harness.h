/* SPDX-License-Identifier: Apache-2.0 */
/* Test harness for the KMS on loopback: a registry with a policy file, KMS nodes, simulated CVMs (lib/tee sim). */
#ifndef DS_KMS_HARNESS_H
#define DS_KMS_HARNESS_H

#include <protobuf-c/protobuf-c.h>

#include "arena.h"
#include "err.h"
#include "fixture_server.h"
#include "kms_client.h"
#include "tee.h"

/* The temp directory of the whole test (created by kh_setup_dir). */
extern char kh_dir[];

void kh_setup_dir(void);
void kh_remove_dir(void);
void kh_path(char *out, size_t cap, const char *name);
/* Write `name` in kh_dir atomically (temp file + rename), so a polling reader never sees half of it. */
void kh_write(const char *name, const void *p, size_t n);
void kh_unhex(const char *h, uint8_t *out, size_t n);

/* Collateral and dev root of the simulated platform: kh_dir/collateral.json and kh_dir/dev-root.der. */
void kh_sim_platform(void);

/* A simulated CVM: TEE state in kh_dir/<name> with dstack's boot-time runtime events. */
struct kh_cvm {
	struct tee *tee;
	char dir[512];
};
void kh_cvm_open(struct kh_cvm *c, const char *name, const char *app_id_hex, const char *compose_hex,
		 const char *instance_hex, const char *os_image_hex);
void kh_cvm_close(struct kh_cvm *c);
/* mr_aggregated (32 bytes) of the CVM, as a verifier computes it from its evidence. */
void kh_cvm_mr_aggregated(struct kh_cvm *c, uint8_t out[32]);

/* dstack-attest in offline mode serving the sim platform's collateral (kh_dir/offline). */
void kh_attest_start(struct spawned *s, char *url, size_t cap);

/* A registry serving kh_dir/policy.json (polled every 100 ms). */
void kh_registry_start(struct spawned *s, char *url, size_t cap);

struct kh_kms_opts {
	const char *name;            /* state in kh_dir/<name>-state, admin socket kh_dir/<name>.sock */
	const char *registry_url;
	int dev_root, collateral;    /* trust the sim root / load the sim collateral */
	const char *tee_state_dir;   /* tee.backend = sim with this state dir, or NULL */
	const char *replica_source;  /* replica.source_url, or NULL */
	const char *attest_url;      /* attest.url, or NULL */
};
struct kh_kms {
	struct spawned proc;
	char url[300];               /* https://127.0.0.1:port */
	char admin_sock[300];
};
void kh_kms_start(struct kh_kms *k, const struct kh_kms_opts *o);
int kh_kms_stop(struct kh_kms *k);
/* A KmsAdmin call over the admin socket; the response in mem. */
err_t kh_admin(struct kh_kms *k, const char *method, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *rd,
	       struct arena *mem, ProtobufCMessage **resp);
/* Bootstrap with domain 127.0.0.1. */
void kh_bootstrap(struct kh_kms *k);
/* GetAppKey from `k` for a CVM. */
err_t kh_get_keys(struct kh_kms *k, struct kh_cvm *c, struct arena *mem, struct kms_client_result *res);

#endif
