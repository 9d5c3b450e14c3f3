/* SPDX-License-Identifier: Apache-2.0 */
/* What the sim backend's files share: the PKI struct, key types, a DER writer and small encoders. Not a public API. */
#ifndef DS_TEE_SIM_INTERNAL_H
#define DS_TEE_SIM_INTERNAL_H

#include <openssl/bn.h>
#include "buf.h"
#include "sim.h"

/* An EC key: scalar and public point as fixed-size big-endian bytes. */
struct sim_eckey {
	int nid;                 /* NID_X9_62_prime256v1 or NID_secp384r1 */
	size_t len;              /* 32 or 48 */
	uint8_t d[48];
	uint8_t xy[96];          /* x || y */
};

#define SIM_RSA_PRIMES 4
#define SIM_RSA_BITS 4096

/* A multi-prime RSA key: n, e and the CRT pieces (n = p0 p1 p2 p3). */
struct sim_rsakey {
	BIGNUM *n, *e;
	BIGNUM *p[SIM_RSA_PRIMES], *dp[SIM_RSA_PRIMES];
};

struct sim_blob {
	uint8_t *p;
	size_t len;
};

struct sim_pki {
	uint8_t seed[SIM_SEED_LEN];
	struct sim_params prm;
	struct sim_eckey root, pck_ca, pck_leaf, tcb_signing, qe_att, vcek;
	struct sim_blob certs[SIM_CERT_COUNT];
	struct sim_blob root_crl, pck_crl;
	struct sim_blob pck_chain_pem;        /* NUL included in len */
	uint8_t qe_id[16], ppid[16], platform_instance_id[16], mrseam[48], chip_id[64];
	int amd_ready;
	struct sim_rsakey ark, ask;
};

/* ---- DER writer: a buf_writer plus nested constructed values ---- */

/* Start a constructed value with `tag`; returns the mark for der_end. */
size_t der_begin(struct buf_writer *w, uint8_t tag);
/* Close the value started at mark: insert its definite length. */
void der_end(struct buf_writer *w, size_t mark);
void der_tlv(struct buf_writer *w, uint8_t tag, const void *p, size_t n);
/* INTEGER from unsigned big-endian bytes (leading zeros dropped, 0x00 added when the top bit is set). */
void der_uint_bytes(struct buf_writer *w, const uint8_t *be, size_t n);
void der_uint(struct buf_writer *w, uint64_t v);
/* UTCTime for 1950..2049, GeneralizedTime otherwise (RFC 5280 4.1.2.5). */
void der_time(struct buf_writer *w, uint64_t t);

#define DER_BOOLEAN 0x01
#define DER_INTEGER 0x02
#define DER_BIT_STRING 0x03
#define DER_OCTET_STRING 0x04
#define DER_NULL 0x05
#define DER_OID 0x06
#define DER_ENUMERATED 0x0a
#define DER_UTF8 0x0c
#define DER_PRINTABLE 0x13
#define DER_IA5 0x16
#define DER_SEQ 0x30
#define DER_SET 0x31

/* ---- keys and signatures ---- */

/* ECDSA with an RFC 6979 nonce over msg (SHA-256 for P-256, SHA-384 for P-384); sig = r||s, 2*key->len bytes. */
err_t sim_ecdsa_sign(const struct sim_eckey *key, const void *msg, size_t len, uint8_t *sig) MUST_CHECK;

/* ---- encoders ---- */

/* Uppercase hex (Intel's JSON style) of n bytes. */
void sim_put_hex_upper(struct buf_writer *w, const uint8_t *p, size_t n);
void sim_put_hex_lower(struct buf_writer *w, const uint8_t *p, size_t n);
/* RFC 3339 UTC ("2025-06-19T10:16:03Z"). */
void sim_put_rfc3339(struct buf_writer *w, uint64_t t);
/* PEM CERTIFICATE block of a DER certificate (64-column base64, trailing newline). */
void sim_put_pem_cert(struct buf_writer *w, const uint8_t *der, size_t len);

/* The simulated TD QE looks like Intel's: its identity values (QE identity "TD_QE" in Intel's collateral). */
#define SIM_TDQE_ISVPRODID 2
extern const uint8_t sim_tdqe_mrsigner[32];
extern const uint8_t sim_tdqe_mrenclave[32];
extern const uint8_t sim_tdqe_attributes[16];      /* the QE report's ATTRIBUTES */
extern const uint8_t sim_tdqe_id_attributes[16];   /* the QE identity's `attributes` */
extern const uint8_t sim_tdqe_id_attributes_mask[16];

/* Intel's spelling of a TCB status ("UpToDate", ...); NULL for values the collateral cannot carry. */
const char *sim_tcb_status_name(enum tcb_status s);

/* Append s as a JSON string literal (quotes included). */
void sim_put_json_string(struct buf_writer *w, const char *s, size_t n);

/* Generate the AMD side (ARK, ASK, VCEK certificates) if not done yet. */
err_t sim_pki_amd_ensure(struct sim_pki *pki) MUST_CHECK;

#endif
