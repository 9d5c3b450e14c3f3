/* SPDX-License-Identifier: Apache-2.0 */
/* ds_sim_gen: write a sim-backend TDX quote, its collateral JSON and the dev root (and optionally an SEV-SNP report) for tests and benchmarks. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enc.h"
#include "sim.h"

#define DAY 86400ull
#define MAX_ADV 16

struct opts {
	uint8_t seed[SIM_SEED_LEN];
	uint8_t report_data[64];
	const char *status;
	uint64_t now;
	int have_now;
	const char *quote, *collateral, *root;
	const char *snp_report, *snp_vcek, *snp_chain, *snp_ark;
	const char *adv[MAX_ADV];
	size_t n_adv;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ds_sim_gen --now UNIX --quote FILE --collateral FILE --root FILE\n"
		"                  [--status uptodate|outofdate|expired|wrongroot] [--report-data HEX]\n"
		"                  [--seed HEX32] [--advisory ID]... [--snp-report FILE --snp-vcek FILE\n"
		"                  --snp-chain FILE --snp-ark FILE]\n"
		"Writes a TDX quote v4 signed through the development PKI of --seed, its collateral in\n"
		"dcap-qvl QuoteCollateralV3 JSON valid at --now, and the dev root CA (DER).\n"
		"  uptodate   TCB info / QE identity UpToDate (issued now-1d, next update now+30d)\n"
		"  outofdate  the platform's TCB level is OutOfDate with the --advisory IDs\n"
		"             (default INTEL-SA-00960, INTEL-SA-00982)\n"
		"  expired    TCB info and QE identity issued now-60d, next update now-30d\n"
		"  wrongroot  as uptodate, but --root gets the root of another seed\n");
}

static int parse_hex(const char *s, uint8_t *out, size_t cap, size_t want)
{
	size_t n = 0;

	if (hex_decode(out, cap, &n, s, strlen(s), 1) != ERR_OK || (want && n != want))
		return -1;
	return 0;
}

static int write_file(const char *path, const void *p, size_t n)
{
	FILE *f;

	if (!path)
		return 0;
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "ds_sim_gen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "seed", required_argument, NULL, 's' },        { "report-data", required_argument, NULL, 'r' },
		{ "status", required_argument, NULL, 't' },      { "now", required_argument, NULL, 'n' },
		{ "quote", required_argument, NULL, 'q' },       { "collateral", required_argument, NULL, 'c' },
		{ "root", required_argument, NULL, 'o' },        { "advisory", required_argument, NULL, 'a' },
		{ "snp-report", required_argument, NULL, 'R' },  { "snp-vcek", required_argument, NULL, 'V' },
		{ "snp-chain", required_argument, NULL, 'C' },   { "snp-ark", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },              { NULL, 0, NULL, 0 },
	};
	int opt;

	for (size_t i = 0; i < SIM_SEED_LEN; i++)
		o->seed[i] = (uint8_t)i;
	o->status = "uptodate";
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (parse_hex(optarg, o->seed, sizeof(o->seed), SIM_SEED_LEN))
				return fprintf(stderr, "ds_sim_gen: --seed needs 32 bytes of hex\n"), -1;
			break;
		case 'r':
			memset(o->report_data, 0, sizeof(o->report_data));
			if (parse_hex(optarg, o->report_data, sizeof(o->report_data), 0))
				return fprintf(stderr, "ds_sim_gen: --report-data needs up to 64 bytes of hex\n"), -1;
			break;
		case 't':
			o->status = optarg;
			break;
		case 'n': {
			char *end = NULL;

			errno = 0;
			o->now = strtoull(optarg, &end, 10);
			if (errno || !end || *end || end == optarg || o->now < 100 * DAY)
				return fprintf(stderr, "ds_sim_gen: bad --now\n"), -1;
			o->have_now = 1;
			break;
		}
		case 'q':
			o->quote = optarg;
			break;
		case 'c':
			o->collateral = optarg;
			break;
		case 'o':
			o->root = optarg;
			break;
		case 'a':
			if (o->n_adv >= MAX_ADV)
				return fprintf(stderr, "ds_sim_gen: too many --advisory\n"), -1;
			o->adv[o->n_adv++] = optarg;
			break;
		case 'R':
			o->snp_report = optarg;
			break;
		case 'V':
			o->snp_vcek = optarg;
			break;
		case 'C':
			o->snp_chain = optarg;
			break;
		case 'A':
			o->snp_ark = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc || !o->have_now || !o->quote || !o->collateral || !o->root) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static int gen_snp(struct sim_pki *pki, const struct opts *o)
{
	struct attest_snp_report r;
	uint8_t report[SIM_SNP_REPORT_LEN];
	const uint8_t *der;
	size_t len;
	char *pem = NULL;
	int rc = -1;

	if (!o->snp_report && !o->snp_vcek && !o->snp_chain && !o->snp_ark)
		return 0;
	sim_snp_report_default(pki, &r);
	memcpy(r.report_data, o->report_data, 64);
	if (sim_snp_report(pki, &r, report) || write_file(o->snp_report, report, sizeof(report)))
		goto out;
	if (sim_cert_der(pki, SIM_CERT_VCEK, &der, &len) || write_file(o->snp_vcek, der, len))
		goto out;
	if (sim_amd_chain(pki, &pem, &len) || write_file(o->snp_chain, pem, len))
		goto out;
	if (sim_cert_der(pki, SIM_CERT_ARK, &der, &len) || write_file(o->snp_ark, der, len))
		goto out;
	rc = 0;
out:
	free(pem);
	return rc;
}

int main(int argc, char **argv)
{
	static const char *const default_adv[] = { "INTEL-SA-00960", "INTEL-SA-00982" };
	struct opts o;
	struct sim_params p;
	struct sim_tcb_params t;
	struct sim_pki *pki = NULL, *other = NULL;
	struct attest_td_report td;
	uint8_t *quote = NULL;
	char *coll = NULL;
	const uint8_t *root;
	size_t qlen = 0, clen = 0, rlen = 0;
	int rc = 1;

	memset(&o, 0, sizeof(o));
	if (parse_args(argc, argv, &o))
		return 2;
	sim_params_default(&p);
	p.not_before = o.now - 365 * DAY;
	p.not_after = o.now + 3650 * DAY;
	p.crl_this_update = o.now - DAY;
	p.crl_next_update = o.now + 30 * DAY;
	sim_tcb_params_default(&t, o.now);
	if (!strcmp(o.status, "outofdate")) {
		t.platform_status = TCB_OUT_OF_DATE;
		t.advisory_ids = o.n_adv ? o.adv : default_adv;
		t.n_advisory_ids = o.n_adv ? o.n_adv : 2;
	} else if (!strcmp(o.status, "expired")) {
		t.tcb_issue_date = o.now - 60 * DAY;
		t.tcb_next_update = o.now - 30 * DAY;
	} else if (strcmp(o.status, "uptodate") && strcmp(o.status, "wrongroot")) {
		fprintf(stderr, "ds_sim_gen: unknown --status %s\n", o.status);
		return 2;
	}
	if (sim_pki_new(o.seed, &p, &pki)) {
		fprintf(stderr, "ds_sim_gen: building the PKI failed\n");
		goto out;
	}
	sim_td_report_default(pki, &td);
	memcpy(td.report_data, o.report_data, 64);
	if (sim_tdx_quote(pki, &td, &quote, &qlen) || sim_collateral_json(pki, &t, &coll, &clen)) {
		fprintf(stderr, "ds_sim_gen: generating the quote or collateral failed\n");
		goto out;
	}
	sim_dev_root_der(pki, &root, &rlen);
	if (!strcmp(o.status, "wrongroot")) {
		o.seed[0] ^= 0xff;
		if (sim_pki_new(o.seed, &p, &other))
			goto out;
		sim_dev_root_der(other, &root, &rlen);
	}
	if (write_file(o.quote, quote, qlen) || write_file(o.collateral, coll, clen) || write_file(o.root, root, rlen))
		goto out;
	if (gen_snp(pki, &o)) {
		fprintf(stderr, "ds_sim_gen: generating the SEV-SNP evidence failed\n");
		goto out;
	}
	rc = 0;
out:
	free(quote);
	free(coll);
	sim_pki_free(other);
	sim_pki_free(pki);
	return rc;
}
