/* SPDX-License-Identifier: Apache-2.0 */
/* dstack claims: RTMR checks against the report, identity events, mr_system / mr_aggregated, BootInfo, report-data binding. */
#include "claims.h"

#include <string.h>

#include "crypto.h"
#include "enc.h"
#include "json.h"

#define SET_DETAIL(d, s)              \
	do {                          \
		if (d)                \
			*(d) = (s);   \
	} while (0)

static const char *const RTMR_DETAIL[4] = {
	"RTMR0 does not match the boot log replay",
	"RTMR1 does not match the boot log replay",
	"RTMR2 does not match the boot log replay",
	"RTMR3 does not match the event log replay",
};

static int is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* sha256(MRTD || RTMR0 || RTMR1 || RTMR2 || rtmr3 [|| MRCONFIGID || MROWNER || MROWNERCONFIG]) */
static void mr_aggregated(const struct attest_td_report *td, const uint8_t rtmr3[48], uint8_t out[32])
{
	const void *parts[8] = { td->mrtd, td->rtmr[0], td->rtmr[1], td->rtmr[2], rtmr3,
				 td->mrconfigid, td->mrowner, td->mrownerconfig };
	const size_t lens[8] = { 48, 48, 48, 48, 48, 48, 48, 48 };
	size_t n = 5;

	if (!is_zero(td->mrconfigid, 48) || !is_zero(td->mrowner, 48) || !is_zero(td->mrownerconfig, 48))
		n = 8;
	sha256_parts(parts, lens, n, out);
}

/* The unique trusted event `name`, or NULL; two of them is an error. */
static err_t unique_event(const struct attest_eventlog *log, const char *name, const struct attest_event **out,
			  const char **detail)
{
	*out = NULL;
	if (!log)
		return ERR_OK;
	if (attest_eventlog_count(log, name) > 1) {
		SET_DETAIL(detail, "identity event appears more than once before system-ready");
		return ERR_ATTEST_EVENT_LOG;
	}
	*out = attest_eventlog_find(log, name);
	return ERR_OK;
}

/* A fixed-size identity event into dst; sizes other than `len` (or 0 when allow_empty) are errors. */
static err_t fixed_event(const struct attest_eventlog *log, const char *name, uint8_t *dst, size_t len,
			 int allow_empty, int *has, size_t *got, const char **detail)
{
	const struct attest_event *e = NULL;
	err_t rc = unique_event(log, name, &e, detail);

	if (rc != ERR_OK || !e)
		return rc;
	if (e->payload_len != len && !(allow_empty && e->payload_len == 0)) {
		SET_DETAIL(detail, "identity event payload has the wrong size");
		return ERR_ATTEST_EVENT_LOG;
	}
	if (e->payload_len)
		memcpy(dst, e->payload, e->payload_len);
	*has = 1;
	if (got)
		*got = e->payload_len;
	return ERR_OK;
}

/* {"name":..,"id":..} into name/id strings; leaves them NULL when the bytes are not that shape. */
static err_t parse_key_provider(struct attest_claims *c, struct arena *a)
{
	struct json_limits lim = { .max_depth = 4, .max_len = ATTEST_EVENTLOG_MAX_PAYLOAD };
	struct json_value *root = NULL;
	const char *name = NULL, *id = NULL;
	size_t name_len = 0, id_len = 0;
	err_t rc;

	rc = json_parse((const char *)c->key_provider_info, c->key_provider_info_len, &lim, a, &root, NULL);
	if (rc == ERR_BUDGET || rc == ERR_NOMEM)
		return rc;
	if (rc != ERR_OK || root->type != JSON_OBJECT)
		return ERR_OK;
	if (json_get_str(root, "name", &name, &name_len) != ERR_OK || json_get_str(root, "id", &id, &id_len) != ERR_OK)
		return ERR_OK;
	/* Strings with an embedded NUL would read differently as C strings: not the expected shape. */
	if (strlen(name) != name_len || strlen(id) != id_len)
		return ERR_OK;
	c->key_provider_name = name;
	c->key_provider_id = id;
	return ERR_OK;
}

static err_t identity_from_log(struct attest_claims *c, const struct attest_eventlog *log, struct arena *a,
			       const char **detail)
{
	const struct attest_event *kp = NULL;
	uint8_t *copy;
	err_t rc;

	if ((rc = fixed_event(log, "app-id", c->app_id, ATTEST_APP_ID_LEN, 0, &c->has_app_id, NULL, detail)) ||
	    (rc = fixed_event(log, "compose-hash", c->compose_hash, ATTEST_HASH32_LEN, 0, &c->has_compose_hash,
			      NULL, detail)) ||
	    (rc = fixed_event(log, "instance-id", c->instance_id, ATTEST_INSTANCE_ID_LEN, 1, &c->has_instance_id,
			      &c->instance_id_len, detail)) ||
	    (rc = fixed_event(log, "os-image-hash", c->os_image_hash, ATTEST_HASH32_LEN, 0, &c->has_os_image_hash,
			      NULL, detail)))
		return rc;
	/* Images before compose-hash named the event upgraded-app-id. */
	if (!c->has_compose_hash &&
	    (rc = fixed_event(log, "upgraded-app-id", c->compose_hash, ATTEST_HASH32_LEN, 0, &c->has_compose_hash,
			      NULL, detail)))
		return rc;
	if ((rc = unique_event(log, "key-provider", &kp, detail)) != ERR_OK)
		return rc;
	if (!kp)
		return ERR_OK;
	copy = arena_memdup(a, kp->payload_len ? kp->payload : (const uint8_t *)"", kp->payload_len);
	if (!copy)
		return arena_err(a);
	c->key_provider_info = copy;
	c->key_provider_info_len = kp->payload_len;
	c->has_key_provider = 1;
	sha256(copy, kp->payload_len, c->mr_key_provider);
	return parse_key_provider(c, a);
}

err_t attest_claims_from_td(const struct attest_td_report *td, const struct attest_eventlog *log,
			    const struct attest_eventlog *boot_log, unsigned flags, struct arena *a,
			    struct attest_claims *out, const char **detail)
{
	err_t rc;

	memset(out, 0, sizeof(*out));
	out->tee = ATTEST_TEE_TDX;
	if ((flags & ATTEST_CLAIMS_CHECK_BOOT_RTMRS) && !log) {
		SET_DETAIL(detail, "boot RTMR check requested without an event log");
		return ERR_INVALID_ARG;
	}
	if (log && memcmp(log->rtmr[3], td->rtmr[3], 48) != 0) {
		SET_DETAIL(detail, RTMR_DETAIL[3]);
		return ERR_ATTEST_RTMR_MISMATCH;
	}
	for (int i = 0; i < 3; i++) {
		if (boot_log && memcmp(boot_log->rtmr[i], td->rtmr[i], 48) != 0) {
			SET_DETAIL(detail, RTMR_DETAIL[i]);
			return ERR_ATTEST_RTMR_MISMATCH;
		}
		if ((flags & ATTEST_CLAIMS_CHECK_BOOT_RTMRS) && memcmp(log->rtmr[i], td->rtmr[i], 48) != 0) {
			SET_DETAIL(detail, RTMR_DETAIL[i]);
			return ERR_ATTEST_RTMR_MISMATCH;
		}
	}
	out->rtmr3_verified = log != NULL;
	out->boot_rtmrs_verified = boot_log != NULL || (flags & ATTEST_CLAIMS_CHECK_BOOT_RTMRS);

	memcpy(out->mrtd, td->mrtd, 48);
	memcpy(out->rtmr, td->rtmr, sizeof(out->rtmr));
	memcpy(out->mrconfigid, td->mrconfigid, 48);
	memcpy(out->mrowner, td->mrowner, 48);
	memcpy(out->mrownerconfig, td->mrownerconfig, 48);
	memcpy(out->report_data, td->report_data, 64);

	if (log && (rc = identity_from_log(out, log, a, detail)) != ERR_OK)
		return rc;
	{
		const void *parts[5] = { td->mrtd, td->rtmr[0], td->rtmr[1], td->rtmr[2], out->mr_key_provider };
		const size_t lens[5] = { 48, 48, 48, 48, 32 };

		sha256_parts(parts, lens, 5, out->mr_system);
	}
	mr_aggregated(td, td->rtmr[3], out->mr_aggregated);
	if (log) {
		memcpy(out->rtmr3_boot, log->rtmr3_boot, 48);
		out->has_rtmr3_boot = 1;
		mr_aggregated(td, log->rtmr3_boot, out->mr_aggregated_boot);
		out->has_mr_aggregated_boot = 1;
	}
	return ERR_OK;
}

void attest_claims_set_device_id(struct attest_claims *c, const uint8_t *id, size_t len)
{
	sha256(len ? (const void *)id : "", len, c->device_id);
	c->has_device_id = 1;
}

void attest_claims_from_snp(const struct attest_snp_report *snp, struct attest_claims *out)
{
	const void *parts[2] = { snp->measurement, snp->host_data };
	const size_t lens[2] = { 48, 32 };

	memset(out, 0, sizeof(*out));
	out->tee = ATTEST_TEE_SEV_SNP;
	memcpy(out->snp_measurement, snp->measurement, 48);
	memcpy(out->snp_host_data, snp->host_data, 32);
	memcpy(out->snp_chip_id, snp->chip_id, 64);
	memcpy(out->report_data, snp->report_data, 64);
	sha256_parts(parts, lens, 2, out->mr_aggregated);
	attest_claims_set_device_id(out, snp->chip_id, sizeof(snp->chip_id));
}

err_t attest_claims_from_verdict(const struct attest_verdict *v, const struct attest_eventlog *log,
				 const struct attest_eventlog *boot_log, unsigned flags, struct arena *a,
				 struct attest_claims *out, const char **detail)
{
	const char **ids = NULL;
	err_t rc;

	memset(out, 0, sizeof(*out));
	if (v->err != ERR_OK) {
		SET_DETAIL(detail, "claims from a verdict that did not accept the evidence");
		return v->err;
	}
	switch (v->report_type) {
	case ATTEST_REPORT_TD10:
	case ATTEST_REPORT_TD15:
		if ((rc = attest_claims_from_td(&v->td, log, boot_log, flags, a, out, detail)) != ERR_OK)
			return rc;
		if (v->has_ppid)
			attest_claims_set_device_id(out, v->ppid, sizeof(v->ppid));
		break;
	case ATTEST_REPORT_SNP:
		attest_claims_from_snp(&v->snp, out);
		break;
	default:
		SET_DETAIL(detail, "no dstack claims for this report type");
		return ERR_ATTEST_TEE_TYPE;
	}
	out->tee = v->tee;
	out->dev = v->dev;
	out->has_tcb = 1;
	out->tcb_status = v->tcb.status;
	if (v->tcb.n_advisory_ids) {
		ids = arena_alloc(a, v->tcb.n_advisory_ids * sizeof(*ids));
		if (!ids)
			return arena_err(a);
		for (size_t i = 0; i < v->tcb.n_advisory_ids; i++) {
			ids[i] = arena_strdup(a, v->tcb.advisory_ids[i]);
			if (!ids[i])
				return arena_err(a);
		}
	}
	out->advisory_ids = ids;
	out->n_advisory_ids = v->tcb.n_advisory_ids;
	return ERR_OK;
}

void attest_claims_boot_info(const struct attest_claims *c, int boot_time_mr, struct attest_boot_info *out)
{
	memset(out, 0, sizeof(*out));
	out->tee_variant = c->tee == ATTEST_TEE_SEV_SNP ? "dstack-amd-sev-snp" : "dstack-tdx";
	if (!boot_time_mr || c->tee == ATTEST_TEE_SEV_SNP) {
		memcpy(out->mr_aggregated, c->mr_aggregated, 32);
		out->mr_aggregated_len = 32;
	} else if (c->has_mr_aggregated_boot) {
		memcpy(out->mr_aggregated, c->mr_aggregated_boot, 32);
		out->mr_aggregated_len = 32;
	}
	if (c->has_os_image_hash) {
		memcpy(out->os_image_hash, c->os_image_hash, 32);
		out->os_image_hash_len = 32;
	}
	if (c->tee != ATTEST_TEE_SEV_SNP) {
		memcpy(out->mr_system, c->mr_system, 32);
		out->mr_system_len = 32;
	}
	if (c->has_app_id) {
		memcpy(out->app_id, c->app_id, 20);
		out->app_id_len = 20;
	}
	if (c->has_compose_hash) {
		memcpy(out->compose_hash, c->compose_hash, 32);
		out->compose_hash_len = 32;
	}
	if (c->has_instance_id) {
		memcpy(out->instance_id, c->instance_id, c->instance_id_len);
		out->instance_id_len = c->instance_id_len;
	}
	if (c->has_device_id) {
		memcpy(out->device_id, c->device_id, 32);
		out->device_id_len = 32;
	}
	out->key_provider_info = c->key_provider_info;
	out->key_provider_info_len = c->key_provider_info_len;
	out->tcb_status = c->has_tcb ? tcb_status_name(c->tcb_status) : "";
	out->advisory_ids = (const char *const *)c->advisory_ids;
	out->n_advisory_ids = c->n_advisory_ids;
}

static void put_hex_member(struct buf_writer *w, const char *key, const uint8_t *p, size_t n, int comma)
{
	uint8_t *dst;

	if (comma)
		buf_put_u8(w, ',');
	json_put_string(w, key, strlen(key));
	buf_put_str(w, ":\"");
	if (n) {
		dst = buf_reserve(w, 2 * n + 1);
		if (dst) {
			hex_encode((char *)dst, p, n);
			buf_commit(w, 2 * n);
		}
	}
	buf_put_u8(w, '"');
}

err_t attest_boot_info_json(const struct attest_boot_info *b, struct buf_writer *w)
{
	const char *tcb = b->tcb_status ? b->tcb_status : "";
	const char *tee = b->tee_variant ? b->tee_variant : "";

	buf_put_str(w, "{\"teeVariant\":");
	json_put_string(w, tee, strlen(tee));
	put_hex_member(w, "mrAggregated", b->mr_aggregated, b->mr_aggregated_len, 1);
	put_hex_member(w, "osImageHash", b->os_image_hash, b->os_image_hash_len, 1);
	put_hex_member(w, "mrSystem", b->mr_system, b->mr_system_len, 1);
	put_hex_member(w, "appId", b->app_id, b->app_id_len, 1);
	put_hex_member(w, "composeHash", b->compose_hash, b->compose_hash_len, 1);
	put_hex_member(w, "instanceId", b->instance_id, b->instance_id_len, 1);
	put_hex_member(w, "deviceId", b->device_id, b->device_id_len, 1);
	put_hex_member(w, "keyProviderInfo", b->key_provider_info, b->key_provider_info_len, 1);
	buf_put_str(w, ",\"tcbStatus\":");
	json_put_string(w, tcb, strlen(tcb));
	buf_put_str(w, ",\"advisoryIds\":[");
	for (size_t i = 0; i < b->n_advisory_ids; i++) {
		if (i)
			buf_put_u8(w, ',');
		json_put_string(w, b->advisory_ids[i], strlen(b->advisory_ids[i]));
	}
	buf_put_str(w, "]}");
	return buf_writer_status(w);
}

void attest_report_data_tagged(const char *tag, const void *data, size_t len, uint8_t out[64])
{
	const void *parts[3] = { tag, ":", len ? data : "" };
	const size_t lens[3] = { strlen(tag), 1, len };

	sha512_parts(parts, lens, 3, out);
}

void attest_ratls_report_data(const uint8_t *spki_der, size_t len, uint8_t out[64])
{
	attest_report_data_tagged("ratls-cert", spki_der, len, out);
}
