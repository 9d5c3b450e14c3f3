/* SPDX-License-Identifier: Apache-2.0 */
/* `dstack-guest-agent boot`: run the measured boot alone and print its outcome as JSON (never a secret). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enc.h"
#include "file.h"
#include "guest-agent.h"
#include "json.h"
#include "log.h"

static void print_result(const struct guest_boot *b, struct tee *tee, err_t err)
{
	char app[2 * GUEST_ID_LEN + 1], inst[2 * GUEST_ID_LEN + 1], ch[65], rtmr3[97];
	struct tee_info ti;
	struct buf_writer w;
	const char *detail = NULL;

	buf_writer_init(&w, 64 * 1024);
	if (err != ERR_OK) {
		buf_printf(&w, "{\"ok\":false,\"error\":\"%s\",\"reason\":", err_name(err));
		json_put_string(&w, b->why, strlen(b->why));
		buf_put_str(&w, "}\n");
	} else {
		hex_encode(app, b->id.app_id, GUEST_ID_LEN);
		hex_encode(inst, b->id.instance_id, b->id.instance_id_len);
		hex_encode(ch, b->id.compose_hash, 32);
		memset(&ti, 0, sizeof(ti));
		if (tee_info(tee, &ti, &detail) == ERR_OK)
			hex_encode(rtmr3, ti.rtmr[3], 48);
		else
			rtmr3[0] = 0;
		buf_printf(&w,
			   "{\"ok\":true,\"resumed\":%s,\"app_id\":\"%s\",\"compose_hash\":\"%s\",\"instance_id\":\"%s\","
			   "\"key_provider\":\"%s\",\"rtmr3\":\"%s\",\"simulated\":%s,\"env_allowed\":%zu,"
			   "\"env_dropped\":%zu,\"data_disk\":%s}\n",
			   b->resumed ? "true" : "false", app, ch, inst, guest_key_provider_name(b->keys.provider), rtmr3,
			   ti.simulated ? "true" : "false", b->env.n, b->env.n_dropped,
			   b->disk_opened ? "true" : "false");
	}
	if (buf_cstr(&w))
		fputs(buf_cstr(&w), stdout);
	buf_writer_free(&w);
}

int guest_cmd_boot(int argc, char **argv, const struct svc_def *def)
{
	const char *path = def->default_config;
	struct svc_config cfg;
	struct conf_error e;
	struct guest_boot b;
	struct tee *tee = NULL;
	err_t err;

	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
			path = argv[++i];
		} else {
			fprintf(stderr, "usage: %s boot [-c FILE]\n", def->binary);
			return 2;
		}
	}
	if (svc_config_load(&cfg, def, path, &e) != ERR_OK) {
		fprintf(stderr, "%s: %s\n", def->binary, e.text);
		return 2;
	}
	log_setup(def->binary, (enum log_level)cfg.common.log_level);
	err = guest_boot_run(cfg.service, &b, &tee);
	print_result(&b, tee, err);
	guest_boot_free(&b);
	tee_close(tee);
	svc_config_free(&cfg);
	return err == ERR_OK ? 0 : 1;
}

/*
 * `dstack-guest-agent sim-platform -c FILE --out DIR`: SIMULATION ONLY. What a
 * verifier needs to accept this agent's simulated quotes: the development
 * root (DIR/dev-root.der) and collateral valid now (DIR/collateral.json), for
 * the seed in tee.sim_seed. Uses a private temporary TEE state, so it runs
 * next to a serving agent.
 */
int guest_cmd_sim_platform(int argc, char **argv, const struct svc_def *def)
{
	const char *path = def->default_config, *out_dir = NULL, *detail = NULL;
	char tmp[] = "/tmp/dstack-sim-platform-XXXXXX", file[4096];
	struct guest_config sim;
	struct svc_config cfg;
	struct conf_error e;
	struct tee *tee = NULL;
	const uint8_t *der;
	char *coll = NULL;
	size_t len;
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out_dir = argv[++i];
		else
			out_dir = NULL, i = argc;
	}
	if (!out_dir) {
		fprintf(stderr, "usage: %s sim-platform [-c FILE] --out DIR\n", def->binary);
		return 2;
	}
	if (svc_config_load(&cfg, def, path, &e) != ERR_OK) {
		fprintf(stderr, "%s: %s\n", def->binary, e.text);
		return 2;
	}
	sim = *(const struct guest_config *)cfg.service;
	if (sim.tee_backend != GUEST_TEE_SIM || !mkdtemp(tmp)) {
		fprintf(stderr, "%s: sim-platform needs tee.backend = sim\n", def->binary);
		svc_config_free(&cfg);
		return 2;
	}
	sim.tee_state_dir = tmp;
	if (guest_tee_open(&sim, 1, &tee, &detail) != ERR_OK) {
		fprintf(stderr, "%s: %s\n", def->binary, detail ? detail : "cannot open the sim TEE");
		goto out;
	}
	if (tee_sim_collateral_json(tee, wall_s(), &coll, &len) != ERR_OK || tee_sim_dev_root_der(tee, &der, &len) != ERR_OK)
		goto out;
	snprintf(file, sizeof(file), "%s/collateral.json", out_dir);
	if (file_write_atomic(file, coll, strlen(coll), 0644) != ERR_OK)
		goto out;
	snprintf(file, sizeof(file), "%s/dev-root.der", out_dir);
	if (file_write_atomic(file, der, len, 0644) != ERR_OK)
		goto out;
	printf("SIMULATED platform: %s/dev-root.der and %s/collateral.json (development PKI; never trust in production)\n",
	       out_dir, out_dir);
	rc = 0;
out:
	free(coll);
	tee_close(tee);
	snprintf(file, sizeof(file), "%s/tee-state.json", tmp);
	unlink(file);
	snprintf(file, sizeof(file), "%s/tee.lock", tmp);
	unlink(file);
	rmdir(tmp);
	svc_config_free(&cfg);
	if (rc)
		fprintf(stderr, "%s: sim-platform failed\n", def->binary);
	return rc;
}
