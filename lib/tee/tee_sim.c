/* SPDX-License-Identifier: Apache-2.0 */
/* The `sim` backend behind struct tee: SIMULATED quotes from the dev PKI over persisted registers and synthetic boot events. */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "sim.h"
#include "tee_internal.h"

_Static_assert(TEE_SIM_SEED_LEN == SIM_SEED_LEN, "tee.h and sim.h disagree on the seed length");

#define SET_DETAIL(d, s)            \
	do {                        \
		if (d)              \
			*(d) = (s); \
	} while (0)

/*
 * Everything here is SIMULATED. MRTD and the boot events are derived from
 * the seed, so a given seed always describes the same "platform":
 *   MRTD              = SHA-384("dstack-c-sim-mrtd-v1" || seed)
 *   a blob event's digest = SHA-384("dstack-c-sim-boot-v1" || seed || label)
 *   EV_EFI_ACTION / EV_SEPARATOR digests = SHA-384 of their data, as firmware does
 * and RTMR0-2 are the replay of those events. RTMR3 is the replay of the
 * runtime events in the state file.
 */

#define EV_SEPARATOR 0x4u
#define EV_EVENT_TAG 0x6u
#define EV_PLATFORM_CONFIG_FLAGS 0xAu
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003u
#define EV_EFI_ACTION 0x80000007u
#define EV_EFI_PLATFORM_FIRMWARE_BLOB2 0x8000000Au
#define EV_EFI_HANDOFF_TABLES2 0x8000000Bu

enum digest_rule { D_SEEDED, D_DATA };

struct sim_boot_event {
	uint32_t imr;
	uint32_t type;
	const char *name;
	const char *payload;
	size_t payload_len;
	enum digest_rule rule;
};

#define STR(s) s, sizeof(s) - 1

static const struct sim_boot_event boot_events[] = {
	{ 0, EV_EFI_HANDOFF_TABLES2, "sim-td-hob", STR("SIMULATED TD HOB"), D_SEEDED },
	{ 0, EV_EFI_PLATFORM_FIRMWARE_BLOB2, "sim-cfv-image", STR("SIMULATED CFV"), D_SEEDED },
	{ 0, EV_PLATFORM_CONFIG_FLAGS, "acpi-loader", STR("ACPI DATA"), D_SEEDED },
	{ 0, EV_PLATFORM_CONFIG_FLAGS, "acpi-rsdp", STR("ACPI DATA"), D_SEEDED },
	{ 0, EV_PLATFORM_CONFIG_FLAGS, "acpi-tables", STR("ACPI DATA"), D_SEEDED },
	{ 0, EV_SEPARATOR, "sim-separator", "\0\0\0\0", 4, D_DATA },
	{ 1, EV_EFI_BOOT_SERVICES_APPLICATION, "sim-kernel", STR("SIMULATED KERNEL IMAGE"), D_SEEDED },
	{ 1, EV_EFI_ACTION, "sim-efi-action", STR("Calling EFI Application from Boot Option"), D_DATA },
	{ 1, EV_SEPARATOR, "sim-separator", "\0\0\0\0", 4, D_DATA },
	{ 1, EV_EFI_ACTION, "sim-efi-action", STR("Exit Boot Services Invocation"), D_DATA },
	{ 1, EV_EFI_ACTION, "sim-efi-action", STR("Exit Boot Services Returned with Success"), D_DATA },
	{ 2, EV_EVENT_TAG, "sim-kernel-cmdline", STR("SIMULATED KERNEL CMDLINE"), D_SEEDED },
	{ 2, EV_EVENT_TAG, "sim-initrd", STR("SIMULATED INITRD"), D_SEEDED },
};

static const uint8_t default_seed[SIM_SEED_LEN] = {
	0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
};

struct sim_be {
	struct sim_pki *pki;
	uint8_t mrtd[TEE_MR_LEN];
	pthread_mutex_t reg_lock;    /* rtmr3 below: written under ev_lock, read by quotes */
	uint8_t rtmr3[TEE_MR_LEN];
};

static struct sim_be *sim_of(struct tee *t)
{
	return t->be_state;
}

static void seeded_digest(const uint8_t seed[SIM_SEED_LEN], const char *tag, const char *label,
			  uint8_t out[TEE_MR_LEN])
{
	const void *parts[3] = { tag, seed, label };
	const size_t lens[3] = { strlen(tag), SIM_SEED_LEN, strlen(label) };

	sha384_parts(parts, lens, 3, out);
}

static err_t sim_build_boot(struct tee *t, const uint8_t seed[SIM_SEED_LEN], const char **detail)
{
	struct attest_event *ev;
	size_t n = ARRAY_LEN(boot_events);
	err_t rc;

	ev = arena_zalloc(&t->boot_arena, n * sizeof(*ev));
	if (!ev)
		return ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct sim_boot_event *b = &boot_events[i];

		ev[i].imr = b->imr;
		ev[i].event_type = b->type;
		ev[i].name = b->name;
		ev[i].name_len = strlen(b->name);
		ev[i].payload = (const uint8_t *)b->payload;
		ev[i].payload_len = b->payload_len;
		ev[i].digest_given = 1;
		if (b->rule == D_DATA)
			sha384(b->payload, b->payload_len, ev[i].digest);
		else
			seeded_digest(seed, "dstack-c-sim-boot-v1", b->name, ev[i].digest);
	}
	if ((rc = attest_eventlog_from_events(ev, n, &t->boot, detail)) != ERR_OK)
		return rc;
	return tee_boot_json(&t->boot, &t->boot_json, detail);
}

static err_t sim_open(struct tee *t, const struct tee_config *cfg, const char **detail)
{
	const uint8_t *seed = cfg->sim_seed ? cfg->sim_seed : default_seed;
	struct sim_be *s;
	err_t rc;

	if (!(s = calloc(1, sizeof(*s))))
		return ERR_NOMEM;
	pthread_mutex_init(&s->reg_lock, NULL);
	t->be_state = s;
	if ((rc = sim_pki_new(seed, cfg->sim_params, &s->pki)) != ERR_OK) {
		SET_DETAIL(detail, "cannot build the simulator's development PKI");
		return rc;
	}
	seeded_digest(seed, "dstack-c-sim-mrtd-v1", "", s->mrtd);
	return sim_build_boot(t, seed, detail);
}

static void sim_close(struct tee *t)
{
	struct sim_be *s = sim_of(t);

	if (!s)
		return;
	sim_pki_free(s->pki);
	pthread_mutex_destroy(&s->reg_lock);
	free(s);
	t->be_state = NULL;
}

static err_t sim_reconcile(struct tee *t, const struct tee_loaded *l, const struct tee_rtevent *pending,
			   enum tee_reconcile *what, const char **detail)
{
	*what = TEE_KEEP;
	if (!l->exists)
		return ERR_OK;
	if (memcmp(l->rtmr, t->boot.rtmr, 3 * TEE_MR_LEN) != 0) {
		SET_DETAIL(detail, "the sim state_dir was written by a simulator with another seed");
		return ERR_ATTEST_RTMR_MISMATCH;
	}
	if (pending) {
		/* The sim writes its register and log in one atomic step; it never leaves an event pending. */
		SET_DETAIL(detail, "the sim state file has a pending event");
		return ERR_PROTO_MALFORMED;
	}
	return ERR_OK;
}

static void sim_extended(struct tee *t, const uint8_t rtmr3[TEE_MR_LEN])
{
	struct sim_be *s = sim_of(t);

	pthread_mutex_lock(&s->reg_lock);
	memcpy(s->rtmr3, rtmr3, TEE_MR_LEN);
	pthread_mutex_unlock(&s->reg_lock);
}

static err_t sim_quote(struct tee *t, const uint8_t rd[TEE_REPORT_DATA_LEN], uint64_t deadline_ms,
		       struct tee_evidence *out, const char **detail)
{
	struct sim_be *s = sim_of(t);
	struct attest_td_report td;
	err_t rc;

	if ((rc = tee_lock_until(&t->quote_lock, deadline_ms)) != ERR_OK) {
		SET_DETAIL(detail, "timed out waiting for the quote lock");
		return rc;
	}
	sim_td_report_default(s->pki, &td);
	memcpy(td.mrtd, s->mrtd, TEE_MR_LEN);
	for (int i = 0; i < 3; i++)
		memcpy(td.rtmr[i], t->boot.rtmr[i], TEE_MR_LEN);
	pthread_mutex_lock(&s->reg_lock);
	memcpy(td.rtmr[3], s->rtmr3, TEE_MR_LEN);
	pthread_mutex_unlock(&s->reg_lock);
	memcpy(td.report_data, rd, TEE_REPORT_DATA_LEN);
	rc = sim_tdx_quote(s->pki, &td, &out->quote, &out->quote_len);
	pthread_mutex_unlock(&t->quote_lock);
	if (rc != ERR_OK)
		SET_DETAIL(detail, "the simulator could not sign the quote");
	return rc;
}

static void sim_read_mrs(struct tee *t, struct tee_info *out)
{
	struct sim_be *s = sim_of(t);

	memcpy(out->mrtd, s->mrtd, TEE_MR_LEN);
	for (int i = 0; i < 3; i++)
		memcpy(out->rtmr[i], t->boot.rtmr[i], TEE_MR_LEN);
	pthread_mutex_lock(&s->reg_lock);
	memcpy(out->rtmr[3], s->rtmr3, TEE_MR_LEN);
	pthread_mutex_unlock(&s->reg_lock);
	out->mr_mask = TEE_MR_MRTD | (0xfu << 1);
}

const struct tee_backend tee_backend_sim = {
	.name = "sim",
	.platform = TEE_PLATFORM_TDX,
	.simulated = 1,
	.open = sim_open,
	.close = sim_close,
	.reconcile = sim_reconcile,
	.quote = sim_quote,
	.extend = NULL,
	.extended = sim_extended,
	.read_mrs = sim_read_mrs,
};

/* ---- exports for verifiers of simulated quotes ---- */

err_t tee_sim_collateral_json(struct tee *t, uint64_t now, char **out, size_t *len)
{
	struct sim_tcb_params tp;
	err_t rc;

	*out = NULL;
	*len = 0;
	if (t->be != &tee_backend_sim)
		return ERR_FAILED_PRECONDITION;
	sim_tcb_params_default(&tp, now);
	pthread_mutex_lock(&t->quote_lock);
	rc = sim_collateral_json(sim_of(t)->pki, &tp, out, len);
	pthread_mutex_unlock(&t->quote_lock);
	return rc;
}

err_t tee_sim_dev_root_der(struct tee *t, const uint8_t **der, size_t *len)
{
	*der = NULL;
	*len = 0;
	if (t->be != &tee_backend_sim)
		return ERR_FAILED_PRECONDITION;
	sim_dev_root_der(sim_of(t)->pki, der, len);
	return ERR_OK;
}
