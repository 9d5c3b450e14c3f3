/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the guest agent's HTTP routes: the input is written as-is
 * to a connection on the agent's unix socket (an in-process server with the
 * agent's method tables and dstack routes, booted once with key provider
 * none on the sim TEE), so HTTP/1.1 or HTTP/2 framing, dstack's bare routes,
 * GET query strings, dstack-flavour JSON, validation and every handler
 * (quotes and events on the worker threads) see it. The answer must be a
 * well-formed HTTP/1.1 status line when it is one, and the agent must stay
 * consistent: its register snapshot never runs ahead of the TEE.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/thread.h>

#include "file.h"
#include "guest_rpc.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (64u << 10)
#define MAX_ROUNDS 4000
#define WAIT_ROUNDS 400   /* rounds to wait for a first answer before closing our side */
#define WAIT_QUIET 20     /* rounds without new bytes after an answer */

static struct {
	int ready;
	char dir[64];
	char sock[128];
	struct event_base *base;
	struct metrics *metrics;
	struct rpc_server *server;
	struct guest_config cfg;
	struct guest_env g;
	char state[128], shared[128], seed[128];
} F;

static void check(int ok)
{
	if (!ok)
		abort();
}

static void cleanup(void)
{
	char cmd[256];

	if (!F.ready)
		return;
	guest_worker_free(F.g.worker, guest_job_drop);
	rpc_server_free(F.server);
	guest_snapshot_free(&F.g.snap);
	guest_boot_free(&F.g.boot);
	tee_close(F.g.tee);
	metrics_free(F.metrics);
	event_base_free(F.base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_ga_http: could not remove %s\n", F.dir);
}

static void init(void)
{
	static const char compose[] = "{\"name\":\"fuzz\",\"runner\":\"bash\",\"bash_script\":\"true\","
				      "\"key_provider\":\"none\",\"allowed_envs\":[\"FOO\"]}";
	struct rpc_server_opts so;
	const char *detail = NULL;
	char path[256];

	log_setup("fuzz_ga_http", LOG_ERROR);
	check(evthread_use_pthreads() == 0);
	snprintf(F.dir, sizeof(F.dir), "/tmp/ds-fuzz-ga-XXXXXX");
	check(mkdtemp(F.dir) != NULL);
	snprintf(F.state, sizeof(F.state), "%s/tee", F.dir);
	snprintf(F.shared, sizeof(F.shared), "%s/shared", F.dir);
	snprintf(F.seed, sizeof(F.seed), "%s/seed", F.dir);
	snprintf(F.sock, sizeof(F.sock), "unix://%s/agent.sock", F.dir);
	check(mkdir(F.state, 0700) == 0 && mkdir(F.shared, 0700) == 0);
	snprintf(path, sizeof(path), "%s/app-compose.json", F.shared);
	check(file_write_atomic(path, compose, strlen(compose), 0600) == ERR_OK);
	check(file_write_atomic(F.seed, "0101010101010101010101010101010101010101010101010101010101010101", 64, 0600) ==
	      ERR_OK);
	F.cfg.tee_backend = GUEST_TEE_SIM;
	F.cfg.tee_sysfs_root = "/nonexistent";
	F.cfg.tee_state_dir = F.state;
	F.cfg.tee_quote_timeout_ms = 30000;
	F.cfg.host_shared_dir = F.shared;
	F.cfg.local_seed_file = F.seed;
	F.cfg.kms_attempts = 1;
	F.cfg.workers = 2;
	F.cfg.max_queue = 64;
	F.cfg.write_instance_info = 0;
	check((F.base = event_base_new()) != NULL && (F.metrics = metrics_new()) != NULL);
	check(guest_boot_run(&F.cfg, &F.g.boot, &F.g.tee) == ERR_OK);
	check(guest_snapshot_take(F.g.tee, &F.g.snap, &detail) == ERR_OK);
	check((F.g.worker = guest_worker_new(F.base, F.cfg.workers, F.cfg.max_queue)) != NULL);
	F.g.cfg = &F.cfg;
	memset(&so, 0, sizeof(so));
	so.max_message_size = 256u << 10;
	so.metrics = F.metrics;
	so.name = "fuzz_ga_http";
	check((F.server = rpc_server_new(F.base, &so)) != NULL);
	guest_rpc_defs(&F.g);
	check(rpc_server_add_service(F.server, &F.g.guest_def, &detail) == ERR_OK);
	check(rpc_server_add_service(F.server, &F.g.tappd_def, &detail) == ERR_OK);
	check(rpc_server_add_service(F.server, &F.g.worker_def, &detail) == ERR_OK);
	check(guest_rpc_routes(F.server, &F.g, &detail) == ERR_OK);
	check(rpc_server_listen(F.server, F.sock, NULL, 0600, &detail) == ERR_OK);
	F.ready = 1;
	atexit(cleanup);
}

static int connect_agent(void)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	check(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	check(strlen(F.sock) - strlen("unix://") < sizeof(sa.sun_path));
	memcpy(sa.sun_path, F.sock + strlen("unix://"), strlen(F.sock) - strlen("unix://") + 1);
	/* The listener is non-blocking; connect completes once the loop accepts (or queues in the backlog). */
	check(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	check(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, got = 0;
	char answer[256];
	int fd, eof = 0, shut = 0;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (!F.ready)
		init();
	fd = connect_agent();
	/*
	 * Write everything, then give the agent time to answer (async handlers
	 * answer from the worker threads) before closing our side: a client that
	 * goes away first makes the agent drop the answer, which is tested too,
	 * but the answers are the interesting part.
	 */
	for (int round = 0, quiet = 0; round < MAX_ROUNDS && !eof; round++) {
		char buf[4096];
		ssize_t n;
		int fresh = 0;

		if (off < size) {
			n = write(fd, data + off, size - off);
			if (n > 0)
				off += (size_t)n;
		} else if (!shut && (quiet > WAIT_QUIET || round > WAIT_ROUNDS)) {
			shutdown(fd, SHUT_WR);
			shut = 1;
		}
		event_base_loop(F.base, EVLOOP_NONBLOCK);
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			size_t take = MIN((size_t)n, sizeof(answer) - 1 - got);

			memcpy(answer + got, buf, take);
			got += take;
			fresh = 1;
		}
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			eof = 1;
		quiet = fresh ? 0 : got ? quiet + 1 : 0;
		if (!eof && round > 8)
			usleep(50);
	}
	close(fd);
	answer[got] = 0;
	if (getenv("DS_FUZZ_GA_VERBOSE"))
		fprintf(stderr, "%.*s\n", (int)(strcspn(answer, "\r\n")), answer);
	/* An HTTP/1.1 answer starts with a status line the server wrote itself. */
	if (got >= 9 && memcmp(answer, "HTTP/1.", 7) == 0)
		check(got >= 12 && answer[8] == ' ' && answer[9] >= '1' && answer[9] <= '5');
	/* Let finished jobs land; the snapshot never claims more events than the TEE holds. */
	for (int i = 0; i < 50 && guest_worker_pending(F.g.worker); i++) {
		event_base_loop(F.base, EVLOOP_NONBLOCK);
		usleep(100);
	}
	event_base_loop(F.base, EVLOOP_NONBLOCK);
	{
		struct tee_info ti;
		const char *detail = NULL;

		check(tee_info(F.g.tee, &ti, &detail) == ERR_OK);
		check(F.g.snap.info.n_runtime_events <= ti.n_runtime_events);
		check(memcmp(ti.rtmr[3], ti.log_rtmr[3], 48) == 0);
	}
	return 0;
}
