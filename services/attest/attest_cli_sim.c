/* SPDX-License-Identifier: Apache-2.0 */
/* `dstack-attest sim-quote` (DEVELOPMENT ONLY): a TDX quote signed through the simulator's PKI, with its collateral and dev root. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcap.h"          /* lib/attest first: sim.h's "attest.h" then resolves to what is already included */
#include "eventlog.h"
#include "attest_cli.h"
#include "enc.h"
#include "json.h"
#include "sim.h"

/*
 * Everything this writes chains to the development root of a seed that is
 * public (default: bytes 00..1f, as ds_sim_gen uses). It verifies only
 * where that root is configured on purpose (`verify --dev-root`, config
 * `trust.dev_root`), and then every verdict says `dev: true`.
 */

#define DAY 86400ull
#define MAX_ADV 16

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dstack-attest sim-quote --now UNIX --quote FILE [--collateral FILE] [--dev-root FILE]\n"
		"         [--status uptodate|outofdate] [--advisory ID]... [--report-data HEX] [--rtmr3 HEX]\n"
		"         [--event-log FILE [--getquote FILE]] [--seed HEX32]\n"
		"\n"
		"SIMULATION, DEVELOPMENT ONLY. Writes a TDX quote v4 signed through the simulator's\n"
		"deterministic development PKI, its collateral (dcap-qvl JSON, valid at --now) and the\n"
		"development root CA (DER). Such quotes verify only against that root, and verdicts say\n"
		"\"dev\": true.\n"
		"  --status outofdate    the platform's TCB level is OutOfDate with the --advisory IDs\n"
		"                        (default INTEL-SA-00960, INTEL-SA-00982)\n"
		"  --rtmr3 HEX           RTMR3 of the quote (48 bytes)\n"
		"  --event-log FILE      dstack event log (JSON array); RTMR3 becomes its replay\n"
		"  --getquote FILE       also write GetQuote JSON {quote, event_log, report_data, vm_config}\n"
		"\n"
		"exit status: 0 written; 1 generation failed; 2 invalid usage or input\n");
}

static int write_file(const char *path, const void *p, size_t n)
{
	FILE *f;

	if (!path)
		return 0;
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		fprintf(stderr, "dstack-attest: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static char *read_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf_writer w;
	char tmp[65536];
	size_t n;
	char *out = NULL;

	if (!f)
		return NULL;
	buf_writer_init(&w, (size_t)4 << 20);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_put(&w, tmp, n);
	if (!ferror(f) && buf_cstr(&w))
		out = (char *)buf_take(&w, len);
	fclose(f);
	buf_writer_free(&w);
	return out;
}

static int hex_arg(const char *s, uint8_t *out, size_t cap, size_t want)
{
	size_t n = 0;

	return hex_decode(out, cap, &n, s, strlen(s), 1) == ERR_OK && (!want || n == want) ? 0 : -1;
}

struct sim_opts {
	uint8_t seed[SIM_SEED_LEN], report_data[64], rtmr3[48];
	int has_rtmr3;
	uint64_t now;
	const char *status, *quote, *collateral, *root, *event_log, *getquote;
	const char *adv[MAX_ADV];
	size_t n_adv;
};

static int parse(int argc, char **argv, struct sim_opts *o)
{
	static const struct option longopts[] = {
		{ "now", required_argument, NULL, 'n' },        { "quote", required_argument, NULL, 'q' },
		{ "collateral", required_argument, NULL, 'c' }, { "dev-root", required_argument, NULL, 'o' },
		{ "status", required_argument, NULL, 't' },     { "advisory", required_argument, NULL, 'a' },
		{ "report-data", required_argument, NULL, 'r' },{ "rtmr3", required_argument, NULL, '3' },
		{ "event-log", required_argument, NULL, 'e' },  { "getquote", required_argument, NULL, 'g' },
		{ "seed", required_argument, NULL, 's' },       { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	for (size_t i = 0; i < SIM_SEED_LEN; i++)
		o->seed[i] = (uint8_t)i;
	o->status = "uptodate";
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n': {
			char *end = NULL;

			errno = 0;
			o->now = strtoull(optarg, &end, 10);
			if (errno || !end || *end || end == optarg || o->now < 400 * DAY || o->now > 253402300799ull)
				return fprintf(stderr, "dstack-attest: sim-quote: bad --now\n"), -1;
			break;
		}
		case 'q': o->quote = optarg; break;
		case 'c': o->collateral = optarg; break;
		case 'o': o->root = optarg; break;
		case 't': o->status = optarg; break;
		case 'e': o->event_log = optarg; break;
		case 'g': o->getquote = optarg; break;
		case 'a':
			if (o->n_adv >= MAX_ADV)
				return fprintf(stderr, "dstack-attest: sim-quote: too many --advisory\n"), -1;
			o->adv[o->n_adv++] = optarg;
			break;
		case 'r':
			memset(o->report_data, 0, sizeof(o->report_data));
			if (hex_arg(optarg, o->report_data, sizeof(o->report_data), 0))
				return fprintf(stderr, "dstack-attest: sim-quote: --report-data: up to 64 bytes of hex\n"), -1;
			break;
		case '3':
			if (hex_arg(optarg, o->rtmr3, sizeof(o->rtmr3), 48))
				return fprintf(stderr, "dstack-attest: sim-quote: --rtmr3: 48 bytes of hex\n"), -1;
			o->has_rtmr3 = 1;
			break;
		case 's':
			if (hex_arg(optarg, o->seed, sizeof(o->seed), SIM_SEED_LEN))
				return fprintf(stderr, "dstack-attest: sim-quote: --seed: 32 bytes of hex\n"), -1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc || !o->now || !o->quote || (o->getquote && !o->event_log) ||
	    (strcmp(o->status, "uptodate") && strcmp(o->status, "outofdate"))) {
		usage(stderr);
		return -1;
	}
	return 0;
}

/* {"quote":hex,"event_log":"<text>","report_data":hex,"vm_config":"{}"} as dstack's GetQuote answers. */
static int write_getquote(const char *path, const uint8_t *quote, size_t qlen, const char *log, size_t log_len,
			  const uint8_t rd[64])
{
	struct buf_writer w;
	char *hex = malloc(2 * qlen + 1), rdh[129];
	int rc = -1;

	if (!hex)
		return -1;
	hex_encode(hex, quote, qlen);
	hex_encode(rdh, rd, 64);
	buf_writer_init(&w, (size_t)16 << 20);
	buf_printf(&w, "{\"quote\":\"%s\",\"event_log\":", hex);
	json_put_string(&w, log, log_len);
	buf_printf(&w, ",\"report_data\":\"%s\",\"vm_config\":\"{}\"}\n", rdh);
	if (buf_writer_status(&w) == ERR_OK)
		rc = write_file(path, w.p, w.len);
	buf_writer_free(&w);
	free(hex);
	return rc;
}

int attest_cmd_sim_quote(int argc, char **argv, const struct svc_def *def)
{
	static const char *const default_adv[] = { "INTEL-SA-00960", "INTEL-SA-00982" };
	struct sim_opts o;
	struct sim_params p;
	struct sim_tcb_params t;
	struct sim_pki *pki = NULL;
	struct attest_td_report td;
	uint8_t *quote = NULL;
	char *coll = NULL, *log_text = NULL;
	const uint8_t *root;
	size_t qlen = 0, clen = 0, rlen = 0, log_len = 0;
	int rc = 2;

	(void)def;
	memset(&o, 0, sizeof(o));
	if (parse(argc, argv, &o))
		return 2;
	if (o.event_log) {
		struct attest_eventlog log;
		struct arena a;
		const char *d = NULL;

		if (!(log_text = read_text(o.event_log, &log_len))) {
			fprintf(stderr, "dstack-attest: %s: cannot read\n", o.event_log);
			return 2;
		}
		arena_init(&a, (size_t)64 << 20, 0);
		if (attest_eventlog_parse_json(log_text, log_len, &a, &log, &d) != ERR_OK) {
			fprintf(stderr, "dstack-attest: %s: %s\n", o.event_log, d ? d : "not a dstack event log");
			arena_fini(&a);
			goto out;
		}
		if (!o.has_rtmr3)
			memcpy(o.rtmr3, log.rtmr[3], 48);
		o.has_rtmr3 = 1;
		arena_fini(&a);
	}
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
	}
	rc = 1;
	if (sim_pki_new(o.seed, &p, &pki) != ERR_OK) {
		fprintf(stderr, "dstack-attest: sim-quote: building the development PKI failed\n");
		goto out;
	}
	sim_td_report_default(pki, &td);
	memcpy(td.report_data, o.report_data, 64);
	if (o.has_rtmr3)
		memcpy(td.rtmr[3], o.rtmr3, 48);
	if (sim_tdx_quote(pki, &td, &quote, &qlen) != ERR_OK || sim_collateral_json(pki, &t, &coll, &clen) != ERR_OK) {
		fprintf(stderr, "dstack-attest: sim-quote: generating the quote or collateral failed\n");
		goto out;
	}
	sim_dev_root_der(pki, &root, &rlen);
	if (write_file(o.quote, quote, qlen) || write_file(o.collateral, coll, clen) || write_file(o.root, root, rlen) ||
	    (o.getquote && write_getquote(o.getquote, quote, qlen, log_text, log_len, td.report_data)))
		goto out;
	rc = 0;
out:
	free(quote);
	free(coll);
	free(log_text);
	sim_pki_free(pki);
	return rc;
}
