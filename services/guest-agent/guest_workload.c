/* SPDX-License-Identifier: Apache-2.0 */
/* One child process running the compose's bash_script, started after the listeners are up and stopped with the agent. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "guest-agent.h"
#include "guest_workload.h"
#include "log.h"

#define WL "workload"
#define STOP_WAIT_MS 5000
#define MAX_ENV (GUEST_ENV_MAX_VARS + 8)

struct guest_workload {
	struct guest_env *g;
	struct event *start_ev, *chld_ev;
	pid_t pid;                         /* 0 = not running */
};

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* "NAME=value" strings for execve; the values are secrets: wiped by the caller. */
static char **build_env(const struct guest_env *g, size_t *n)
{
	char **envp = calloc(MAX_ENV + 1, sizeof(char *));
	const char *keep[] = { "PATH", "HOME", "LANG", "TMPDIR" };
	size_t k = 0;

	if (!envp)
		return NULL;
	for (size_t i = 0; i < ARRAY_LEN(keep); i++) {
		const char *v = getenv(keep[i]);

		if (v && asprintf(&envp[k], "%s=%s", keep[i], v) >= 0)
			k++;
	}
	if (asprintf(&envp[k], "DSTACK_SIMULATOR_ENDPOINT=%s", g->cfg->app_socket) >= 0)
		k++;
	if (asprintf(&envp[k], "TAPPD_SIMULATOR_ENDPOINT=%s", g->cfg->app_socket) >= 0)
		k++;
	for (size_t i = 0; i < g->boot.env.n && k < MAX_ENV; i++)
		if (asprintf(&envp[k], "%s=%s", g->boot.env.vars[i].name, g->boot.env.vars[i].value) >= 0)
			k++;
	*n = k;
	return envp;
}

static void free_env(char **envp, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		secure_wipe(envp[i], strlen(envp[i]));
		free(envp[i]);
	}
	free(envp);
}

static void on_start(evutil_socket_t fd, short what, void *arg)
{
	struct guest_workload *w = arg;
	const struct guest_env *g = w->g;
	size_t n = 0;
	char **envp = build_env(g, &n);
	pid_t pid;

	(void)fd;
	(void)what;
	if (!envp) {
		log_error(WL, "out of memory");
		return;
	}
	pid = fork();
	if (pid == 0) {
		char *argv[] = { UNCONST("sh"), UNCONST("-c"), UNCONST(g->boot.compose.bash_script), NULL };

		setpgid(0, 0);
		if (g->cfg->app_dir && chdir(g->cfg->app_dir) != 0)
			_exit(126);
		execve("/bin/sh", argv, envp);
		_exit(127);
	}
	free_env(envp, n);
	if (pid < 0) {
		log_error(WL, "cannot start the workload: %s", strerror(errno));
		return;
	}
	setpgid(pid, pid);
	w->pid = pid;
	log_info(WL, "started '%s' (runner bash) as pid %ld with %zu env variables from .encrypted-env",
		 g->boot.compose.name, (long)pid, g->boot.env.n);
}

static void on_sigchld(evutil_socket_t fd, short what, void *arg)
{
	struct guest_workload *w = arg;
	int status;
	pid_t pid;

	(void)fd;
	(void)what;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid != w->pid)
			continue;
		w->pid = 0;
		if (WIFEXITED(status))
			log_info(WL, "workload exited with status %d", WEXITSTATUS(status));
		else
			log_warn(WL, "workload killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
}

err_t guest_workload_start(struct guest_env *g, const char **detail)
{
	struct guest_workload *w;
	struct timeval now = { 0, 0 };

	if (strcmp(g->boot.compose.runner, "bash") != 0 || !g->boot.compose.bash_script) {
		*detail = "app.run: only runner \"bash\" with a bash_script can be launched here (docker-compose needs a "
			  "container runtime)";
		return ERR_UNIMPLEMENTED;
	}
	if (!g->cfg->app_socket) {
		*detail = "app.run needs app.socket (the agent socket path the workload connects to)";
		return ERR_CONFIG;
	}
	if (!(w = calloc(1, sizeof(*w))))
		return ERR_NOMEM;
	w->g = g;
	g->workload = w;
	w->start_ev = evtimer_new(g->svc->base, on_start, w);
	w->chld_ev = evsignal_new(g->svc->base, SIGCHLD, on_sigchld, w);
	if (!w->start_ev || !w->chld_ev || evtimer_add(w->start_ev, &now) != 0 || event_add(w->chld_ev, NULL) != 0) {
		*detail = "cannot schedule the workload";
		return ERR_NOMEM;
	}
	return ERR_OK;
}

void guest_workload_stop(struct guest_env *g)
{
	struct guest_workload *w = g->workload;
	int status;

	if (!w)
		return;
	if (w->pid > 0) {
		kill(-w->pid, SIGTERM);
		for (unsigned waited = 0; waited < STOP_WAIT_MS; waited += 50) {
			if (waitpid(w->pid, &status, WNOHANG) == w->pid) {
				w->pid = 0;
				break;
			}
			sleep_ms(50);
		}
		if (w->pid > 0) {
			kill(-w->pid, SIGKILL);
			waitpid(w->pid, &status, 0);
		}
		log_info(WL, "workload stopped");
	}
	if (w->start_ev)
		event_free(w->start_ev);
	if (w->chld_ev)
		event_free(w->chld_ev);
	free(w);
	g->workload = NULL;
}
