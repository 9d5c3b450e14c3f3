/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for the tdx and sev-snp backends against a directory that emulates the kernel ABI (configfs-tsm, TDX measurements, CCEL). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "claims.h"
#include "crypto.h"
#include "dcap.h"
#include "eventlog.h"
#include "file.h"
#include "sim.h"
#include "snp.h"
#include "tee.h"

#ifndef DS_EVENTLOG_DATA
#error "DS_EVENTLOG_DATA must point at tests/data/eventlog"
#endif

/*
 * The emulator is a thread that plays the kernel over a temporary directory:
 *   <root>/tsm/report/<entry>/   provider, generation, inblob -> outblob (+ auxblob)
 *   <root>/meas/                 mrtd:sha384, rtmr0..3:sha384 (readable values)
 *   <root>/rtmr3-extend          a FIFO: each 48-byte write extends the emulated RTMR3
 *   <root>/CCEL                  a copy of tests/data/eventlog/ccel-tappd.bin
 * Quotes and reports are signed by the sim PKI over the emulated registers.
 * Every file the emulator writes goes through a temporary name and rename,
 * so the backend never sees a half-written attribute.
 */

enum emu_kind { EMU_TDX, EMU_SNP };

struct emu {
	char root[256], tsm[300], report[320], meas[300], fifo[300], ccel[300], state[300];
	enum emu_kind kind;
	const char *provider;
	int race_once;          /* first request: another writer also wrote (generation + 2) */
	int foreign_once;       /* first request: generation looks right but the outblob is over other data */
	int never_answer;       /* never fill outblob */
	int bad_certs;          /* SNP: a certificate table whose VCEK entry runs past the end */
	struct sim_pki *pki;
	uint8_t mrtd[48], rtmr[4][48];
	pthread_t th;
	pthread_mutex_t mu;
	int stop;
	int fifo_fd;
	int served, raced;
	char done[64][64];
	size_t n_done;
	uint8_t *aux;
	size_t aux_len;
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void put_file(const char *dir, const char *name, const void *p, size_t n)
{
	char tmp[600], path[600];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/.tmp-%s", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
	assert_int_equal(rename(tmp, path), 0);
}

static void put_gen(const char *dir, int g)
{
	char s[16];

	snprintf(s, sizeof(s), "%d\n", g);
	put_file(dir, "generation", s, strlen(s));
}

/* ---- the SNP certificate table the host attaches ---- */

static const uint8_t GUID_VCEK[16] = { 0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
				       0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd };
static const uint8_t GUID_ASK[16] = { 0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
				      0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82 };
static const uint8_t GUID_ARK[16] = { 0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
				      0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae };

struct tbl_entry {
	const uint8_t *guid;
	const uint8_t *data;
	size_t len;
	long off_override;      /* >= 0: write this offset instead of the real one */
	long len_override;
};

/* Entries, terminator, then the blobs back to back, then `pad` zero bytes. */
static uint8_t *build_table(const struct tbl_entry *e, size_t n, size_t pad, size_t *out_len)
{
	size_t table = (n + 1) * 24, total = table + pad, off;
	uint8_t *p;

	for (size_t i = 0; i < n; i++)
		total += e[i].len;
	p = calloc(1, total ? total : 1);
	assert_non_null(p);
	off = table;
	for (size_t i = 0; i < n; i++) {
		uint32_t o = e[i].off_override >= 0 ? (uint32_t)e[i].off_override : (uint32_t)off;
		uint32_t l = e[i].len_override >= 0 ? (uint32_t)e[i].len_override : (uint32_t)e[i].len;

		memcpy(p + 24 * i, e[i].guid, 16);
		for (int k = 0; k < 4; k++) {
			p[24 * i + 16 + k] = (uint8_t)(o >> (8 * k));
			p[24 * i + 20 + k] = (uint8_t)(l >> (8 * k));
		}
		memcpy(p + off, e[i].data, e[i].len);
		off += e[i].len;
	}
	*out_len = total;
	return p;
}

static void emu_build_aux(struct emu *m)
{
	const uint8_t *vcek, *ask, *ark;
	size_t lv, ls, lr;
	struct tbl_entry e[3];

	assert_int_equal(sim_cert_der(m->pki, SIM_CERT_VCEK, &vcek, &lv), ERR_OK);
	assert_int_equal(sim_cert_der(m->pki, SIM_CERT_ASK, &ask, &ls), ERR_OK);
	assert_int_equal(sim_cert_der(m->pki, SIM_CERT_ARK, &ark, &lr), ERR_OK);
	e[0] = (struct tbl_entry){ GUID_VCEK, vcek, lv, -1, -1 };
	e[1] = (struct tbl_entry){ GUID_ASK, ask, ls, -1, -1 };
	e[2] = (struct tbl_entry){ GUID_ARK, ark, lr, -1, -1 };
	if (m->bad_certs)
		e[0].len_override = (long)(lv + ls + lr + 1);
	m->aux = build_table(e, 3, 0, &m->aux_len);
}

/* ---- the emulator thread ---- */

static int is_done(struct emu *m, const char *name)
{
	for (size_t i = 0; i < m->n_done; i++) {
		if (strcmp(m->done[i], name) == 0)
			return 1;
	}
	return 0;
}

/* Apply every extension written to the FIFO so far. */
static void drain_fifo(struct emu *m)
{
	uint8_t d[48];

	for (;;) {
		ssize_t n = read(m->fifo_fd, d, sizeof(d));

		if (n != 48)
			break;
		attest_rtmr_extend(m->rtmr[3], d);
		put_file(m->meas, "rtmr3:sha384", m->rtmr[3], 48);
	}
}

static void answer(struct emu *m, const char *entry, const uint8_t inblob[64])
{
	uint8_t rd[64];

	memcpy(rd, inblob, 64);
	if (m->race_once && !m->raced) {
		/*
		 * Another writer touched the entry between our inblob write and our
		 * outblob read (an option, or the same inblob): two writes. The
		 * outblob even carries our report data, so only generation tells.
		 */
		m->raced = 1;
		put_gen(entry, 2);
	} else if (m->foreign_once && !m->raced) {
		/* A report over someone else's data with a plausible generation: the content check tells. */
		for (int i = 0; i < 64; i++)
			rd[i] ^= 0xff;
		m->raced = 1;
		put_gen(entry, 1);
	} else {
		put_gen(entry, 1);
	}
	drain_fifo(m);
	if (m->kind == EMU_TDX) {
		struct attest_td_report td;
		uint8_t *q = NULL;
		size_t qlen = 0;

		sim_td_report_default(m->pki, &td);
		memcpy(td.mrtd, m->mrtd, 48);
		memcpy(td.rtmr, m->rtmr, sizeof(td.rtmr));
		memcpy(td.report_data, rd, 64);
		assert_int_equal(sim_tdx_quote(m->pki, &td, &q, &qlen), ERR_OK);
		put_file(entry, "outblob", q, qlen);
		free(q);
	} else {
		struct attest_snp_report r;
		uint8_t rep[SIM_SNP_REPORT_LEN];

		sim_snp_report_default(m->pki, &r);
		memcpy(r.report_data, rd, 64);
		assert_int_equal(sim_snp_report(m->pki, &r, rep), ERR_OK);
		put_file(entry, "auxblob", m->aux, m->aux_len);
		put_file(entry, "outblob", rep, sizeof(rep));
	}
	m->served++;
}

static void emu_step(struct emu *m)
{
	DIR *d = opendir(m->report);
	struct dirent *de;

	drain_fifo(m);
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		char entry[600], path[700];
		struct stat st;
		uint8_t in[64];
		int fd;

		if (de->d_name[0] == '.' || is_done(m, de->d_name))
			continue;
		snprintf(entry, sizeof(entry), "%s/%s", m->report, de->d_name);
		snprintf(path, sizeof(path), "%s/generation", entry);
		if (stat(path, &st) != 0) {
			put_file(entry, "provider", m->provider, strlen(m->provider));
			put_gen(entry, 0);
			continue;
		}
		snprintf(path, sizeof(path), "%s/inblob", entry);
		if (stat(path, &st) != 0 || st.st_size != 64 || m->never_answer)
			continue;
		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		assert_int_equal(read(fd, in, 64), 64);
		close(fd);
		answer(m, entry, in);
		assert_true(m->n_done < 64);
		assert_true(strlen(de->d_name) < sizeof(m->done[0]));
		memcpy(m->done[m->n_done++], de->d_name, strlen(de->d_name) + 1);
	}
	closedir(d);
}

static void *emu_main(void *arg)
{
	struct emu *m = arg;

	for (;;) {
		struct timespec ts = { 0, 500000 };
		int stop;

		pthread_mutex_lock(&m->mu);
		stop = m->stop;
		if (!stop)
			emu_step(m);
		pthread_mutex_unlock(&m->mu);
		if (stop)
			break;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void emu_start(struct emu *m, enum emu_kind kind)
{
	const char *base = getenv("TMPDIR");
	struct buf_writer w;
	struct arena a;
	struct attest_eventlog boot;
	uint8_t seed[SIM_SEED_LEN];

	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->provider = kind == EMU_TDX ? "tdx_guest\n" : "sev_guest\n";
	snprintf(m->root, sizeof(m->root), "%s/tee-tsm-XXXXXX", base && base[0] ? base : "/tmp");
	assert_non_null(mkdtemp(m->root));
	snprintf(m->tsm, sizeof(m->tsm), "%s/tsm", m->root);
	snprintf(m->report, sizeof(m->report), "%s/report", m->tsm);
	snprintf(m->meas, sizeof(m->meas), "%s/meas", m->root);
	snprintf(m->fifo, sizeof(m->fifo), "%s/rtmr3-extend", m->root);
	snprintf(m->ccel, sizeof(m->ccel), "%s/CCEL", m->root);
	snprintf(m->state, sizeof(m->state), "%s/state", m->root);
	assert_int_equal(mkdir(m->tsm, 0700), 0);
	assert_int_equal(mkdir(m->report, 0700), 0);
	assert_int_equal(mkdir(m->meas, 0700), 0);
	assert_int_equal(mkdir(m->state, 0700), 0);
	assert_int_equal(mkfifo(m->fifo, 0600), 0);
	m->fifo_fd = open(m->fifo, O_RDWR | O_NONBLOCK);
	assert_true(m->fifo_fd >= 0);

	for (int i = 0; i < SIM_SEED_LEN; i++)
		seed[i] = (uint8_t)(0x30 + i);
	assert_int_equal(sim_pki_new(seed, NULL, &m->pki), ERR_OK);
	memset(m->mrtd, 0x4d, 48);
	/* The CCEL and the registers it replays to. */
	buf_writer_init(&w, 1u << 20);
	assert_int_equal(file_read_all(DS_EVENTLOG_DATA "/ccel-tappd.bin", 1u << 20, 0, &w), ERR_OK);
	put_file(m->root, "CCEL", w.p, w.len);
	arena_init(&a, 8u << 20, 0);
	assert_int_equal(attest_ccel_parse(w.p, w.len, &a, &boot, NULL), ERR_OK);
	memcpy(m->rtmr, boot.rtmr, sizeof(m->rtmr));
	memset(m->rtmr[3], 0, 48);
	arena_fini(&a);
	buf_writer_free(&w);
	put_file(m->meas, "mrtd:sha384", m->mrtd, 48);
	put_file(m->meas, "rtmr0:sha384", m->rtmr[0], 48);
	put_file(m->meas, "rtmr1:sha384", m->rtmr[1], 48);
	put_file(m->meas, "rtmr2:sha384", m->rtmr[2], 48);
	put_file(m->meas, "rtmr3:sha384", m->rtmr[3], 48);
	if (kind == EMU_SNP)
		emu_build_aux(m);
	pthread_mutex_init(&m->mu, NULL);
}

static void emu_run(struct emu *m)
{
	assert_int_equal(pthread_create(&m->th, NULL, emu_main, m), 0);
}

static void emu_stop(struct emu *m)
{
	pthread_mutex_lock(&m->mu);
	m->stop = 1;
	pthread_mutex_unlock(&m->mu);
	pthread_join(m->th, NULL);
	close(m->fifo_fd);
	free(m->aux);
	sim_pki_free(m->pki);
	pthread_mutex_destroy(&m->mu);
	(void)nftw(m->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void emu_config(const struct emu *m, struct tee_config *c, unsigned timeout_ms)
{
	memset(c, 0, sizeof(*c));
	c->backend = m->kind == EMU_TDX ? "tdx" : "sev-snp";
	c->state_dir = m->state;
	c->quote_timeout_ms = timeout_ms;
	c->tsm_dir = m->tsm;
	c->tdx_measurements_dir = m->meas;
	c->tdx_rtmr3_path = m->fifo;
	c->ccel_path = m->ccel;
}

static struct tee *emu_open(const struct emu *m, unsigned timeout_ms)
{
	struct tee_config c;
	struct tee *t = NULL;
	const char *detail = NULL;
	err_t rc;

	emu_config(m, &c, timeout_ms);
	rc = tee_open(&c, &t, &detail);
	if (rc != ERR_OK)
		fprintf(stderr, "tee_open: %s (%s)\n", err_name(rc), detail ? detail : "");
	assert_int_equal(rc, ERR_OK);
	return t;
}

static void extend_ok(struct tee *t, const char *name, const void *payload, size_t len)
{
	const char *detail = NULL;
	err_t rc = tee_extend_runtime_event(t, name, payload, len, &detail);

	if (rc != ERR_OK)
		fprintf(stderr, "extend %s: %s (%s)\n", name, err_name(rc), detail ? detail : "");
	assert_int_equal(rc, ERR_OK);
}

static void quote_td(const struct tee_evidence *ev, struct attest_td_report *td)
{
	struct dcap_quote dq;

	assert_int_equal(dcap_quote_parse(ev->quote, ev->quote_len, &dq, NULL), ERR_OK);
	dcap_td_report_decode(dq.body, dq.body_len, td);
}

/* ---- tdx ---- */

static void test_tdx_roundtrip(void **state)
{
	struct emu m;
	struct tee *t;
	struct tee_info info;
	struct tee_evidence ev;
	struct attest_td_report td;
	struct dcap_collateral dc;
	struct attest_trust trust;
	struct attest_policy pol;
	struct attest_verdict v;
	struct attest_eventlog log;
	struct attest_claims cl;
	struct sim_tcb_params tp;
	const uint8_t *der;
	size_t der_len, coll_len = 0;
	char *coll = NULL;
	uint64_t now = wall_s();
	uint8_t rd[64];
	struct arena a;
	X509 *root;

	(void)state;
	emu_start(&m, EMU_TDX);
	emu_run(&m);
	t = emu_open(&m, 5000);

	/* The registers are readable and the CCEL replays to RTMR0-2. */
	assert_int_equal(tee_info(t, &info, NULL), ERR_OK);
	assert_string_equal(info.backend, "tdx");
	assert_int_equal(info.simulated, 0);
	assert_int_equal(info.mr_mask, TEE_MR_MRTD | (0xfu << 1));
	assert_memory_equal(info.mrtd, m.mrtd, 48);
	assert_memory_equal(info.rtmr, info.log_rtmr, 3 * 48);
	assert_true(info.n_boot_events > 0);

	extend_ok(t, "system-preparing", NULL, 0);
	extend_ok(t, "app-id", "01234567890123456789", 20);
	extend_ok(t, "compose-hash", "0123456789abcdef0123456789abcdef", 32);
	memset(rd, 0x5c, sizeof(rd));
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(tee_quote_with_log(t, rd, &ev, NULL), ERR_OK);
	assert_int_equal(ev.platform, TEE_PLATFORM_TDX);
	assert_int_equal(ev.simulated, 0);
	assert_null(ev.aux);

	/* The quote verifies (the emulator signs with the sim PKI) ... */
	sim_dev_root_der(m.pki, &der, &der_len);
	root = x509_from_bytes(der, der_len);
	assert_non_null(root);
	sim_tcb_params_default(&tp, now);
	assert_int_equal(sim_collateral_json(m.pki, &tp, &coll, &coll_len), ERR_OK);
	arena_init(&a, 32u << 20, 0);
	assert_int_equal(dcap_collateral_parse_json(coll, coll_len, &a, &dc, NULL), ERR_OK);
	memset(&trust, 0, sizeof(trust));
	memset(&pol, 0, sizeof(pol));
	trust.intel_dev_root = root;
	pol.expected_report_data = rd;
	assert_int_equal(dcap_verify(ev.quote, ev.quote_len, &dc, &trust, &pol, now, &a, &v), ERR_OK);
	/* ... and the log replays to all four RTMRs of it. */
	assert_int_equal(attest_eventlog_parse_json(ev.event_log, ev.event_log_len, &a, &log, NULL), ERR_OK);
	assert_int_equal(attest_claims_from_td(&v.td, &log, NULL, ATTEST_CLAIMS_CHECK_BOOT_RTMRS, &a, &cl, NULL),
			 ERR_OK);
	assert_int_equal(cl.rtmr3_verified, 1);
	assert_int_equal(cl.boot_rtmrs_verified, 1);
	assert_int_equal(cl.has_compose_hash, 1);
	quote_td(&ev, &td);
	assert_memory_equal(td.rtmr[3], m.rtmr[3], 48);
	tee_evidence_free(&ev);
	arena_fini(&a);
	free(coll);
	X509_free(root);

	/* The sim-only exports refuse another backend. */
	assert_int_equal(tee_sim_collateral_json(t, now, &coll, &coll_len), ERR_FAILED_PRECONDITION);
	assert_int_equal(tee_sim_dev_root_der(t, &der, &der_len), ERR_FAILED_PRECONDITION);

	tee_close(t);
	emu_stop(&m);
}

static void test_tdx_generation_race(void **state)
{
	struct emu m;
	struct tee *t;
	struct tee_evidence ev;
	struct attest_td_report td;
	uint8_t rd[64];

	(void)state;
	emu_start(&m, EMU_TDX);
	m.race_once = 1;
	emu_run(&m);
	t = emu_open(&m, 5000);
	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)i;
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(tee_quote(t, rd, &ev, NULL), ERR_OK);
	/* Generation jumped by two around our one write: the backend retried on a new entry. */
	quote_td(&ev, &td);
	assert_memory_equal(td.report_data, rd, 64);
	pthread_mutex_lock(&m.mu);
	assert_int_equal(m.raced, 1);
	assert_int_equal(m.served, 2);
	pthread_mutex_unlock(&m.mu);
	tee_evidence_free(&ev);
	tee_close(t);
	emu_stop(&m);
}

static void test_tdx_foreign_report(void **state)
{
	struct emu m;
	struct tee *t;
	struct tee_evidence ev;
	struct attest_td_report td;
	uint8_t rd[64];

	(void)state;
	emu_start(&m, EMU_TDX);
	m.foreign_once = 1;
	emu_run(&m);
	t = emu_open(&m, 5000);
	memset(rd, 0x3c, sizeof(rd));
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(tee_quote(t, rd, &ev, NULL), ERR_OK);
	quote_td(&ev, &td);
	assert_memory_equal(td.report_data, rd, 64);
	pthread_mutex_lock(&m.mu);
	assert_int_equal(m.served, 2);
	pthread_mutex_unlock(&m.mu);
	tee_evidence_free(&ev);
	tee_close(t);
	emu_stop(&m);
}

static void test_tdx_wrong_provider(void **state)
{
	struct emu m;
	struct tee *t;
	struct tee_evidence ev;
	uint8_t rd[64] = { 1 };
	const char *detail = NULL;

	(void)state;
	emu_start(&m, EMU_TDX);
	m.provider = "sev_guest\n";
	emu_run(&m);
	t = emu_open(&m, 5000);
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(tee_quote(t, rd, &ev, &detail), ERR_FAILED_PRECONDITION);
	assert_non_null(detail);
	assert_null(ev.quote);
	tee_close(t);
	emu_stop(&m);
}

static void test_tdx_timeout(void **state)
{
	struct emu m;
	struct tee *t;
	struct tee_evidence ev;
	uint8_t rd[64] = { 2 };
	uint64_t t0, dt;

	(void)state;
	emu_start(&m, EMU_TDX);
	m.never_answer = 1;
	emu_run(&m);
	t = emu_open(&m, 300);
	memset(&ev, 0, sizeof(ev));
	t0 = mono_ms();
	assert_int_equal(tee_quote(t, rd, &ev, NULL), ERR_IO_TIMEOUT);
	dt = mono_ms() - t0;
	assert_true(dt >= 290 && dt < 3000);
	/* The next request is bounded the same way (the slot was freed). */
	t0 = mono_ms();
	assert_int_equal(tee_quote_with_log(t, rd, &ev, NULL), ERR_IO_TIMEOUT);
	dt = mono_ms() - t0;
	assert_true(dt >= 290 && dt < 3000);
	tee_close(t);
	emu_stop(&m);
}

static void test_tdx_no_configfs(void **state)
{
	struct emu m;
	struct tee_config c;
	struct tee *t = NULL;
	struct tee_evidence ev;
	uint8_t rd[64] = { 3 };
	char missing[400];

	(void)state;
	emu_start(&m, EMU_TDX);
	emu_run(&m);
	emu_config(&m, &c, 1000);
	snprintf(missing, sizeof(missing), "%s/no-tsm", m.root);
	c.tsm_dir = missing;
	assert_int_equal(tee_open(&c, &t, NULL), ERR_OK);
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(tee_quote(t, rd, &ev, NULL), ERR_UNAVAILABLE);
	tee_close(t);
	/* No CCEL: the tdx backend cannot give a complete event log and refuses to open. */
	emu_config(&m, &c, 1000);
	c.ccel_path = missing;
	assert_int_equal(tee_open(&c, &t, NULL), ERR_NOT_FOUND);
	/* No RTMR3 file (kernel < 6.16): extension is unavailable and nothing is logged. */
	emu_config(&m, &c, 1000);
	c.tdx_rtmr3_path = missing;
	assert_int_equal(tee_open(&c, &t, NULL), ERR_OK);
	assert_int_equal(tee_extend_runtime_event(t, "app-id", NULL, 0, NULL), ERR_UNAVAILABLE);
	{
		struct tee_info info;

		assert_int_equal(tee_info(t, &info, NULL), ERR_OK);
		assert_int_equal(info.n_runtime_events, 0);
	}
	tee_close(t);
	t = emu_open(&m, 1000);
	tee_close(t);
	emu_stop(&m);
}

/* Reopen: continue, discard after a "reboot", refuse a foreign RTMR3. */
static void test_tdx_reopen(void **state)
{
	struct emu m;
	struct tee *t;
	struct tee_config c;
	struct tee_info info;
	uint8_t junk[48];

	(void)state;
	emu_start(&m, EMU_TDX);
	emu_run(&m);
	t = emu_open(&m, 5000);
	extend_ok(t, "system-preparing", NULL, 0);
	extend_ok(t, "boot-mr-done", NULL, 0);
	tee_close(t);
	/* Let the emulator apply the extensions to its readable RTMR3 file. */
	for (int i = 0; i < 200; i++) {
		int n;

		pthread_mutex_lock(&m.mu);
		emu_step(&m);
		n = memcmp(m.rtmr[3], (uint8_t[48]){ 0 }, 48) != 0;
		pthread_mutex_unlock(&m.mu);
		if (n)
			break;
	}
	t = emu_open(&m, 5000);
	assert_int_equal(tee_info(t, &info, NULL), ERR_OK);
	assert_int_equal(info.n_runtime_events, 2);
	assert_memory_equal(info.rtmr[3], info.log_rtmr[3], 48);
	tee_close(t);

	/* Someone else extended RTMR3: refuse. */
	pthread_mutex_lock(&m.mu);
	memset(junk, 0xee, sizeof(junk));
	put_file(m.meas, "rtmr3:sha384", junk, 48);
	pthread_mutex_unlock(&m.mu);
	emu_config(&m, &c, 5000);
	t = NULL;
	assert_int_equal(tee_open(&c, &t, NULL), ERR_ATTEST_RTMR_MISMATCH);

	/* A new boot (RTMR3 zero): the old log is dropped. */
	pthread_mutex_lock(&m.mu);
	memset(m.rtmr[3], 0, 48);
	put_file(m.meas, "rtmr3:sha384", m.rtmr[3], 48);
	pthread_mutex_unlock(&m.mu);
	t = emu_open(&m, 5000);
	assert_int_equal(tee_info(t, &info, NULL), ERR_OK);
	assert_int_equal(info.n_runtime_events, 0);
	tee_close(t);
	emu_stop(&m);
}

/* Replace `from` (first occurrence) by `to` in a malloc'd string. */
static char *replace(char *s, const char *from, const char *to)
{
	char *p = strstr(s, from), *r;
	size_t a, b, c;

	assert_non_null(p);
	a = (size_t)(p - s);
	b = strlen(from);
	c = strlen(to);
	r = malloc(strlen(s) - b + c + 1);
	assert_non_null(r);
	memcpy(r, s, a);
	memcpy(r + a, to, c);
	memcpy(r + a + c, p + b, strlen(p + b) + 1);
	free(s);
	return r;
}

/* A crash between "pending written" and "committed", in both of its outcomes. */
static void test_tdx_pending_event_recovery(void **state)
{
	struct emu m;
	struct tee *t;
	struct tee_info info;
	struct buf_writer w;
	char path[400], *text, *entry, *p, *q, zeros[97];
	size_t len;

	(void)state;
	emu_start(&m, EMU_TDX);
	emu_run(&m);
	t = emu_open(&m, 5000);
	extend_ok(t, "app-id", "01234567890123456789", 20);
	tee_close(t);
	for (int i = 0; i < 200; i++) {
		int n;

		pthread_mutex_lock(&m.mu);
		emu_step(&m);
		n = memcmp(m.rtmr[3], (uint8_t[48]){ 0 }, 48) != 0;
		pthread_mutex_unlock(&m.mu);
		if (n)
			break;
	}

	/* Rewrite the state as the crash left it: the event pending, RTMR3 recorded as before it. */
	snprintf(path, sizeof(path), "%s/tee-state.json", m.state);
	buf_writer_init(&w, 1u << 20);
	assert_int_equal(file_read_all(path, 1u << 20, 1, &w), ERR_OK);
	text = strdup(buf_cstr(&w));
	buf_writer_free(&w);
	p = strstr(text, "\"events\":[");
	q = strstr(text, "],\"pending\":[]");
	assert_non_null(p);
	assert_non_null(q);
	p += strlen("\"events\":[");
	entry = strndup(p, (size_t)(q - p));
	memmove(p, q, strlen(q) + 1);
	{
		char *pend = malloc(strlen(entry) + 32);

		snprintf(pend, strlen(entry) + 32, "\"pending\":[%s]", entry);
		text = replace(text, "\"pending\":[]", pend);
		free(pend);
	}
	memset(zeros, '0', 96);
	zeros[96] = '\0';
	p = strstr(text, "],\"events\"");
	assert_non_null(p);
	memcpy(p - 97, zeros, 96);
	len = strlen(text);
	assert_int_equal(file_write_atomic(path, text, len, 0600), ERR_OK);

	/* The hardware has the extension: the event is committed. */
	t = emu_open(&m, 5000);
	assert_int_equal(tee_info(t, &info, NULL), ERR_OK);
	assert_int_equal(info.n_runtime_events, 1);
	assert_memory_equal(info.log_rtmr[3], m.rtmr[3], 48);
	tee_close(t);

	/* The hardware does not have it (RTMR3 equals the replay without it): the pending event is dropped. */
	assert_int_equal(file_write_atomic(path, text, len, 0600), ERR_OK);
	pthread_mutex_lock(&m.mu);
	memset(m.rtmr[3], 0, 48);
	put_file(m.meas, "rtmr3:sha384", m.rtmr[3], 48);
	pthread_mutex_unlock(&m.mu);
	t = emu_open(&m, 5000);
	assert_int_equal(tee_info(t, &info, NULL), ERR_OK);
	assert_int_equal(info.n_runtime_events, 0);
	tee_close(t);

	free(entry);
	free(text);
	emu_stop(&m);
}

/* ---- sev-snp ---- */

static void test_snp_report_and_certs(void **state)
{
	struct emu m;
	struct tee *t;
	struct tee_evidence ev;
	struct tee_info info;
	const struct tee_snp_cert *c;
	const uint8_t *vcek;
	size_t vcek_len, chain_len = 0;
	char *chain = NULL, *json = NULL;
	size_t json_len = 0;
	struct attest_trust trust;
	struct attest_policy pol;
	struct attest_verdict v;
	struct attest_eventlog log;
	struct arena a;
	uint8_t rd[64];
	const uint8_t *arkd;
	size_t ark_len;
	X509 *ark;

	(void)state;
	emu_start(&m, EMU_SNP);
	emu_run(&m);
	t = emu_open(&m, 5000);
	for (int i = 0; i < 64; i++)
		rd[i] = (uint8_t)(0xa0 ^ i);
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(tee_quote(t, rd, &ev, NULL), ERR_OK);
	assert_int_equal(ev.platform, TEE_PLATFORM_SEV_SNP);
	assert_int_equal(ev.quote_len, SNP_REPORT_SIZE);
	assert_int_equal(ev.aux_len, m.aux_len);
	assert_int_equal(ev.certs.n, 3);
	assert_int_equal(ev.certs.cert[0].kind, TEE_SNP_CERT_VCEK);
	assert_int_equal(ev.certs.cert[1].kind, TEE_SNP_CERT_ASK);
	assert_int_equal(ev.certs.cert[2].kind, TEE_SNP_CERT_ARK);
	assert_int_equal(sim_cert_der(m.pki, SIM_CERT_VCEK, &vcek, &vcek_len), ERR_OK);
	c = tee_snp_certs_find(&ev.certs, TEE_SNP_CERT_VCEK);
	assert_non_null(c);
	assert_int_equal(c->len, vcek_len);
	assert_memory_equal(c->der, vcek, vcek_len);
	assert_null(tee_snp_certs_find(&ev.certs, TEE_SNP_CERT_VLEK));

	/* The report verifies with the VCEK the table carried. */
	assert_int_equal(sim_amd_chain(m.pki, &chain, &chain_len), ERR_OK);
	assert_int_equal(sim_cert_der(m.pki, SIM_CERT_ARK, &arkd, &ark_len), ERR_OK);
	ark = x509_from_bytes(arkd, ark_len);
	assert_non_null(ark);
	memset(&trust, 0, sizeof(trust));
	memset(&pol, 0, sizeof(pol));
	trust.amd_dev_ark = ark;
	pol.expected_report_data = rd;
	assert_int_equal(snp_verify(ev.quote, ev.quote_len, c->der, c->len, chain, chain_len, NULL, 0, &trust, &pol,
				    wall_s(), NULL, &v),
			 ERR_OK);
	assert_int_equal(v.dev, 1);
	tee_evidence_free(&ev);

	/* Runtime events are logged (no register to extend) and the log parses. */
	extend_ok(t, "system-preparing", NULL, 0);
	extend_ok(t, "app-id", "01234567890123456789", 20);
	assert_int_equal(tee_info(t, &info, NULL), ERR_OK);
	assert_string_equal(info.backend, "sev-snp");
	assert_int_equal(info.platform, TEE_PLATFORM_SEV_SNP);
	assert_int_equal(info.mr_mask, 0);
	assert_int_equal(info.n_boot_events, 0);
	assert_int_equal(info.n_runtime_events, 2);
	assert_int_equal(tee_event_log_json(t, &json, &json_len, NULL), ERR_OK);
	arena_init(&a, 8u << 20, 0);
	assert_int_equal(attest_eventlog_parse_json(json, json_len, &a, &log, NULL), ERR_OK);
	assert_int_equal(log.n, 2);
	assert_memory_equal(log.rtmr[3], info.log_rtmr[3], 48);
	/* With the log: no RTMR to compare, the log comes along. */
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(tee_quote_with_log(t, rd, &ev, NULL), ERR_OK);
	assert_string_equal(ev.event_log, json);
	tee_evidence_free(&ev);
	arena_fini(&a);
	free(json);
	free(chain);
	X509_free(ark);
	tee_close(t);

	/* The log survives a restart. */
	t = emu_open(&m, 5000);
	assert_int_equal(tee_info(t, &info, NULL), ERR_OK);
	assert_int_equal(info.n_runtime_events, 2);
	tee_close(t);
	emu_stop(&m);
}

static void test_snp_bad_cert_table(void **state)
{
	struct emu m;
	struct tee *t;
	struct tee_evidence ev;
	uint8_t rd[64] = { 9 };
	const char *detail = NULL;
	err_t rc;

	(void)state;
	emu_start(&m, EMU_SNP);
	m.bad_certs = 1;
	free(m.aux);
	emu_build_aux(&m);
	emu_run(&m);
	t = emu_open(&m, 5000);
	memset(&ev, 0, sizeof(ev));
	rc = tee_quote(t, rd, &ev, &detail);
	assert_int_equal(rc, ERR_PROTO_TRUNCATED);
	assert_non_null(strstr(detail, "beyond the end"));
	assert_null(ev.quote);
	assert_null(ev.aux);
	tee_close(t);
	emu_stop(&m);
}

static void test_snp_wrong_provider(void **state)
{
	struct emu m;
	struct tee *t;
	struct tee_evidence ev;
	uint8_t rd[64] = { 4 };

	(void)state;
	emu_start(&m, EMU_SNP);
	m.provider = "tdx_guest";
	emu_run(&m);
	t = emu_open(&m, 5000);
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(tee_quote(t, rd, &ev, NULL), ERR_FAILED_PRECONDITION);
	tee_close(t);
	emu_stop(&m);
}

/* ---- the certificate table parser on its own ---- */

/* A DER SEQUENCE of n bytes in total (n >= 2, < 64 KiB). */
static uint8_t *der_of(size_t n)
{
	uint8_t *p = calloc(1, n);

	assert_non_null(p);
	p[0] = 0x30;
	if (n - 2 < 0x80) {
		p[1] = (uint8_t)(n - 2);
	} else if (n - 3 < 0x100) {
		p[1] = 0x81;
		p[2] = (uint8_t)(n - 3);
	} else {
		p[1] = 0x82;
		p[2] = (uint8_t)((n - 4) >> 8);
		p[3] = (uint8_t)(n - 4);
	}
	return p;
}

static err_t parse_entries(const struct tbl_entry *e, size_t n, size_t pad, struct tee_snp_certs *out)
{
	size_t len = 0;
	uint8_t *p = build_table(e, n, pad, &len);
	err_t rc = tee_snp_certs_parse(p, len, out, NULL);

	free(p);
	return rc;
}

static void test_snp_cert_table_parser(void **state)
{
	static const uint8_t other[16] = { 0x11, 0x22 };
	uint8_t *a = der_of(100), *b = der_of(300), *c = der_of(5000), *notder = calloc(1, 50);
	struct tee_snp_certs out;
	struct tbl_entry e[3] = {
		{ GUID_VCEK, a, 100, -1, -1 },
		{ GUID_ASK, b, 300, -1, -1 },
		{ GUID_ARK, c, 5000, -1, -1 },
	};
	uint8_t term[24] = { 0 };
	size_t len = 0;
	uint8_t *p;
	const char *detail = NULL;

	(void)state;
	assert_non_null(notder);
	assert_int_equal(parse_entries(e, 3, 0, &out), ERR_OK);
	assert_int_equal(out.n, 3);
	assert_int_equal(out.cert[2].len, 5000);
	/* Zero padding after the certificates (a page-rounded buffer) is fine. */
	assert_int_equal(parse_entries(e, 3, 4096, &out), ERR_OK);
	/* An empty blob, or only a terminator: no certificates. */
	assert_int_equal(tee_snp_certs_parse(NULL, 0, &out, NULL), ERR_OK);
	assert_int_equal(out.n, 0);
	assert_int_equal(tee_snp_certs_parse(term, sizeof(term), &out, NULL), ERR_OK);
	assert_int_equal(out.n, 0);
	/* No terminator. */
	assert_int_equal(tee_snp_certs_parse(term, 23, &out, NULL), ERR_PROTO_TRUNCATED);
	p = build_table(e, 1, 0, &len);
	assert_int_equal(tee_snp_certs_parse(p, 24, &out, NULL), ERR_PROTO_TRUNCATED);
	free(p);
	/* Non-zero bytes after the certificates. */
	{
		uint8_t *q = build_table(e, 3, 8, &len);

		q[len - 3] = 1;
		assert_int_equal(tee_snp_certs_parse(q, len, &out, &detail), ERR_PROTO_MALFORMED);
		/* A terminator with an offset. */
		q[len - 3] = 0;
		q[3 * 24 + 16] = 1;
		assert_int_equal(tee_snp_certs_parse(q, len, &out, NULL), ERR_PROTO_MALFORMED);
		free(q);
	}
	/* An entry that points into the table. */
	e[1].off_override = 10;
	assert_int_equal(parse_entries(e, 3, 0, &out), ERR_PROTO_MALFORMED);
	/* Past the end, and an offset that wraps with its length. */
	e[1].off_override = 100000;
	assert_int_equal(parse_entries(e, 3, 0, &out), ERR_PROTO_TRUNCATED);
	e[1].off_override = 0xffffffffL;
	assert_int_equal(parse_entries(e, 3, 0, &out), ERR_PROTO_TRUNCATED);
	e[1].off_override = -1;
	e[1].len_override = 0xffffffffL;
	assert_int_equal(parse_entries(e, 3, 0, &out), ERR_PROTO_TOO_LARGE);
	/* Empty. */
	e[1].len_override = 0;
	assert_int_equal(parse_entries(e, 3, 0, &out), ERR_PROTO_MALFORMED);
	e[1].len_override = -1;
	/* Two entries over the same bytes. */
	e[1].off_override = 4 * 24;
	assert_int_equal(parse_entries(e, 3, 0, &out), ERR_PROTO_MALFORMED);
	e[1].off_override = -1;
	/* A GUID twice. */
	e[1].guid = GUID_VCEK;
	assert_int_equal(parse_entries(e, 3, 0, &out), ERR_PROTO_MALFORMED);
	/* A known GUID whose bytes are not one DER SEQUENCE of that length. */
	e[1].guid = GUID_ASK;
	e[1].data = notder;
	e[1].len = 50;
	assert_int_equal(parse_entries(e, 3, 0, &out), ERR_PROTO_MALFORMED);
	e[1].data = b;
	e[1].len = 299;
	assert_int_equal(parse_entries(e, 3, 0, &out), ERR_PROTO_MALFORMED);
	/* An unknown GUID is kept, and its bytes are not interpreted. */
	e[1].guid = other;
	e[1].data = notder;
	e[1].len = 50;
	assert_int_equal(parse_entries(e, 3, 0, &out), ERR_OK);
	assert_int_equal(out.cert[1].kind, TEE_SNP_CERT_OTHER);
	assert_memory_equal(out.cert[1].guid, other, 16);
	/* Too many entries. */
	{
		struct tbl_entry many[17];
		uint8_t guids[17][16];

		for (int i = 0; i < 17; i++) {
			memset(guids[i], 0, 16);
			guids[i][0] = (uint8_t)(i + 1);
			many[i] = (struct tbl_entry){ guids[i], notder, 50, -1, -1 };
		}
		assert_int_equal(parse_entries(many, 16, 0, &out), ERR_OK);
		assert_int_equal(out.n, 16);
		assert_int_equal(parse_entries(many, 17, 0, &out), ERR_PROTO_TOO_LARGE);
	}
	/* A certificate over 64 KiB. */
	{
		uint8_t *huge = der_of(TEE_SNP_MAX_CERT_LEN + 1);

		e[1] = (struct tbl_entry){ GUID_ASK, huge, TEE_SNP_MAX_CERT_LEN + 1, -1, -1 };
		assert_int_equal(parse_entries(e, 3, 0, &out), ERR_PROTO_TOO_LARGE);
		free(huge);
	}
	free(a);
	free(b);
	free(c);
	free(notder);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tdx_roundtrip),
		cmocka_unit_test(test_tdx_generation_race),
		cmocka_unit_test(test_tdx_foreign_report),
		cmocka_unit_test(test_tdx_wrong_provider),
		cmocka_unit_test(test_tdx_timeout),
		cmocka_unit_test(test_tdx_no_configfs),
		cmocka_unit_test(test_tdx_reopen),
		cmocka_unit_test(test_tdx_pending_event_recovery),
		cmocka_unit_test(test_snp_report_and_certs),
		cmocka_unit_test(test_snp_bad_cert_table),
		cmocka_unit_test(test_snp_wrong_provider),
		cmocka_unit_test(test_snp_cert_table_parser),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
