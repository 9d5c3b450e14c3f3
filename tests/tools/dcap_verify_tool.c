/* SPDX-License-Identifier: Apache-2.0 */
/* ds_dcap_verify: run lib/attest's DCAP verifier on one quote + collateral JSON and print the verdict as one JSON line (differential tests). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "buf.h"
#include "crypto.h"
#include "dcap.h"
#include "enc.h"
#include "json.h"

/*
 * The policy is deliberately permissive (every TCB status, any advisory):
 * the differential test compares the verifier, not a relying party's
 * policy. What stays on is what dcap-qvl's `verify` also enforces: Revoked
 * fails, and the TD/enclave attribute checks (debug, reserved bits,
 * SEPT_VE_DISABLE, MRSERVICETD) run with their defaults.
 *
 * Exit codes: 0 accepted, 1 rejected (the JSON says why), 2 usage or I/O.
 */

#define FILE_MAX (4u << 20)

struct opts {
	const char *quote, *collateral, *root, *dev_root;
	uint64_t now;
	int have_now;
	enum attest_tcb_mode mode;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ds_dcap_verify --quote FILE --collateral FILE --now UNIX [--root DER] [--dev-root DER]\n"
		   "                      [--tcb-mode dcap-qvl|intel]\n"
		   "Verifies a DCAP quote (raw, or hex text when FILE ends in .hex) against dcap-qvl\n"
		   "QuoteCollateralV3 JSON at --now with a permissive policy and prints\n"
		   "{\"ok\":..,\"status\":..,\"advisory_ids\":[..],\"error\":..,\"detail\":..,\"dev\":..}.\n"
		   "--root replaces the pinned Intel SGX Root CA; --dev-root adds a development root.\n");
}

/* Whole file into a NUL-terminated malloc'd buffer (caller frees); NULL on error or above FILE_MAX. */
static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f) {
		fprintf(stderr, "ds_dcap_verify: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || (size_t)n > FILE_MAX || fseek(f, 0, SEEK_SET) != 0)
		goto out;
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = 0;
	*len = (size_t)n;
out:
	if (!buf)
		fprintf(stderr, "ds_dcap_verify: cannot read %s\n", path);
	fclose(f);
	return buf;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* A quote file: raw bytes, or for *.hex hex text with an optional 0x and surrounding whitespace. */
static uint8_t *read_quote(const char *path, size_t *len)
{
	size_t n = 0, k = 0, out_len = 0;
	uint8_t *raw = read_file(path, &n), *out = NULL;

	if (!raw || !ends_with(path, ".hex")) {
		*len = n;
		return raw;
	}
	for (size_t i = 0; i < n; i++)
		if (raw[i] != ' ' && raw[i] != '\n' && raw[i] != '\r' && raw[i] != '\t')
			raw[k++] = raw[i];
	out = malloc(k / 2 + 1);
	if (out && hex_decode(out, k / 2 + 1, &out_len, (const char *)raw, k, 1) != ERR_OK) {
		fprintf(stderr, "ds_dcap_verify: %s: not hex\n", path);
		free(out);
		out = NULL;
	}
	free(raw);
	*len = out_len;
	return out;
}

static X509 *read_cert(const char *path)
{
	size_t n = 0;
	uint8_t *der = read_file(path, &n);
	X509 *x = der ? x509_from_bytes(der, n) : NULL;

	if (der && !x)
		fprintf(stderr, "ds_dcap_verify: %s: not a DER certificate\n", path);
	free(der);
	return x;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "quote", required_argument, NULL, 'q' },    { "collateral", required_argument, NULL, 'c' },
		{ "now", required_argument, NULL, 'n' },      { "root", required_argument, NULL, 'r' },
		{ "dev-root", required_argument, NULL, 'd' }, { "tcb-mode", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },           { NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			o->quote = optarg;
			break;
		case 'c':
			o->collateral = optarg;
			break;
		case 'r':
			o->root = optarg;
			break;
		case 'd':
			o->dev_root = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "dcap-qvl") == 0)
				o->mode = ATTEST_TCB_DCAP_QVL;
			else if (strcmp(optarg, "intel") == 0)
				o->mode = ATTEST_TCB_INTEL;
			else
				return fprintf(stderr, "ds_dcap_verify: bad --tcb-mode\n"), -1;
			break;
		case 'n': {
			char *end = NULL;

			errno = 0;
			o->now = strtoull(optarg, &end, 10);
			if (errno || !end || *end || end == optarg)
				return fprintf(stderr, "ds_dcap_verify: bad --now\n"), -1;
			o->have_now = 1;
			break;
		}
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc || !o->quote || !o->collateral || !o->have_now) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static void put_cstr(struct buf_writer *w, const char *s)
{
	if (s)
		json_put_string(w, s, strlen(s));
	else
		buf_put_str(w, "null");
}

static void put_verdict(struct buf_writer *w, err_t err, const struct attest_verdict *v)
{
	buf_printf(w, "{\"ok\":%s,\"status\":", err == ERR_OK ? "true" : "false");
	put_cstr(w, err == ERR_OK ? tcb_status_name(v->tcb.status) : NULL);
	buf_put_str(w, ",\"advisory_ids\":[");
	for (size_t i = 0; err == ERR_OK && i < v->tcb.n_advisory_ids; i++) {
		if (i)
			buf_put_str(w, ",");
		put_cstr(w, v->tcb.advisory_ids[i]);
	}
	buf_put_str(w, "],\"error\":");
	put_cstr(w, err == ERR_OK ? NULL : err_name(err));
	buf_put_str(w, ",\"detail\":");
	put_cstr(w, err == ERR_OK ? NULL : v->detail);
	buf_printf(w, ",\"dev\":%s}\n", v->dev ? "true" : "false");
}

int main(int argc, char **argv)
{
	struct opts o;
	struct attest_trust trust;
	struct attest_policy pol;
	struct attest_verdict v;
	struct dcap_collateral coll;
	struct arena a;
	struct buf_writer w;
	uint8_t *quote = NULL;
	char *json = NULL;
	size_t qlen = 0, jlen = 0;
	const char *detail = NULL;
	err_t err;
	int rc = 2;

	memset(&o, 0, sizeof(o));
	memset(&trust, 0, sizeof(trust));
	memset(&v, 0, sizeof(v));
	arena_init(&a, 64u << 20, 0);
	buf_writer_init(&w, 1u << 20);
	if (parse_args(argc, argv, &o))
		goto out;
	trust.intel_root = o.root ? read_cert(o.root) : attest_intel_root();
	if (!trust.intel_root || (o.dev_root && !(trust.intel_dev_root = read_cert(o.dev_root))))
		goto out;
	quote = read_quote(o.quote, &qlen);
	json = (char *)read_file(o.collateral, &jlen);
	if (!quote || !json)
		goto out;

	memset(&pol, 0, sizeof(pol));
	pol.accepted_statuses = (1u << TCB_STATUS_COUNT) - 1;
	pol.allow_any_advisory = 1;
	pol.tcb_mode = o.mode;

	err = dcap_collateral_parse_json(json, jlen, &a, &coll, &detail);
	if (err == ERR_OK)
		err = dcap_verify(quote, qlen, &coll, &trust, &pol, o.now, &a, &v);
	else
		v.detail = detail;
	put_verdict(&w, err, &v);
	if (buf_writer_status(&w) != ERR_OK || fwrite(w.p, 1, w.len, stdout) != w.len || fflush(stdout) != 0)
		goto out;
	rc = err == ERR_OK ? 0 : 1;
out:
	buf_writer_free(&w);
	arena_fini(&a);
	free(quote);
	free(json);
	X509_free(trust.intel_root);
	X509_free(trust.intel_dev_root);
	return rc;
}
