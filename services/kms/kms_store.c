/* SPDX-License-Identifier: Apache-2.0 */
/* The KMS's sealed root-key state on disk: one file, AES-256-GCM under the key provider's key, replaced atomically. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "buf.h"
#include "file.h"
#include "kms_store.h"
#include "pbcodec.h"
#include "ratls.h"
#include "x25519.h"

/*
 * File layout (all integers big-endian):
 *   magic "DSKMSRK1" (8) | version u32 (1) | generation u64 | nonce (12) |
 *   AES-256-GCM ciphertext of the SealedState message | tag (16)
 * The 32 header bytes up to and including the nonce are the AAD, so the
 * generation cannot be swapped; it must also equal the message's own.
 */
#define MAGIC "DSKMSRK1"
#define HDR_LEN (8 + 4 + 8 + 12)
#define FILE_VERSION 1u

static err_t path_in(const char *dir, const char *name, struct buf_writer *w, const char **p)
{
	buf_writer_init(w, 4096);
	buf_put_str(w, dir);
	buf_put_u8(w, '/');
	buf_put_str(w, name);
	*p = buf_cstr(w);
	return *p ? ERR_OK : buf_writer_status(w);
}

static err_t ensure_dir(const char *dir, const char **detail)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		*detail = "cannot create state_dir";
		return ERR_IO_FILE;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		*detail = "state_dir is not a directory";
		return ERR_IO_FILE;
	}
	if (st.st_mode & 077) {
		*detail = "state_dir must not be accessible to group or others (chmod 0700)";
		return ERR_CONFIG_PERMS;
	}
	return ERR_OK;
}

/* The simulated provider: a random key created once, in a private file. */
static err_t sim_key(const char *dir, uint8_t key[KMS_SEAL_KEY_LEN], const char **detail)
{
	struct buf_writer pw, kw;
	const char *path;
	err_t err;

	if ((err = path_in(dir, KMS_SIM_SEAL_KEY_FILE, &pw, &path)) != ERR_OK) {
		*detail = "path too long";
		goto out;
	}
	buf_writer_init(&kw, KMS_SEAL_KEY_LEN + 1);
	kw.wipe = 1;
	err = file_read_all(path, KMS_SEAL_KEY_LEN, 1, &kw);
	if (err == ERR_NOT_FOUND) {
		if (RAND_priv_bytes(key, KMS_SEAL_KEY_LEN) != 1) {
			*detail = "no randomness";
			err = ERR_CRYPTO;
		} else if ((err = file_write_atomic(path, key, KMS_SEAL_KEY_LEN, 0600)) != ERR_OK) {
			*detail = "cannot write the simulated sealing key";
		}
	} else if (err != ERR_OK) {
		*detail = err == ERR_CONFIG_PERMS ? "the simulated sealing key file must be mode 0600"
						  : "cannot read the simulated sealing key";
	} else if (kw.len != KMS_SEAL_KEY_LEN) {
		*detail = "the simulated sealing key file is not 32 bytes";
		err = ERR_CONFIG;
	} else {
		memcpy(key, kw.p, KMS_SEAL_KEY_LEN);
	}
	buf_writer_free(&kw);
out:
	buf_writer_free(&pw);
	return err;
}

err_t kms_sealer_open(const char *provider, const char *state_dir, struct kms_sealer *s, const char **detail)
{
	err_t err;

	memset(s, 0, sizeof(*s));
	if (!provider || !*provider) {
		*detail = "no seal.provider configured: root keys would be stored unsealed";
		return ERR_CONFIG;
	}
	if (strcmp(provider, "sim") != 0) {
		*detail = "unknown seal.provider (known: sim)";
		return ERR_CONFIG;
	}
	if ((err = ensure_dir(state_dir, detail)) != ERR_OK)
		return err;
	if ((err = sim_key(state_dir, s->key, detail)) != ERR_OK) {
		kms_sealer_close(s);
		return err;
	}
	memcpy(s->provider, "sim", 4);
	s->simulated = 1;
	return ERR_OK;
}

void kms_sealer_close(struct kms_sealer *s)
{
	secure_wipe(s, sizeof(*s));
}

err_t kms_store_load(const char *state_dir, const struct kms_sealer *s, struct arena *mem, kms_sealed_state **out,
		     const char **detail)
{
	struct buf_writer pw, fw, pt;
	struct buf_reader r;
	const uint8_t *magic, *nonce, *ct;
	uint8_t *dst;
	uint32_t version;
	uint64_t generation;
	const char *path;
	ProtobufCMessage *m;
	size_t ct_len;
	err_t err;

	*out = NULL;
	buf_writer_init(&fw, KMS_STORE_MAX);
	buf_writer_init(&pt, KMS_STORE_MAX);
	pt.wipe = 1;
	if ((err = path_in(state_dir, KMS_STORE_FILE, &pw, &path)) != ERR_OK) {
		*detail = "path too long";
		goto out;
	}
	if ((err = file_read_all(path, KMS_STORE_MAX, 1, &fw)) != ERR_OK) {
		*detail = err == ERR_NOT_FOUND	     ? "no root keys yet"
			  : err == ERR_CONFIG_PERMS ? "the sealed state file must be mode 0600"
						    : "cannot read the sealed state file";
		goto out;
	}
	buf_reader_init(&r, fw.p, fw.len);
	err = ERR_CRYPTO;
	*detail = "sealed state file is truncated or not a KMS state file";
	if (buf_get_view(&r, 8, &magic) != ERR_OK || memcmp(magic, MAGIC, 8) != 0 ||
	    buf_get_u32be(&r, &version) != ERR_OK || buf_get_u64be(&r, &generation) != ERR_OK ||
	    buf_get_view(&r, AES256GCM_IV_LEN, &nonce) != ERR_OK || buf_remaining(&r) < AES256GCM_TAG_LEN)
		goto out;
	if (version != FILE_VERSION) {
		*detail = "sealed state file has an unknown version";
		err = ERR_PROTO_MALFORMED;
		goto out;
	}
	ct = buf_cursor(&r);
	ct_len = buf_remaining(&r);
	if (!(dst = buf_reserve(&pt, ct_len - AES256GCM_TAG_LEN))) {
		err = buf_writer_status(&pt);
		*detail = "sealed state too large";
		goto out;
	}
	if (aes256gcm_open(s->key, nonce, fw.p, HDR_LEN, ct, ct_len, dst) != ERR_OK) {
		*detail = "sealed state does not authenticate (tampered, or sealed by another key)";
		err = ERR_CRYPTO;
		goto out;
	}
	buf_commit(&pt, ct_len - AES256GCM_TAG_LEN);
	if ((err = pb_decode(&dstack__kms__internal__v1__sealed_state__descriptor, pt.p, pt.len, KMS_STORE_MAX, mem,
			     &m)) != ERR_OK) {
		*detail = "sealed state is malformed";
		goto out;
	}
	*out = (kms_sealed_state *)m;
	if ((*out)->version != 1 || (*out)->generation != generation) {
		*out = NULL;
		*detail = "sealed state version or generation does not match its header";
		err = ERR_PROTO_MALFORMED;
	}
out:
	buf_writer_free(&pw);
	buf_writer_free(&fw);
	buf_writer_free(&pt);
	return err;
}

err_t kms_store_save(const char *state_dir, const struct kms_sealer *s, const kms_sealed_state *st,
		     const char **detail)
{
	struct buf_writer pw, pt, fw, hw;
	uint8_t nonce[AES256GCM_IV_LEN], hdr[HDR_LEN], *dst;
	const char *path;
	err_t err;

	buf_writer_init(&pt, KMS_STORE_MAX);
	pt.wipe = 1;
	buf_writer_init(&fw, KMS_STORE_MAX + HDR_LEN + AES256GCM_TAG_LEN);
	if ((err = path_in(state_dir, KMS_STORE_FILE, &pw, &path)) != ERR_OK) {
		*detail = "path too long";
		goto out;
	}
	if ((err = pb_encode(&st->base, &pt)) != ERR_OK) {
		*detail = "state too large to seal";
		goto out;
	}
	if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
		*detail = "no randomness";
		err = ERR_CRYPTO;
		goto out;
	}
	buf_writer_init_fixed(&hw, hdr, sizeof(hdr));
	buf_put(&hw, MAGIC, 8);
	buf_put_u32be(&hw, FILE_VERSION);
	buf_put_u64be(&hw, st->generation);
	buf_put(&hw, nonce, sizeof(nonce));
	buf_put(&fw, hdr, sizeof(hdr));
	if (!(dst = buf_reserve(&fw, pt.len + AES256GCM_TAG_LEN))) {
		err = buf_writer_status(&fw);
		*detail = "state too large to seal";
		goto out;
	}
	if ((err = aes256gcm_seal(s->key, nonce, hdr, sizeof(hdr), pt.p, pt.len, dst)) != ERR_OK) {
		*detail = "cannot seal";
		goto out;
	}
	buf_commit(&fw, pt.len + AES256GCM_TAG_LEN);
	if ((err = file_write_atomic(path, fw.p, fw.len, 0600)) != ERR_OK)
		*detail = "cannot write the sealed state file";
out:
	buf_writer_free(&pw);
	buf_writer_free(&pt);
	buf_writer_free(&fw);
	return err;
}

X509 *kms_cert_from_der(const ProtobufCBinaryData *der)
{
	const unsigned char *p = der->data;
	X509 *x;

	if (!der->len || der->len > KMS_STORE_MAX || !(x = d2i_X509(NULL, &p, (long)der->len)))
		return NULL;
	if (p != der->data + der->len) {
		X509_free(x);
		return NULL;
	}
	return x;
}

char *kms_cert_pem(struct arena *mem, const ProtobufCBinaryData *der)
{
	X509 *x = kms_cert_from_der(der);
	struct buf_writer w;
	char *s = NULL;

	if (!x)
		return NULL;
	buf_writer_init(&w, 64 * 1024 + 2 * der->len);
	if (ratls_cert_pem(x, &w) == ERR_OK && buf_cstr(&w))
		s = arena_memdup(mem, w.p, w.len + 1);
	buf_writer_free(&w);
	X509_free(x);
	return s;
}
