/* SPDX-License-Identifier: Apache-2.0 */
/* configfs-tsm attestation reports (Linux >= 6.7): one request at a time, on a worker thread, with the generation rule. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "log.h"
#include "tee_internal.h"

#define SET_DETAIL(d, s)            \
	do {                        \
		if (d)              \
			*(d) = (s); \
	} while (0)

/*
 * The kernel ABI (Documentation/ABI/testing/configfs-tsm-report):
 *   mkdir <tsm>/report/<entry>      a report instance with its attributes
 *   provider                        "tdx_guest" or "sev_guest" (RO)
 *   generation                      increments on every write to inblob or an option (RO)
 *   inblob                          up to 64 bytes of report data (WO; configfs commits it on close)
 *   outblob                         the report, generated on read (RO)
 *   auxblob                         SEV: the certificate table (RO, may be empty)
 *   rmdir <entry>
 * Another process writing the same entry between our inblob write and our
 * outblob read would make the outblob its report: generation tells, since it
 * must be exactly one more than before our write. We use a fresh entry per
 * attempt and retry on a new one when the count is off.
 *
 * The worker also copes with a directory that only emulates the ABI (the
 * tests): attributes that do not exist yet, and an outblob that is empty
 * until the emulator fills it, are polled until the deadline. On a real
 * configfs neither happens: attributes exist once mkdir returns and reading
 * outblob blocks in the kernel until the report is there, which is why the
 * request runs on its own thread and the caller can leave at its deadline.
 */

#define TSM_MAX_ATTEMPTS 4
#define TSM_MAX_BLOB (128u * 1024)
#define TSM_SMALL_ATTR 64

struct tee_tsm {
	pthread_mutex_t mu;
	pthread_cond_t cv;       /* busy cleared, a job finished */
	int refs;                /* the owner + each running worker */
	int busy;
	uint64_t seq;            /* entry names */
	char report_dir[TEE_PATH_MAX];
	char provider[32];
};

struct tsm_job {
	struct tee_tsm *s;
	uint8_t rd[TEE_REPORT_DATA_LEN];
	int want_aux;
	tee_tsm_check_fn check;
	uint64_t deadline;
	int refs;                /* the caller + the worker; under s->mu */
	int done, abandoned;     /* under s->mu */
	err_t rc;
	const char *detail;
	struct tee_tsm_result res;
};

static void deadline_ts(uint64_t deadline_ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(deadline_ms / 1000);
	ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
}

err_t tee_tsm_new(const char *tsm_dir, const char *provider, struct tee_tsm **out)
{
	struct tee_tsm *s;
	pthread_condattr_t ca;

	*out = NULL;
	if (strlen(provider) >= sizeof(s->provider))
		return ERR_INVALID_ARG;
	if (!(s = calloc(1, sizeof(*s))))
		return ERR_NOMEM;
	if (tee_path_join(s->report_dir, tsm_dir, "report") != ERR_OK) {
		free(s);
		return ERR_CONFIG;
	}
	memcpy(s->provider, provider, strlen(provider) + 1);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	s->refs = 1;
	*out = s;
	return ERR_OK;
}

static void tsm_destroy(struct tee_tsm *s)
{
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void tee_tsm_release(struct tee_tsm *s, unsigned wait_ms)
{
	struct timespec ts;
	int last;

	if (!s)
		return;
	deadline_ts(mono_ms() + wait_ms, &ts);
	pthread_mutex_lock(&s->mu);
	while (s->busy) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT)
			break;
	}
	if (s->busy)
		log_warn("tee", "closing while a configfs-tsm request is still in the kernel; it is left to finish");
	last = --s->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (last)
		tsm_destroy(s);
}

/* ---- one attempt, on the worker ---- */

static int job_should_stop(struct tsm_job *j)
{
	int stop;

	pthread_mutex_lock(&j->s->mu);
	stop = j->abandoned;
	pthread_mutex_unlock(&j->s->mu);
	return stop || mono_ms() >= j->deadline;
}

/* Sleep a little before polling again (only an emulated ABI needs it). */
static void poll_pause(unsigned *ms)
{
	struct timespec ts = { 0, (long)*ms * 1000000L };

	nanosleep(&ts, NULL);
	if (*ms < 10)
		(*ms)++;
}

/* Read a whole attribute (at most max bytes); ERR_NOT_FOUND when it does not exist. */
static err_t read_attr(const char *path, size_t max, struct buf_writer *w)
{
	buf_writer_clear(w);
	return file_read_all(path, max, 0, w);
}

/*
 * Read an attribute that must exist and be non-empty, polling while it is
 * absent or empty (emulated ABI) until the job must stop.
 */
static err_t read_attr_wait(struct tsm_job *j, const char *path, size_t max, struct buf_writer *w)
{
	unsigned pause = 1;
	err_t rc;

	for (;;) {
		rc = read_attr(path, max, w);
		if (rc == ERR_OK && w->len > 0)
			return ERR_OK;
		if (rc != ERR_OK && rc != ERR_NOT_FOUND)
			return rc;
		if (job_should_stop(j))
			return ERR_IO_TIMEOUT;
		poll_pause(&pause);
	}
}

/* A decimal u64 with an optional trailing newline. */
static err_t parse_generation(const struct buf_writer *w, uint64_t *out)
{
	size_t n = w->len;
	uint64_t v = 0;

	if (n && w->p[n - 1] == '\n')
		n--;
	if (n == 0 || n > 20)
		return ERR_PROTO_MALFORMED;
	for (size_t i = 0; i < n; i++) {
		unsigned d;

		if (w->p[i] < '0' || w->p[i] > '9')
			return ERR_PROTO_MALFORMED;
		d = (unsigned)(w->p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return ERR_PROTO_MALFORMED;
		v = v * 10 + d;
	}
	*out = v;
	return ERR_OK;
}

static err_t read_generation(struct tsm_job *j, const char *entry, struct buf_writer *w, uint64_t *gen)
{
	char path[TEE_PATH_MAX];
	err_t rc;

	if (tee_path_join(path, entry, "generation") != ERR_OK)
		return ERR_CONFIG;
	if ((rc = read_attr_wait(j, path, TSM_SMALL_ATTR, w)) != ERR_OK)
		return rc;
	if (parse_generation(w, gen) != ERR_OK) {
		j->detail = "configfs-tsm generation is not a number";
		return ERR_IO_FILE;
	}
	return ERR_OK;
}

static err_t write_inblob(const char *entry, const uint8_t rd[TEE_REPORT_DATA_LEN])
{
	char path[TEE_PATH_MAX];
	int fd;
	err_t rc;

	if (tee_path_join(path, entry, "inblob") != ERR_OK)
		return ERR_CONFIG;
	/* O_CREAT only matters for an emulated ABI: configfs attributes already exist. */
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return ERR_IO_FILE;
	rc = write_all(fd, rd, TEE_REPORT_DATA_LEN);
	/* configfs commits a binary attribute on close: its error is the write's. */
	if (close(fd) != 0 && rc == ERR_OK)
		rc = ERR_IO_FILE;
	return rc;
}

enum attempt_result { ATTEMPT_DONE, ATTEMPT_RACED };

/* Create an entry with a name no one else uses: dsc.<pid>.<seq>. */
static err_t make_entry(struct tsm_job *j, char entry[TEE_PATH_MAX])
{
	for (int tries = 0; tries < 16; tries++) {
		char name[64];
		uint64_t seq;

		pthread_mutex_lock(&j->s->mu);
		seq = j->s->seq++;
		pthread_mutex_unlock(&j->s->mu);
		snprintf(name, sizeof(name), "dsc.%ld.%llu", (long)getpid(), (unsigned long long)seq);
		if (tee_path_join(entry, j->s->report_dir, name) != ERR_OK)
			return ERR_CONFIG;
		if (mkdir(entry, 0700) == 0)
			return ERR_OK;
		if (errno == EEXIST)
			continue;
		if (errno == ENOENT || errno == ENOTDIR) {
			j->detail = "configfs-tsm report directory not found (Linux >= 6.7, configfs mounted, a TSM provider loaded)";
			return ERR_UNAVAILABLE;
		}
		j->detail = "cannot create a configfs-tsm report entry";
		return ERR_IO_FILE;
	}
	j->detail = "cannot find a free configfs-tsm report entry name";
	return ERR_IO_FILE;
}

static err_t attempt(struct tsm_job *j, enum attempt_result *result)
{
	char entry[TEE_PATH_MAX], path[TEE_PATH_MAX];
	struct buf_writer small, out, aux;
	uint64_t g0 = 0, g1 = 0;
	err_t rc;

	*result = ATTEMPT_DONE;
	buf_writer_init(&small, TSM_SMALL_ATTR);
	buf_writer_init(&out, TSM_MAX_BLOB);
	buf_writer_init(&aux, TSM_MAX_BLOB);
	if ((rc = make_entry(j, entry)) != ERR_OK)
		goto free_bufs;

	if ((rc = read_generation(j, entry, &small, &g0)) != ERR_OK)
		goto out;
	if ((rc = tee_path_join(path, entry, "provider")) != ERR_OK ||
	    (rc = read_attr_wait(j, path, TSM_SMALL_ATTR, &small)) != ERR_OK)
		goto out;
	if (small.len && small.p[small.len - 1] == '\n')
		small.len--;
	if (small.len != strlen(j->s->provider) || memcmp(small.p, j->s->provider, small.len) != 0) {
		j->detail = "the configfs-tsm provider is not the one this backend speaks to";
		rc = ERR_FAILED_PRECONDITION;
		goto out;
	}
	if ((rc = write_inblob(entry, j->rd)) != ERR_OK) {
		j->detail = "cannot write the configfs-tsm inblob";
		goto out;
	}
	if ((rc = tee_path_join(path, entry, "outblob")) != ERR_OK ||
	    (rc = read_attr_wait(j, path, TSM_MAX_BLOB, &out)) != ERR_OK) {
		if (rc == ERR_IO_FILE)
			j->detail = "reading the configfs-tsm outblob failed (the TSM could not produce a report)";
		goto out;
	}
	if (j->want_aux) {
		if ((rc = tee_path_join(path, entry, "auxblob")) != ERR_OK)
			goto out;
		rc = read_attr(path, TSM_MAX_BLOB, &aux);
		if (rc == ERR_NOT_FOUND) {
			buf_writer_clear(&aux);
			rc = ERR_OK;
		}
		if (rc != ERR_OK) {
			j->detail = "reading the configfs-tsm auxblob failed";
			goto out;
		}
	}
	if ((rc = read_generation(j, entry, &small, &g1)) != ERR_OK)
		goto out;
	if (g1 != g0 + 1) {
		log_warn("tee", "configfs-tsm generation went from %llu to %llu around one write: another writer; retrying",
			 (unsigned long long)g0, (unsigned long long)g1);
		*result = ATTEMPT_RACED;
		goto out;
	}
	rc = j->check(out.p, out.len, j->rd, &j->detail);
	if (rc == ERR_ATTEST_REPORT_DATA) {
		log_warn("tee", "configfs-tsm returned a report over other report data; retrying");
		*result = ATTEMPT_RACED;
		rc = ERR_OK;
		goto out;
	}
	if (rc != ERR_OK)
		goto out;
	j->res.out = buf_take(&out, &j->res.out_len);
	if (aux.len)
		j->res.aux = buf_take(&aux, &j->res.aux_len);
	if (!j->res.out || (aux.len && !j->res.aux))
		rc = ERR_NOMEM;
out:
	/* Cleanup only; an emulated ABI leaves files behind and refuses (ENOTEMPTY). */
	if (rmdir(entry) != 0 && errno != ENOTEMPTY)
		log_debug("tee", "cannot remove configfs-tsm entry %s", entry);
free_bufs:
	buf_writer_free(&small);
	buf_writer_free(&out);
	buf_writer_free(&aux);
	return rc;
}

static void *worker(void *arg)
{
	struct tsm_job *j = arg;
	struct tee_tsm *s = j->s;
	enum attempt_result r = ATTEMPT_RACED;
	int free_job, free_slot;
	err_t rc = ERR_OK;

	for (int i = 0; i < TSM_MAX_ATTEMPTS && r == ATTEMPT_RACED; i++) {
		if (i > 0 && job_should_stop(j)) {
			rc = ERR_IO_TIMEOUT;
			break;
		}
		rc = attempt(j, &r);
		if (rc != ERR_OK)
			break;
	}
	if (rc == ERR_OK && r == ATTEMPT_RACED) {
		j->detail = "configfs-tsm generation kept changing under concurrent writers";
		rc = ERR_UNAVAILABLE;
	}
	if (rc == ERR_IO_TIMEOUT && !j->detail)
		j->detail = "timed out waiting for the configfs-tsm report";

	pthread_mutex_lock(&s->mu);
	j->rc = rc;
	j->done = 1;
	if (j->abandoned || rc != ERR_OK) {
		free(j->res.out);
		free(j->res.aux);
		memset(&j->res, 0, sizeof(j->res));
	}
	s->busy = 0;
	pthread_cond_broadcast(&s->cv);
	free_job = --j->refs == 0;
	free_slot = --s->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (free_job)
		free(j);
	if (free_slot)
		tsm_destroy(s);
	return NULL;
}

err_t tee_tsm_report(struct tee_tsm *s, const uint8_t rd[TEE_REPORT_DATA_LEN], int want_aux, tee_tsm_check_fn check,
		     uint64_t deadline_ms, struct tee_tsm_result *res, const char **detail)
{
	struct tsm_job *j;
	struct timespec ts;
	pthread_attr_t attr;
	pthread_t th;
	int free_job;
	err_t rc;

	memset(res, 0, sizeof(*res));
	if (!(j = calloc(1, sizeof(*j))))
		return ERR_NOMEM;
	j->s = s;
	memcpy(j->rd, rd, TEE_REPORT_DATA_LEN);
	j->want_aux = want_aux;
	j->check = check;
	j->deadline = deadline_ms;
	j->refs = 2;
	deadline_ts(deadline_ms, &ts);

	pthread_mutex_lock(&s->mu);
	while (s->busy) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT && s->busy) {
			pthread_mutex_unlock(&s->mu);
			free(j);
			SET_DETAIL(detail, "timed out waiting for an earlier configfs-tsm request");
			return ERR_IO_TIMEOUT;
		}
	}
	s->busy = 1;
	s->refs++;
	pthread_mutex_unlock(&s->mu);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, worker, j) != 0) {
		pthread_attr_destroy(&attr);
		pthread_mutex_lock(&s->mu);
		s->busy = 0;
		s->refs--;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		free(j);
		SET_DETAIL(detail, "cannot start the configfs-tsm worker thread");
		return ERR_NOMEM;
	}
	pthread_attr_destroy(&attr);

	pthread_mutex_lock(&s->mu);
	while (!j->done) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &ts) == ETIMEDOUT && !j->done) {
			j->abandoned = 1;
			break;
		}
	}
	if (j->done) {
		rc = j->rc;
		SET_DETAIL(detail, j->detail);
		*res = j->res;
		memset(&j->res, 0, sizeof(j->res));
	} else {
		rc = ERR_IO_TIMEOUT;
		SET_DETAIL(detail, "timed out waiting for the configfs-tsm report");
	}
	free_job = --j->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (free_job)
		free(j);
	return rc;
}
