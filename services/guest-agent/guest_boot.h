/* SPDX-License-Identifier: Apache-2.0 */
/* The measured boot of a CVM: identity from the host-shared files, RTMR3 events in dstack's order, app keys, env, disk. */
#ifndef DS_GUEST_BOOT_H
#define DS_GUEST_BOOT_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "arena.h"
#include "err.h"
#include "guest_compose.h"
#include "guest_env.h"
#include "k256.h"
#include "tee.h"

struct guest_config;

#define GUEST_KP_INFO_MAX 1024
#define GUEST_WHY_MAX 512

/*
 * The app's key material, in memory only (wiped by guest_boot_free). From
 * the KMS (GetAppKey) or, for key provider `none`, derived from a local seed
 * as dstack-util's gen_app_keys_from_seed does.
 */
struct guest_keys {
	enum guest_key_provider provider;
	uint8_t k256_key[K256_SECRET_LEN];        /* the app key: GetKey derives from it */
	uint8_t k256_signature[K256_SIG_LEN];     /* KMS root over the app key; none mode: absent */
	size_t k256_signature_len;                /* 65 or 0 */
	uint8_t k256_root_pub[K256_PUB_LEN];      /* the KMS root k256 key, when the KMS said (field 102) */
	int has_root_pub;
	uint8_t env_crypt_key[32];
	int has_env_key;
	uint8_t disk_crypt_key[32];
	int has_disk_key;
	uint8_t os_image_hash[32];                /* what the KMS verified, when it said */
	int has_os_image_hash;
	char *kms_root_ca_pem;                    /* KMS mode: the root CA the KMS was verified against (arena) */
	char *kms_url;                            /* KMS mode: the KMS that answered (arena) */
	char *gateway_app_id;                     /* KMS mode (arena) */
	/* none mode: the app root CA ("App Root Cert", self-signed, RA-TLS evidence) that issues TLS keys */
	EVP_PKEY *app_ca_key;
	X509 *app_ca_cert;
	char *app_ca_pem;                         /* arena */
};

/* Everything the boot established; lives until the agent exits. */
struct guest_boot {
	struct arena mem;                         /* wiping arena: texts, parsed structs, env values */
	const char *compose_text;                 /* the exact app-compose.json bytes (NUL-terminated copy) */
	size_t compose_len;
	struct guest_compose compose;
	struct guest_sys_config sys;
	struct guest_instance_info ii;
	struct guest_identity id;
	struct guest_keys keys;
	struct guest_envvars env;                    /* the allowed decrypted variables */
	char key_provider_info[GUEST_KP_INFO_MAX];/* {"name":..,"id":..} as measured */
	int resumed;                              /* the events were already in RTMR3 (agent restarted) */
	int disk_opened;                          /* the LUKS data disk is open */
	/* From one quote at the end of the boot, for Info (TDX and sim). */
	int has_td;
	uint8_t mrconfigid[48], mrowner[48], mrownerconfig[48];
	uint8_t device_id[32];
	int has_device_id;
	char why[GUEST_WHY_MAX];                  /* on failure: the reason, for the operator (never secrets) */
};

/*
 * Run the boot (reference 4.4; docs/guest-agent.md): read the host-shared
 * files, compute compose hash / app id / instance id, open the TEE (its
 * event version is the compose's event_log_version), extend RTMR3 with
 * system-preparing, app-id, compose-hash, instance-id, boot-mr-done, then
 * (KMS) os-image-hash, get the keys (KMS over mutual RA-TLS with retries, or
 * the local seed), key-provider, decrypt .encrypted-env, open the data disk,
 * system-ready. When RTMR3 already holds some of these events (the agent
 * restarted in the same boot) each is checked to be exactly what this boot
 * would measure and not extended again; anything else is refused.
 * On success *tee is the open backend (the caller's, tee_close) and `out`
 * holds the results (guest_boot_free). On failure nothing is kept: no keys,
 * no decrypted env, *tee NULL; out->why says what happened in words.
 * Errors: ERR_NOT_FOUND (app-compose.json), the parsers', ERR_UNIMPLEMENTED
 * (key providers local / tpm), ERR_CONFIG (KMS mode without a KMS URL),
 * ERR_POLICY_DENIED (the KMS / registry refused: no retry), the transport
 * errors of the last KMS attempt, ERR_PROTO_DECRYPT (tampered env),
 * ERR_FAILED_PRECONDITION (RTMR3 holds another boot; encrypted env without
 * an env key; key_provider_id pin mismatch), ERR_IO_FILE (cryptsetup), and
 * lib/tee's.
 */
err_t guest_boot_run(const struct guest_config *cfg, struct guest_boot *out, struct tee **tee) MUST_CHECK;

/* Wipe and free. A zeroed struct is fine. */
void guest_boot_free(struct guest_boot *b);

#endif
