/* SPDX-License-Identifier: Apache-2.0 */
/* Whole-file I/O: durable atomic replacement and bounded reads. */
#ifndef DS_FILE_H
#define DS_FILE_H

#include <sys/types.h>

#include "base.h"
#include "buf.h"
#include "err.h"

/* write(2) until all of p is written, retrying EINTR. ERR_IO_FILE on failure (errno kept). */
err_t write_all(int fd, const void *p, size_t n) MUST_CHECK;

/*
 * Replace `path` with p[0..n) so that a crash at any point leaves either the
 * old file or the new one, complete: write `<path>.tmp` (created 0600 then
 * set to `mode`, no symlinks followed), fsync it, rename it over `path`, and
 * fsync the directory. On failure the temporary file is removed and `path`
 * is untouched. ERR_IO_FILE (errno kept) or ERR_NOMEM.
 */
err_t file_write_atomic(const char *path, const void *p, size_t n, mode_t mode) MUST_CHECK;

/*
 * Read all of `path` into w (appending), at most `max` bytes: ERR_NOT_FOUND
 * when it does not exist, ERR_PROTO_TOO_LARGE when it is bigger, ERR_IO_FILE
 * otherwise. With `private_only`, a file readable or writable by group or
 * others is refused with ERR_CONFIG_PERMS.
 */
err_t file_read_all(const char *path, size_t max, int private_only, struct buf_writer *w) MUST_CHECK;

#endif
