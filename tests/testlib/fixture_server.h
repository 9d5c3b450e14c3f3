/* SPDX-License-Identifier: Apache-2.0 */
/* Test fixture: run a server binary with --ready-file, wait for it, stop it by PID. */
#ifndef DS_TEST_FIXTURE_SERVER_H
#define DS_TEST_FIXTURE_SERVER_H

#include <sys/types.h>

struct spawned {
	pid_t pid;
	char dir[256];            /* private temp dir (ready file, logs, certs) */
	char lines[4][256];       /* the ready file's lines: one URL per listener */
	int nlines;
};

/*
 * Start argv[0] with argv (NULL-terminated) plus "--ready-file <dir>/ready" and
 * wait up to 10 s for the file. Returns 0 on success; on failure the child is
 * killed and -1 returned. `dir` must be a mkdtemp'd directory the test owns.
 */
int spawn_server(struct spawned *s, const char *dir, char *const argv[]);
/* SIGTERM, wait up to 15 s; returns the exit status (0 = clean), or -1 if it had to be killed. */
int spawn_stop(struct spawned *s);
/* Make TLS material in dir with the openssl CLI: ca.pem, server.pem/key (127.0.0.1), client.pem/key (CN=client), peer2.pem/key (CN=peer2), other.pem/key (another CA). */
int make_test_pki(const char *dir);

#endif
