/* SPDX-License-Identifier: Apache-2.0 */
/* The key-holder process: unseals the root state, answers derivation and signing requests, wipes on exit. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "kms_keyholder.h"
#include "kms_khops.h"
#include "kms_store.h"
#include "log.h"
#include "pbcodec.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

/* Everything the key holder owns. The state lives in a wiping arena that is replaced on every change. */
static struct kh_ctx {
	const char *state_dir;
	struct kms_sealer sealer;
	struct arena *mem;            /* holds st */
	kms_sealed_state *st;         /* NULL = uninitialised */
	err_t open_err;               /* why the state could not be opened (reported on every request) */
	const char *open_detail;
} g;

static struct arena *state_arena(void)
{
	struct arena *a = calloc(1, sizeof(*a));

	if (a) {
		arena_init(a, KMS_STORE_MAX * 4, 0);
		a->wipe = 1;
	}
	return a;
}

static void state_free(struct arena *a)
{
	if (a) {
		arena_fini(a);
		free(a);
	}
}

const kms_sealed_state *kh_state(void)
{
	return g.st;
}

err_t kh_commit(struct arena *mem, kms_sealed_state *next, const char **detail)
{
	err_t err;

	next->generation = g.st ? g.st->generation + 1 : 1;
	next->version = 1;
	if ((err = kms_store_save(g.state_dir, &g.sealer, next, detail)) != ERR_OK) {
		state_free(mem);
		return err;
	}
	state_free(g.mem);
	g.mem = mem;
	g.st = next;
	return ERR_OK;
}

struct arena *kh_new_arena(void)
{
	return state_arena();
}

void kh_free_arena(struct arena *a)
{
	state_free(a);
}

static void wipe_all(void)
{
	state_free(g.mem);
	g.mem = NULL;
	g.st = NULL;
	kms_sealer_close(&g.sealer);
	kh_ops_wipe();
}

static void serve(int fd)
{
	for (;;) {
		kh_response resp;
		ProtobufCMessage *m;
		struct arena rmem;
		const char *detail = "";
		err_t err;

		dstack__kms__internal__v1__kh_response__init(&resp);
		arena_init(&rmem, KH_FRAME_MAX * 2, 0);
		rmem.wipe = 1;
		err = kh_frame_read(fd, 0, &dstack__kms__internal__v1__kh_request__descriptor, &rmem, &m);
		if (err == ERR_IO_CLOSED || err == ERR_CANCELLED || err == ERR_IO || g_stop) {
			arena_fini(&rmem);
			return;
		}
		if (err != ERR_OK) {
			err = ERR_PROTO_PROTOBUF;
			detail = "malformed request";
		} else if (g.open_err != ERR_OK) {
			err = g.open_err;
			detail = g.open_detail;
		} else {
			err = kh_dispatch((const kh_request *)m, &rmem, &resp, &detail);
		}
		if (err != ERR_OK) {
			dstack__kms__internal__v1__kh_response__init(&resp);
			resp.err = err;
		}
		resp.detail = UNCONST(detail ? detail : "");
		err = kh_frame_write(fd, &resp.base);
		arena_fini(&rmem);
		if (err != ERR_OK)
			return;
	}
}

int kms_keyholder_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "fd", required_argument, NULL, 'f' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "seal-provider", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *provider = NULL;
	struct sigaction sa;
	struct rlimit nocore = { 0, 0 };
	struct arena *mem;
	int fd = -1, opt;
	err_t err;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 3 || v > 1024)
				return 2;
			fd = (int)v;
			break;
		}
		case 's':
			g.state_dir = optarg;
			break;
		case 'p':
			provider = optarg;
			break;
		default:
			return 2;
		}
	}
	if (fd < 0 || !g.state_dir || !provider) {
		fprintf(stderr, "usage: dstack-kms keyholder --fd N --state-dir DIR --seal-provider P (started by serve)\n");
		return 2;
	}
	/* No core dumps, no ptrace by other processes of this user. */
	(void)setrlimit(RLIMIT_CORE, &nocore);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* The parent owns the terminal's signals; we stop when the socket closes, or wipe and stop on TERM. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	log_setup("kms-keyholder", LOG_INFO);

	g.open_err = kms_sealer_open(provider, g.state_dir, &g.sealer, &g.open_detail);
	if (g.open_err == ERR_OK) {
		if (!(mem = state_arena())) {
			g.open_err = ERR_NOMEM;
			g.open_detail = "out of memory";
		} else if ((err = kms_store_load(g.state_dir, &g.sealer, mem, &g.st, &g.open_detail)) == ERR_OK) {
			g.mem = mem;
		} else {
			state_free(mem);
			g.st = NULL;
			if (err != ERR_NOT_FOUND) {
				g.open_err = err;
			} else {
				g.open_detail = "";
			}
		}
	}
	serve(fd);
	wipe_all();
	return 0;
}
