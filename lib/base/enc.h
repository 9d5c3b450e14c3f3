/* SPDX-License-Identifier: Apache-2.0 */
/* Hex and base64 (standard and URL-safe) encoders and strict decoders. */
#ifndef DS_ENC_H
#define DS_ENC_H

#include "base.h"
#include "err.h"

/* The value 0..15 of one hex digit (either case), or -1 for any other character. */
int hex_digit_value(int c);

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void hex_encode(char *out, const void *in, size_t n);
/*
 * Decode hex (either case) of length len into out (capacity cap); *outlen
 * gets the byte count. An odd length or a non-hex character is
 * ERR_PROTO_ENCODING; a result longer than cap is ERR_PROTO_TOO_LARGE.
 * A leading "0x"/"0X" is accepted only when allow_0x is set.
 */
err_t hex_decode(void *out, size_t cap, size_t *outlen, const char *in, size_t len, int allow_0x) MUST_CHECK;

/* Encoded length of n bytes, excluding the NUL; padded standard alphabet unless url (no padding). */
size_t base64_encoded_len(size_t n, int url);
/* Encode into out (capacity base64_encoded_len + 1), NUL-terminated; returns the length. */
size_t base64_encode(char *out, const void *in, size_t n, int url);
/* Upper bound on the decoded size of len characters. */
static inline size_t base64_decoded_max(size_t len)
{
	return (len / 4) * 3 + 3;
}
/*
 * Decode standard or URL-safe base64, padded or not (proto3 JSON accepts all
 * four). Characters outside the alphabet, misplaced padding, or non-zero
 * trailing bits are ERR_PROTO_ENCODING.
 */
err_t base64_decode(void *out, size_t cap, size_t *outlen, const char *in, size_t len) MUST_CHECK;

/* UTF-8 (RFC 3629): the length of the well-formed sequence at s (n >= 1 bytes available), or 0 for
 * an invalid, overlong, surrogate or out-of-range one. */
size_t utf8_seq_len(const uint8_t *s, size_t n);
/* 1 when all n bytes are well-formed UTF-8. */
int utf8_valid(const char *s, size_t n);
/* Write code point cp (<= U+10FFFF, not a surrogate) as UTF-8 into out (room for 4); returns the byte count. */
size_t utf8_encode(uint8_t *out, uint32_t cp);

#endif
