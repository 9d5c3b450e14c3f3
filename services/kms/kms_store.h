/* SPDX-License-Identifier: Apache-2.0 */
/* The KMS's sealed root-key state on disk: one file, AES-256-GCM under the key provider's key, replaced atomically. */
#ifndef DS_KMS_STORE_H
#define DS_KMS_STORE_H

#include <openssl/x509.h>

#include "arena.h"
#include "dstack/kms/internal/v1/keyholder.pb-c.h"
#include "err.h"

typedef Dstack__Kms__Internal__V1__SealedState kms_sealed_state;
typedef Dstack__Kms__Internal__V1__RootEpoch kms_root_epoch;

#define KMS_SEAL_KEY_LEN 32
/* The sealed file and the simulated provider's key file, inside state_dir. */
#define KMS_STORE_FILE "root-keys.sealed"
#define KMS_SIM_SEAL_KEY_FILE "SIMULATED-seal.key"
/* Upper bound of a sealed file: many epochs with certificates and attestations. */
#define KMS_STORE_MAX (4u << 20)

/*
 * Where the sealing key comes from. Only "sim" exists so far: a random key in
 * a 0600 file next to the state, which protects nothing against whoever can
 * read the disk. It is a SIMULATION of a TEE sealing key (the name says so
 * and every status reports it); a real provider derives the key inside the
 * TEE (the guest agent's key provider).
 */
struct kms_sealer {
	char provider[16];
	int simulated;
	uint8_t key[KMS_SEAL_KEY_LEN];
};

/*
 * Open the provider named `provider` for state in `state_dir` (created 0700
 * when missing). "" means no provider: ERR_CONFIG, so nothing is ever stored
 * unsealed. *detail is static text on failure.
 */
err_t kms_sealer_open(const char *provider, const char *state_dir, struct kms_sealer *s,
		      const char **detail) MUST_CHECK;
/* Wipe the key. */
void kms_sealer_close(struct kms_sealer *s);

/*
 * Load and unseal `state_dir`/root-keys.sealed into `mem` (which should wipe:
 * the state holds secrets). ERR_NOT_FOUND when there is no state yet;
 * ERR_CRYPTO when the file does not authenticate under this key (tampered,
 * truncated or another node's), ERR_PROTO_* when it is malformed after
 * authentication, ERR_CONFIG_PERMS when the file is not private.
 */
err_t kms_store_load(const char *state_dir, const struct kms_sealer *s, struct arena *mem, kms_sealed_state **out,
		     const char **detail) MUST_CHECK;

/*
 * Seal `st` and replace the state file atomically (write, fsync, rename,
 * fsync the directory): a crash at any point leaves the old state or the new
 * one. st->generation must be greater than the stored one's (the caller
 * increments it); a fresh nonce is drawn for every write.
 */
err_t kms_store_save(const char *state_dir, const struct kms_sealer *s, const kms_sealed_state *st,
		     const char **detail) MUST_CHECK;

/* Certificates are stored and passed around as DER. Parse one (the whole input, nothing after it), or NULL. */
X509 *kms_cert_from_der(const ProtobufCBinaryData *der);
/* Its PEM text in `mem`, or NULL. */
char *kms_cert_pem(struct arena *mem, const ProtobufCBinaryData *der);

#endif
