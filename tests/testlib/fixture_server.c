/* SPDX-License-Identifier: Apache-2.0 */
/* Spawning servers for integration tests; stops them by PID. */
#include "fixture_server.h"

#include "base.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int spawn_server(struct spawned *s, const char *dir, char *const argv[])
{
	char ready[512], *args[32];
	int n = 0;

	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	snprintf(ready, sizeof(ready), "%s/ready", dir);
	while (argv[n] && n < 28) {
		args[n] = argv[n];
		n++;
	}
	args[n++] = UNCONST("--ready-file");
	args[n++] = ready;
	args[n] = NULL;
	/* A ready file left by an earlier server in the same directory must not be mistaken for this one's. */
	unlink(ready);
	if (posix_spawn(&s->pid, args[0], NULL, NULL, args, environ) != 0)
		return -1;
	for (int i = 0; i < 1000; i++) {
		FILE *f = fopen(ready, "r");
		int status;
		if (f) {
			while (s->nlines < 4 && fgets(s->lines[s->nlines], sizeof(s->lines[0]), f)) {
				s->lines[s->nlines][strcspn(s->lines[s->nlines], "\n")] = 0;
				s->nlines++;
			}
			fclose(f);
			return 0;
		}
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			return -1;
		}
		sleep_ms(10);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
	return -1;
}

int spawn_stop(struct spawned *s)
{
	int status = 0;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	for (int i = 0; i < 1500; i++) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		sleep_ms(10);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
	return -1;
}

int make_test_pki(const char *dir)
{
	char cmd[4096];
	int n = snprintf(cmd, sizeof(cmd),
		"set -e; cd '%s'; umask 077;"
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca 2>/dev/null;"
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=other-ca 2>/dev/null;"
		"for n in server client peer2 other; do openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.csr -subj /CN=$n 2>/dev/null; done;"
		"printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > server.ext;"
		"printf 'extendedKeyUsage=clientAuth\\n' > client.ext;"
		"openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext 2>/dev/null;"
		"openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 -extfile client.ext 2>/dev/null;"
		"openssl x509 -req -in peer2.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out peer2.pem -days 2 -extfile client.ext 2>/dev/null;"
		"openssl x509 -req -in other.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial -out other.pem -days 2 -extfile client.ext 2>/dev/null",
		dir);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}
