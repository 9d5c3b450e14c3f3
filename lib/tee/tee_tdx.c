/* SPDX-License-Identifier: Apache-2.0 */
/* The `tdx` backend: configfs-tsm quotes, RTMR3 through the TDX guest sysfs file, boot events from the CCEL table. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dcap.h"
#include "file.h"
#include "log.h"
#include "tee_internal.h"

#define SET_DETAIL(d, s)            \
	do {                        \
		if (d)              \
			*(d) = (s); \
	} while (0)

/*
 * Kernel ABI:
 *  - quotes: configfs-tsm, provider "tdx_guest" (Linux >= 6.7), see tee_tsm.c;
 *  - registers: <measurements>/{mrtd,rtmr0,rtmr1,rtmr2,rtmr3}:sha384, 48 raw
 *    bytes each, readable; writing 48 bytes to rtmr3:sha384 extends RTMR3
 *    (TDG.MR.RTMR.EXTEND). Linux >= 6.16 ("virt: tdx-guest: Expose TDX MRs
 *    as sysfs attributes"). Older kernels have neither: quotes still work,
 *    extension fails with ERR_UNAVAILABLE and mr_mask stays 0;
 *  - boot log: the CCEL ACPI table's log area as the kernel exports it at
 *    /sys/firmware/acpi/tables/data/CCEL (Linux >= 6.4): the whole log area,
 *    its unused tail 0xFF.
 */

struct tdx_be {
	struct tee_tsm *tsm;
	char meas_dir[TEE_PATH_MAX];
	char rtmr3_path[TEE_PATH_MAX];
	uint8_t *ccel;              /* the boot events' payloads point into it */
	size_t ccel_len;
	unsigned close_wait_ms;
};

static struct tdx_be *tdx_of(struct tee *t)
{
	return t->be_state;
}

/* One 48-byte measurement register file; 0 when it cannot be read as exactly 48 bytes. */
static int read_mr(const struct tdx_be *b, const char *name, uint8_t out[TEE_MR_LEN])
{
	char path[TEE_PATH_MAX];
	struct buf_writer w;
	int ok;

	if (tee_path_join(path, b->meas_dir, name) != ERR_OK)
		return 0;
	buf_writer_init(&w, 4 * TEE_MR_LEN);
	ok = file_read_all(path, 4 * TEE_MR_LEN, 0, &w) == ERR_OK && w.len == TEE_MR_LEN;
	if (ok)
		memcpy(out, w.p, TEE_MR_LEN);
	buf_writer_free(&w);
	return ok;
}

static err_t tdx_open(struct tee *t, const struct tee_config *cfg, const char **detail)
{
	const char *meas = cfg->tdx_measurements_dir ? cfg->tdx_measurements_dir : TEE_DEFAULT_TDX_MEASUREMENTS_DIR;
	const char *ccel = cfg->ccel_path ? cfg->ccel_path : TEE_DEFAULT_CCEL_PATH;
	struct buf_writer w;
	struct tdx_be *b;
	err_t rc;

	if (!(b = calloc(1, sizeof(*b))))
		return ERR_NOMEM;
	t->be_state = b;
	b->close_wait_ms = t->quote_timeout_ms;
	if (strlen(meas) >= sizeof(b->meas_dir) ||
	    (cfg->tdx_rtmr3_path && strlen(cfg->tdx_rtmr3_path) >= sizeof(b->rtmr3_path))) {
		SET_DETAIL(detail, "tdx measurement path too long");
		return ERR_CONFIG;
	}
	memcpy(b->meas_dir, meas, strlen(meas) + 1);
	if (cfg->tdx_rtmr3_path)
		memcpy(b->rtmr3_path, cfg->tdx_rtmr3_path, strlen(cfg->tdx_rtmr3_path) + 1);
	else if (tee_path_join(b->rtmr3_path, meas, "rtmr3:sha384") != ERR_OK) {
		SET_DETAIL(detail, "tdx measurement path too long");
		return ERR_CONFIG;
	}
	if ((rc = tee_tsm_new(cfg->tsm_dir ? cfg->tsm_dir : TEE_DEFAULT_TSM_DIR, "tdx_guest", &b->tsm)) != ERR_OK) {
		SET_DETAIL(detail, "configfs-tsm path too long");
		return rc;
	}

	buf_writer_init(&w, ATTEST_CCEL_MAX_LEN);
	rc = file_read_all(ccel, ATTEST_CCEL_MAX_LEN, 0, &w);
	if (rc == ERR_OK && w.len == 0)
		rc = ERR_NOT_FOUND;
	if (rc != ERR_OK) {
		buf_writer_free(&w);
		SET_DETAIL(detail, rc == ERR_NOT_FOUND ? "the CCEL boot log was not found" : "cannot read the CCEL boot log");
		return rc == ERR_PROTO_TOO_LARGE ? rc : rc == ERR_NOT_FOUND ? ERR_NOT_FOUND : ERR_IO_FILE;
	}
	b->ccel = buf_take(&w, &b->ccel_len);
	if (!b->ccel)
		return ERR_NOMEM;
	if ((rc = attest_ccel_parse(b->ccel, b->ccel_len, &t->boot_arena, &t->boot, detail)) != ERR_OK)
		return rc;
	return tee_boot_json(&t->boot, &t->boot_json, detail);
}

static void tdx_close(struct tee *t)
{
	struct tdx_be *b = tdx_of(t);

	if (!b)
		return;
	tee_tsm_release(b->tsm, b->close_wait_ms);
	free(b->ccel);
	free(b);
	t->be_state = NULL;
}

static int is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

static err_t tdx_reconcile(struct tee *t, const struct tee_loaded *l, const struct tee_rtevent *pending,
			   enum tee_reconcile *what, const char **detail)
{
	uint8_t hw[TEE_MR_LEN], next[TEE_MR_LEN];

	*what = TEE_KEEP;
	if (!read_mr(tdx_of(t), "rtmr3:sha384", hw)) {
		if (pending) {
			SET_DETAIL(detail, "a pending runtime event cannot be resolved: RTMR3 is not readable");
			return ERR_ATTEST_RTMR_MISMATCH;
		}
		if (t->n_rt)
			log_warn("tee", "tdx: RTMR3 is not readable; the runtime event log in the state dir is trusted as is");
		return ERR_OK;
	}
	if (memcmp(hw, t->rtmr3, TEE_MR_LEN) == 0)
		return ERR_OK;
	if (pending) {
		memcpy(next, t->rtmr3, TEE_MR_LEN);
		attest_rtmr_extend(next, pending->digest);
		if (memcmp(hw, next, TEE_MR_LEN) == 0) {
			*what = TEE_COMMIT_PENDING;
			return ERR_OK;
		}
	}
	if (is_zero(hw, TEE_MR_LEN)) {
		*what = TEE_DROP_LOG;
		return ERR_OK;
	}
	(void)l;
	SET_DETAIL(detail, "RTMR3 does not match the runtime event log in the state dir (extended by someone else?)");
	return ERR_ATTEST_RTMR_MISMATCH;
}

static err_t tdx_check(const uint8_t *blob, size_t len, const uint8_t rd[TEE_REPORT_DATA_LEN], const char **detail)
{
	struct dcap_quote q;
	struct attest_td_report td;
	err_t rc;

	if ((rc = dcap_quote_parse(blob, len, &q, detail)) != ERR_OK)
		return rc;
	if (q.tee_type != DCAP_TEE_TDX || (q.body_type != DCAP_BODY_TD10 && q.body_type != DCAP_BODY_TD15)) {
		SET_DETAIL(detail, "configfs-tsm returned a quote that is not a TD quote");
		return ERR_ATTEST_TEE_TYPE;
	}
	dcap_td_report_decode(q.body, q.body_len, &td);
	if (memcmp(td.report_data, rd, TEE_REPORT_DATA_LEN) != 0)
		return ERR_ATTEST_REPORT_DATA;
	return ERR_OK;
}

static err_t tdx_quote(struct tee *t, const uint8_t rd[TEE_REPORT_DATA_LEN], uint64_t deadline_ms,
		       struct tee_evidence *out, const char **detail)
{
	struct tee_tsm_result res;
	err_t rc;

	rc = tee_tsm_report(tdx_of(t)->tsm, rd, 0, tdx_check, deadline_ms, &res, detail);
	if (rc != ERR_OK)
		return rc;
	free(res.aux);
	out->quote = res.out;
	out->quote_len = res.out_len;
	return ERR_OK;
}

static err_t tdx_extend(struct tee *t, const uint8_t digest[TEE_MR_LEN], const char **detail)
{
	const char *path = tdx_of(t)->rtmr3_path;
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			SET_DETAIL(detail, "the RTMR3 sysfs file does not exist (Linux >= 6.16 tdx_guest measurements)");
			return ERR_UNAVAILABLE;
		}
		SET_DETAIL(detail, "cannot open the RTMR3 sysfs file");
		return ERR_IO_FILE;
	}
	/* The attribute takes the whole digest in one write. */
	do {
		n = write(fd, digest, TEE_MR_LEN);
	} while (n < 0 && errno == EINTR);
	if (close(fd) != 0 && n == TEE_MR_LEN)
		n = -1;
	if (n != TEE_MR_LEN) {
		SET_DETAIL(detail, "extending RTMR3 through sysfs failed");
		return ERR_IO_FILE;
	}
	return ERR_OK;
}

static void tdx_read_mrs(struct tee *t, struct tee_info *out)
{
	static const char *const names[4] = { "rtmr0:sha384", "rtmr1:sha384", "rtmr2:sha384", "rtmr3:sha384" };
	const struct tdx_be *b = tdx_of(t);

	if (read_mr(b, "mrtd:sha384", out->mrtd))
		out->mr_mask |= TEE_MR_MRTD;
	for (unsigned i = 0; i < 4; i++) {
		if (read_mr(b, names[i], out->rtmr[i]))
			out->mr_mask |= TEE_MR_RTMR0 << i;
	}
}

const struct tee_backend tee_backend_tdx = {
	.name = "tdx",
	.platform = TEE_PLATFORM_TDX,
	.simulated = 0,
	.open = tdx_open,
	.close = tdx_close,
	.reconcile = tdx_reconcile,
	.quote = tdx_quote,
	.extend = tdx_extend,
	.extended = NULL,
	.read_mrs = tdx_read_mrs,
};
