/* SPDX-License-Identifier: Apache-2.0 */
/* The network side of the key holder: launch it, frame requests to it, restart it when it dies. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"
#include "kms_keyholder.h"
#include "log.h"
#include "pbcodec.h"

struct kms_kh {
	struct kms_kh_opts o;
	pid_t pid;
	int fd;
};

err_t kh_frame_write(int fd, const ProtobufCMessage *m)
{
	struct buf_writer w;
	err_t err;

	buf_writer_init(&w, KH_FRAME_MAX + 4);
	w.wipe = 1;
	buf_put_u32be(&w, 0);
	if ((err = pb_encode(m, &w)) == ERR_OK) {
		if (w.len - 4 > KH_FRAME_MAX) {
			err = ERR_PROTO_TOO_LARGE;
		} else {
			uint32_t n = (uint32_t)(w.len - 4);

			w.p[0] = (uint8_t)(n >> 24);
			w.p[1] = (uint8_t)(n >> 16);
			w.p[2] = (uint8_t)(n >> 8);
			w.p[3] = (uint8_t)n;
			err = write_all(fd, w.p, w.len) == ERR_OK ? ERR_OK : ERR_IO_CLOSED;
		}
	}
	buf_writer_free(&w);
	return err;
}

/* Read exactly n bytes, waiting at most until `deadline` (mono ms; 0 = forever). */
static err_t read_full(int fd, uint8_t *p, size_t n, uint64_t deadline)
{
	while (n > 0) {
		ssize_t r;

		if (deadline) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			uint64_t now = mono_ms();
			int pr;

			if (now >= deadline)
				return ERR_IO_TIMEOUT;
			pr = poll(&pfd, 1, (int)MIN(deadline - now, (uint64_t)INT32_MAX));
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr < 0)
				return ERR_IO;
			if (pr == 0)
				return ERR_IO_TIMEOUT;
		}
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			return ERR_CANCELLED;
		if (r < 0)
			return ERR_IO;
		if (r == 0)
			return ERR_IO_CLOSED;
		p += r;
		n -= (size_t)r;
	}
	return ERR_OK;
}

err_t kh_frame_read(int fd, unsigned timeout_ms, const ProtobufCMessageDescriptor *d, struct arena *mem,
		    ProtobufCMessage **out)
{
	uint64_t deadline = timeout_ms ? mono_ms() + timeout_ms : 0;
	uint8_t hdr[4];
	struct buf_writer w;
	uint32_t n;
	err_t err;

	if ((err = read_full(fd, hdr, 4, deadline)) != ERR_OK)
		return err;
	n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	if (n > KH_FRAME_MAX)
		return ERR_PROTO_TOO_LARGE;
	buf_writer_init(&w, KH_FRAME_MAX);
	w.wipe = 1;
	if (!buf_reserve(&w, n ? n : 1)) {
		err = buf_writer_status(&w);
	} else if ((err = read_full(fd, w.p, n, deadline)) == ERR_OK) {
		buf_commit(&w, n);
		err = pb_decode(d, w.p, w.len, KH_FRAME_MAX, mem, out);
	}
	buf_writer_free(&w);
	return err;
}

static err_t spawn(struct kms_kh *kh, const char **detail)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		*detail = "socketpair failed";
		return ERR_IO;
	}
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		*detail = "fork failed";
		return ERR_IO;
	}
	if (pid == 0) {
		/* The child keeps stdin/out/err and the socket as fd 3, nothing else. */
		char *argv[] = { UNCONST("dstack-kms"), UNCONST("keyholder"), UNCONST("--fd"), UNCONST("3"),
				 UNCONST("--state-dir"), UNCONST(kh->o.state_dir), UNCONST("--seal-provider"),
				 UNCONST(kh->o.seal_provider), NULL };

		if (dup2(sv[1], 3) < 0)
			_exit(127);
		(void)close_range(4, ~0u, 0);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(sv[1]);
	kh->pid = pid;
	kh->fd = sv[0];
	return ERR_OK;
}

static void reap(struct kms_kh *kh)
{
	if (kh->fd >= 0) {
		close(kh->fd);
		kh->fd = -1;
	}
	if (kh->pid > 0) {
		int status;
		uint64_t deadline = mono_ms() + 2000;

		/* Closing the socket makes it wipe and exit; give it a moment, then insist. */
		while (waitpid(kh->pid, &status, WNOHANG) == 0) {
			if (mono_ms() >= deadline) {
				kill(kh->pid, SIGKILL);
				(void)waitpid(kh->pid, &status, 0);
				break;
			}
			usleep(2000);
		}
		kh->pid = -1;
	}
}

static err_t roundtrip(struct kms_kh *kh, const kh_request *req, struct arena *mem, kh_response **resp)
{
	ProtobufCMessage *m;
	err_t err;

	if (kh->fd < 0)
		return ERR_IO_CLOSED;
	if ((err = kh_frame_write(kh->fd, &req->base)) != ERR_OK)
		return err;
	if ((err = kh_frame_read(kh->fd, kh->o.timeout_ms, &dstack__kms__internal__v1__kh_response__descriptor, mem,
				 &m)) != ERR_OK)
		return err;
	*resp = (kh_response *)m;
	return ERR_OK;
}

static int read_only(const kh_request *req)
{
	switch (req->op_case) {
	case DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_STATUS:
	case DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_APP_KEYS:
	case DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_ENV_PUBKEY:
		return 1;
	default:
		return 0;
	}
}

err_t kms_kh_call(struct kms_kh *kh, const kh_request *req, struct arena *mem, kh_response **resp,
		  const char **detail)
{
	err_t err = roundtrip(kh, req, mem, resp);

	if (err == ERR_IO_CLOSED || err == ERR_IO || err == ERR_IO_TIMEOUT || err == ERR_PROTO_PROTOBUF ||
	    err == ERR_PROTO_TOO_LARGE) {
		/* The key holder died or misbehaved: a fresh one reloads the sealed state. */
		log_warn("kms", "key holder failed (%s); restarting it", err_name(err));
		reap(kh);
		if (spawn(kh, detail) != ERR_OK)
			return ERR_UNAVAILABLE;
		if (!read_only(req)) {
			*detail = "key holder restarted; the request may or may not have been applied: check Status";
			return ERR_UNAVAILABLE;
		}
		err = roundtrip(kh, req, mem, resp);
	}
	if (err != ERR_OK) {
		*detail = "key holder unavailable";
		return ERR_UNAVAILABLE;
	}
	if ((*resp)->err != 0) {
		/* Error texts come from a table in the key holder; never key material. */
		*detail = arena_strdup(mem, (*resp)->detail ? (*resp)->detail : "");
		return (err_t)(*resp)->err;
	}
	return ERR_OK;
}

err_t kms_kh_start(const struct kms_kh_opts *o, struct kms_kh **out, const char **detail)
{
	struct kms_kh *kh = calloc(1, sizeof(*kh));
	Dstack__Kms__Internal__V1__KhStatusRequest sreq;
	kh_request req;
	kh_response *resp;
	struct arena mem;
	err_t err;

	if (!kh) {
		*detail = "out of memory";
		return ERR_NOMEM;
	}
	kh->o = *o;
	if (!kh->o.timeout_ms)
		kh->o.timeout_ms = 10000;
	kh->fd = -1;
	kh->pid = -1;
	if ((err = spawn(kh, detail)) != ERR_OK) {
		free(kh);
		return err;
	}
	dstack__kms__internal__v1__kh_status_request__init(&sreq);
	dstack__kms__internal__v1__kh_request__init(&req);
	req.op_case = DSTACK__KMS__INTERNAL__V1__KH_REQUEST__OP_STATUS;
	req.status = &sreq;
	arena_init(&mem, 1u << 20, 0);
	err = roundtrip(kh, &req, &mem, &resp);
	if (err == ERR_OK && resp->err != 0) {
		/* The key holder says why it cannot start (sealer, unreadable state): not a secret. */
		log_error("kms", "key holder: %s", resp->detail ? resp->detail : "");
		*detail = "the key holder cannot open the sealed state (see the log)";
		err = (err_t)resp->err;
	} else if (err != ERR_OK) {
		*detail = "the key holder did not start";
	}
	arena_fini(&mem);
	if (err != ERR_OK) {
		kms_kh_stop(kh);
		return err;
	}
	*out = kh;
	return ERR_OK;
}

void kms_kh_stop(struct kms_kh *kh)
{
	if (!kh)
		return;
	reap(kh);
	free(kh);
}
