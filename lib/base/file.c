/* SPDX-License-Identifier: Apache-2.0 */
/* Whole-file I/O: durable atomic replacement and bounded reads. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

err_t write_all(int fd, const void *p, size_t n)
{
	const uint8_t *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return ERR_IO_FILE;
		c += w;
		n -= (size_t)w;
	}
	return ERR_OK;
}

/* fsync the directory holding `path`, so a rename in it is durable. */
static void sync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int dfd;

	if (!slash) {
		dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		size_t len = slash == path ? 1 : (size_t)(slash - path);

		if (!(dir = strndup(path, len)))
			return;
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		free(dir);
	}
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
}

err_t file_write_atomic(const char *path, const void *p, size_t n, mode_t mode)
{
	struct buf_writer tmpw;
	const char *tmp;
	int fd = -1, created = 0, saved;
	err_t err;

	buf_writer_init(&tmpw, 4096);
	buf_put_str(&tmpw, path);
	buf_put_str(&tmpw, ".tmp");
	if (!(tmp = buf_cstr(&tmpw))) {
		err = buf_writer_status(&tmpw);
		buf_writer_free(&tmpw);
		return err;
	}
	err = ERR_IO_FILE;
	/* A leftover from a crash would block O_EXCL; it was never the real file. */
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	created = 1;
	if (fchmod(fd, mode) != 0 || write_all(fd, p, n) != ERR_OK || fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	created = 0;
	sync_parent(path);
	err = ERR_OK;
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp);
	buf_writer_free(&tmpw);
	errno = saved;
	return err;
}

err_t file_read_all(const char *path, size_t max, int private_only, struct buf_writer *w)
{
	struct stat st;
	size_t total = 0;
	err_t err = ERR_OK;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? ERR_NOT_FOUND : ERR_IO_FILE;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err = ERR_IO_FILE;
		goto out;
	}
	if (private_only && (st.st_mode & 077)) {
		err = ERR_CONFIG_PERMS;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		err = ERR_PROTO_TOO_LARGE;
		goto out;
	}
	for (;;) {
		uint8_t chunk[4096];
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = ERR_IO_FILE;
			break;
		}
		if (r == 0)
			break;
		if ((size_t)r > max - total) {
			err = ERR_PROTO_TOO_LARGE;
			break;
		}
		total += (size_t)r;
		buf_put(w, chunk, (size_t)r);
		secure_wipe(chunk, (size_t)r);
		if ((err = buf_writer_status(w)) != ERR_OK)
			break;
	}
out:
	close(fd);
	return err;
}
