/* SPDX-License-Identifier: Apache-2.0 */
/* Info (DstackGuest, Tappd, Worker) and GpuInfo: identity and measurements from the boot and the latest register snapshot. */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "enc.h"
#include "file.h"
#include "guest_rpc.h"
#include "pbcodec.h"

#define DMI_MAX 256

/* JSON string with every non-ASCII character as \uXXXX: dstack's JS SDK reads unix-socket bodies as UTF-16 units. */
static void put_ascii_string(struct buf_writer *w, const char *s, size_t len)
{
	static const char hexd[] = "0123456789abcdef";
	const uint8_t *u = (const uint8_t *)s;

	buf_put_u8(w, '"');
	for (size_t i = 0; i < len;) {
		uint32_t cp = u[i];
		size_t n = 1;

		if (cp >= 0x80) {
			/* Input is valid UTF-8 (parsed strictly at boot); anything else becomes U+FFFD. */
			if ((cp & 0xe0) == 0xc0 && i + 1 < len)
				cp = (cp & 0x1f) << 6 | (u[i + 1] & 0x3f), n = 2;
			else if ((cp & 0xf0) == 0xe0 && i + 2 < len)
				cp = (cp & 0x0f) << 12 | (uint32_t)(u[i + 1] & 0x3f) << 6 | (u[i + 2] & 0x3f), n = 3;
			else if ((cp & 0xf8) == 0xf0 && i + 3 < len)
				cp = (cp & 0x07) << 18 | (uint32_t)(u[i + 1] & 0x3f) << 12 | (uint32_t)(u[i + 2] & 0x3f) << 6 |
				     (u[i + 3] & 0x3f),
				n = 4;
			else
				cp = 0xfffd;
		}
		i += n;
		if (cp == '"' || cp == '\\') {
			buf_put_u8(w, '\\');
			buf_put_u8(w, (uint8_t)cp);
		} else if (cp >= 0x20 && cp < 0x7f) {
			buf_put_u8(w, (uint8_t)cp);
		} else if (cp >= 0x10000) {
			uint32_t v = cp - 0x10000, hi = 0xd800 | (v >> 10), lo = 0xdc00 | (v & 0x3ff);

			buf_printf(w, "\\u%c%c%c%c\\u%c%c%c%c", hexd[hi >> 12], hexd[(hi >> 8) & 15], hexd[(hi >> 4) & 15],
				   hexd[hi & 15], hexd[lo >> 12], hexd[(lo >> 8) & 15], hexd[(lo >> 4) & 15], hexd[lo & 15]);
		} else {
			buf_printf(w, "\\u%c%c%c%c", hexd[cp >> 12], hexd[(cp >> 8) & 15], hexd[(cp >> 4) & 15], hexd[cp & 15]);
		}
	}
	buf_put_u8(w, '"');
}

static void put_hex_member(struct buf_writer *w, const char *key, const uint8_t *p, size_t n, int comma)
{
	char hex[2 * 64 + 1];

	hex_encode(hex, p, n);
	buf_printf(w, "  \"%s\": \"%s\"%s\n", key, n ? hex : "", comma ? "," : "");
}

static int nonzero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc != 0;
}

/* The register value to report: the platform's when it was readable, else the log's replay. */
static const uint8_t *rtmr_of(const struct tee_info *ti, int i)
{
	return ti->mr_mask & (TEE_MR_RTMR0 << i) ? ti->rtmr[i] : ti->log_rtmr[i];
}

/* mr_aggregated = sha256(MRTD || RTMR0..3 [|| MRCONFIGID || MROWNER || MROWNERCONFIG when any is non-zero]). */
static void mr_aggregated(const struct guest_env *g, uint8_t out[32])
{
	const struct tee_info *ti = &g->snap.info;
	const void *parts[8];
	size_t lens[8], n = 0;

	parts[n] = ti->mrtd, lens[n++] = 48;
	for (int i = 0; i < 4; i++)
		parts[n] = rtmr_of(ti, i), lens[n++] = 48;
	if (g->boot.has_td && (nonzero(g->boot.mrconfigid, 48) || nonzero(g->boot.mrowner, 48) ||
			       nonzero(g->boot.mrownerconfig, 48))) {
		parts[n] = g->boot.mrconfigid, lens[n++] = 48;
		parts[n] = g->boot.mrowner, lens[n++] = 48;
		parts[n] = g->boot.mrownerconfig, lens[n++] = 48;
	}
	sha256_parts(parts, lens, n, out);
}

static const uint8_t *os_image_hash(const struct guest_env *g)
{
	if (g->boot.keys.has_os_image_hash)
		return g->boot.keys.os_image_hash;
	if (g->boot.keys.provider == GUEST_KP_KMS && g->boot.sys.has_os_image_hash)
		return g->boot.sys.os_image_hash;
	return NULL;
}

/*
 * tcb_info as dstack's Info writes it (pretty JSON: mrtd, rtmr0..3,
 * mr_aggregated, os_image_hash, compose_hash, device_id, event_log,
 * app_compose), plus "tee" and "simulated" so nobody mistakes a simulated
 * platform for a real one.
 */
static err_t tcb_info(const struct guest_env *g, const uint8_t mra[32], struct buf_writer *w)
{
	const struct tee_info *ti = &g->snap.info;
	const uint8_t *os = os_image_hash(g);
	char name[8];

	buf_put_str(w, "{\n");
	put_hex_member(w, "mrtd", ti->mrtd, ti->platform == TEE_PLATFORM_TDX ? 48 : 0, 1);
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "rtmr%d", i);
		put_hex_member(w, name, rtmr_of(ti, i), ti->platform == TEE_PLATFORM_TDX || i == 3 ? 48 : 0, 1);
	}
	put_hex_member(w, "mr_aggregated", mra, 32, 1);
	put_hex_member(w, "os_image_hash", os ? os : mra, os ? 32 : 0, 1);
	put_hex_member(w, "compose_hash", g->boot.id.compose_hash, 32, 1);
	put_hex_member(w, "device_id", g->boot.device_id, g->boot.has_device_id ? 32 : 0, 1);
	buf_put_str(w, "  \"event_log\": ");
	buf_put(w, g->snap.event_log ? g->snap.event_log : "[]", g->snap.event_log ? g->snap.event_log_len : 2);
	buf_put_str(w, ",\n  \"app_compose\": ");
	put_ascii_string(w, g->boot.compose_text, g->boot.compose_len);
	buf_printf(w, ",\n  \"tee\": \"%s\",\n  \"simulated\": %s\n}", ti->backend ? ti->backend : "",
		   ti->simulated ? "true" : "false");
	return buf_writer_status(w);
}

/* /sys/class/dmi/id/<name> under tee.sysfs_root, trimmed; "" when absent. */
static char *dmi(struct rpc_call *call, const struct guest_env *g, const char *name)
{
	char path[4096];
	struct buf_writer w;
	char *out;

	buf_writer_init(&w, DMI_MAX);
	if (snprintf(path, sizeof(path), "%s/class/dmi/id/%s", g->cfg->tee_sysfs_root, name) >= (int)sizeof(path) ||
	    file_read_all(path, DMI_MAX, 0, &w) != ERR_OK) {
		buf_writer_free(&w);
		return svc_pb_str("");
	}
	while (w.len && (w.p[w.len - 1] == '\n' || w.p[w.len - 1] == ' '))
		w.len--;
	out = arena_memdup(rpc_call_arena(call), w.p ? (const char *)w.p : "", w.len);
	buf_writer_free(&w);
	return out && utf8_valid(out, strlen(out)) ? out : svc_pb_str("");
}

static int info(struct rpc_call *call, int external, ProtobufCMessage **resp)
{
	const struct guest_env *g = guest_of(call);
	struct arena *mem = rpc_call_arena(call);
	Dstack__Guest__V1__AppInfo *out = (void *)pb_new(&dstack__guest__v1__app_info__descriptor, mem);
	int hide = external && !g->boot.compose.public_tcbinfo;
	const uint8_t *os = os_image_hash(g);
	uint8_t mra[32];
	struct buf_writer w;
	err_t err;

	if (!out)
		return arena_err(mem);
	mr_aggregated(g, mra);
	out->app_id = guest_pb_bytes(call, g->boot.id.app_id, GUEST_ID_LEN);
	out->instance_id = guest_pb_bytes(call, g->boot.id.instance_id, g->boot.id.instance_id_len);
	/* dstack's demo client certificate from the KMS is not requested here: "" (dstack allows it empty). */
	out->app_cert = svc_pb_str("");
	out->app_name = svc_pb_str(g->boot.compose.name);
	out->device_id = guest_pb_bytes(call, g->boot.device_id, g->boot.has_device_id ? 32 : 0);
	out->mr_aggregated = guest_pb_bytes(call, mra, 32);
	out->os_image_hash = guest_pb_bytes(call, os, os ? 32 : 0);
	out->key_provider_info = svc_pb_str(g->boot.key_provider_info);
	out->compose_hash = guest_pb_bytes(call, g->boot.id.compose_hash, 32);
	out->vm_config = svc_pb_str(hide ? "" : g->boot.sys.vm_config);
	out->cloud_vendor = dmi(call, g, "sys_vendor");
	out->cloud_product = dmi(call, g, "product_name");
	out->tcb_info = svc_pb_str("");
	if (!out->app_id.data || !out->mr_aggregated.data || !out->compose_hash.data || !out->cloud_vendor ||
	    !out->cloud_product)
		return arena_err(mem);
	if (!hide) {
		buf_writer_init(&w, 8u << 20);
		if ((err = tcb_info(g, mra, &w)) == ERR_OK &&
		    !(out->tcb_info = arena_memdup(mem, w.p, w.len)))
			err = arena_err(mem);
		buf_writer_free(&w);
		if (err != ERR_OK)
			return err;
	}
	*resp = &out->base;
	return ERR_OK;
}

int guest_on_info(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	(void)req;
	return info(call, 0, resp);
}

int guest_on_worker_info(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	(void)req;
	return info(call, 1, resp);
}

int guest_on_gpu_info(struct rpc_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	Dstack__Guest__V1__GpuInfoResponse *out =
		(void *)pb_new(&dstack__guest__v1__gpu_info_response__descriptor, rpc_call_arena(call));

	(void)req;
	if (!out)
		return arena_err(rpc_call_arena(call));
	/* No GPUs are attached to this agent's CVMs: dstack answers "" then. */
	out->attestation = svc_pb_str("");
	*resp = &out->base;
	return ERR_OK;
}
