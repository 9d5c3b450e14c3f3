/* SPDX-License-Identifier: Apache-2.0 */
/* The KMS's audit log of root-material movements: onboardings served and received, epoch syncs, share exports, recoveries. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"
#include "kms_audit.h"
#include "log.h"
#include "pbcodec.h"

struct rec {
	uint8_t *p;     /* encoded OnboardingRecord */
	size_t n;
};

struct kms_audit {
	int fd;
	struct rec *v;
	size_t n, cap;
};

err_t kms_audit_parse(const uint8_t *p, size_t n, size_t *records, size_t *torn_tail)
{
	struct buf_reader r;
	struct arena mem;
	err_t err = ERR_OK;

	*records = 0;
	*torn_tail = 0;
	buf_reader_init(&r, p, n);
	arena_init(&mem, 2 * KMS_AUDIT_RECORD_MAX, 0);
	while (buf_remaining(&r) > 0) {
		const uint8_t *body;
		ProtobufCMessage *m;
		uint32_t len;

		/* A short last record is a torn append (a crash mid-write); an impossible length is damage. */
		if (buf_remaining(&r) < 4) {
			*torn_tail = buf_remaining(&r);
			break;
		}
		if (buf_get_u32be(&r, &len) != ERR_OK)
			break;
		if (len > KMS_AUDIT_RECORD_MAX) {
			err = ERR_PROTO_TOO_LARGE;
			break;
		}
		if (buf_remaining(&r) < len) {
			*torn_tail = 4 + buf_remaining(&r);
			break;
		}
		if (buf_get_view(&r, len, &body) != ERR_OK)
			break;
		arena_reset(&mem);
		if ((err = pb_decode(&dstack__kms__v1__onboarding_record__descriptor, body, len, KMS_AUDIT_RECORD_MAX, &mem,
				     &m)) != ERR_OK)
			break;
		if (++*records > KMS_AUDIT_MAX_RECORDS) {
			err = ERR_PROTO_TOO_LARGE;
			break;
		}
	}
	arena_fini(&mem);
	return err;
}

static err_t keep(struct kms_audit *a, const uint8_t *p, size_t n)
{
	struct rec *v;

	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 64;

		if (!(v = realloc(a->v, cap * sizeof(*v))))
			return ERR_NOMEM;
		a->v = v;
		a->cap = cap;
	}
	if (!(a->v[a->n].p = malloc(n ? n : 1)))
		return ERR_NOMEM;
	memcpy(a->v[a->n].p, p, n);
	a->v[a->n++].n = n;
	return ERR_OK;
}

err_t kms_audit_open(const char *state_dir, struct kms_audit **out, const char **detail)
{
	struct kms_audit *a = calloc(1, sizeof(*a));
	struct buf_writer path, data;
	const char *ps;
	size_t records = 0, torn = 0;
	err_t err;

	if (!a)
		return ERR_NOMEM;
	a->fd = -1;
	buf_writer_init(&path, 4096);
	buf_writer_init(&data, (size_t)KMS_AUDIT_MAX_RECORDS * 256);
	buf_printf(&path, "%s/%s", state_dir, KMS_AUDIT_FILE);
	if (!(ps = buf_cstr(&path))) {
		err = ERR_NOMEM;
		goto fail;
	}
	err = file_read_all(ps, data.max, 0, &data);
	if (err == ERR_NOT_FOUND) {
		err = ERR_OK;
	} else if (err != ERR_OK) {
		*detail = "cannot read the audit log";
		goto fail;
	} else if ((err = kms_audit_parse(data.p, data.len, &records, &torn)) != ERR_OK) {
		*detail = "the audit log is damaged (not just a torn last record): refusing to start";
		goto fail;
	}
	if (torn) {
		log_warn("kms", "audit log: dropping a torn last record (%zu bytes), from a crash mid-append", torn);
		if (truncate(ps, (off_t)(data.len - torn)) != 0) {
			*detail = "cannot truncate the torn audit record";
			err = ERR_IO_FILE;
			goto fail;
		}
	}
	for (size_t off = 0, i = 0; i < records; i++) {
		uint32_t len = (uint32_t)data.p[off] << 24 | (uint32_t)data.p[off + 1] << 16 |
			       (uint32_t)data.p[off + 2] << 8 | data.p[off + 3];

		if ((err = keep(a, data.p + off + 4, len)) != ERR_OK)
			goto fail;
		off += 4 + len;
	}
	a->fd = open(ps, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (a->fd < 0) {
		*detail = "cannot open the audit log for appending";
		err = ERR_IO_FILE;
		goto fail;
	}
	buf_writer_free(&path);
	buf_writer_free(&data);
	*out = a;
	return ERR_OK;
fail:
	buf_writer_free(&path);
	buf_writer_free(&data);
	kms_audit_close(a);
	return err;
}

void kms_audit_close(struct kms_audit *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i].p);
	free(a->v);
	free(a);
}

err_t kms_audit_append(struct kms_audit *a, Dstack__Kms__V1__OnboardingRecord *r)
{
	struct buf_writer w;
	char id[48];
	err_t err;

	snprintf(id, sizeof(id), "%" PRIu64 "-%zu", r->started_at_unix, a->n + 1);
	r->id = id;
	buf_writer_init(&w, KMS_AUDIT_RECORD_MAX + 4);
	buf_put_u32be(&w, 0);
	if ((err = pb_encode(&r->base, &w)) == ERR_OK) {
		uint32_t n = (uint32_t)(w.len - 4);

		w.p[0] = (uint8_t)(n >> 24);
		w.p[1] = (uint8_t)(n >> 16);
		w.p[2] = (uint8_t)(n >> 8);
		w.p[3] = (uint8_t)n;
		if ((err = write_all(a->fd, w.p, w.len)) == ERR_OK && fsync(a->fd) != 0)
			err = ERR_IO_FILE;
		if (err == ERR_OK)
			err = keep(a, w.p + 4, n);
	}
	buf_writer_free(&w);
	r->id = NULL;
	return err;
}

err_t kms_audit_list(struct kms_audit *a, uint32_t limit, const char *page_token, struct arena *mem,
		     Dstack__Kms__V1__ListOnboardingsResponse *out)
{
	size_t start = a->n, count;

	if (!limit)
		limit = 100;
	limit = MIN(limit, 1000u);
	if (page_token && *page_token) {
		char *end;
		unsigned long long v = strtoull(page_token, &end, 10);

		if (*end || v > a->n)
			return ERR_INVALID_ARG;
		start = (size_t)v;
	}
	count = MIN((size_t)limit, start);
	out->records = arena_alloc(mem, (count ? count : 1) * sizeof(*out->records));
	if (!out->records)
		return ERR_NOMEM;
	for (size_t i = 0; i < count; i++) {
		const struct rec *r = &a->v[start - 1 - i];
		ProtobufCMessage *m;
		err_t err = pb_decode(&dstack__kms__v1__onboarding_record__descriptor, r->p, r->n, KMS_AUDIT_RECORD_MAX,
				      mem, &m);

		if (err != ERR_OK)
			return err;
		out->records[out->n_records++] = (Dstack__Kms__V1__OnboardingRecord *)m;
	}
	if (start - count > 0)
		out->next_page_token = arena_printf(mem, "%zu", start - count);
	return ERR_OK;
}
