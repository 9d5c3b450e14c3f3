/* SPDX-License-Identifier: Apache-2.0 */
/* Registry contract vocabulary: event table, log decoding and rendering, the fold into a policy, isAppAllowed calldata. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abi.h"
#include "contracts_bytecode.h"
#include "crypto.h"
#include "enc.h"
#include "pbcodec.h"
#include "registry_chain.h"

struct ev_def {
	unsigned who;        /* bit mask of 1 << enum registry_emitter */
	int kind;
	const char *sig;
};

#define KMS (1u << REGISTRY_EMITTER_KMS)
#define APP (1u << REGISTRY_EMITTER_APP)

/* EVENTS.md, with the parameter names it gives (they become EventField names). */
static const struct ev_def ev_defs[] = {
	{ KMS | APP, REGISTRY_EV_OTHER, "OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner)" },
	{ KMS | APP, REGISTRY_EV_OWNERSHIP_TRANSFERRED,
	  "OwnershipTransferred(address indexed previousOwner, address indexed newOwner)" },
	{ KMS, REGISTRY_EV_APP_REGISTERED, "AppRegistered(address appId)" },
	{ KMS, REGISTRY_EV_APP_DEPLOYED_VIA_FACTORY, "AppDeployedViaFactory(address appId, address owner)" },
	{ KMS, REGISTRY_EV_KMS_INFO_SET, "KmsInfoSet(bytes k256Pubkey, bytes caPubkey, bytes quote, bytes eventlog)" },
	{ KMS, REGISTRY_EV_KMS_MR_ADDED, "KmsAggregatedMrAdded(bytes32 mrAggregated)" },
	{ KMS, REGISTRY_EV_KMS_MR_REMOVED, "KmsAggregatedMrRemoved(bytes32 mrAggregated)" },
	{ KMS, REGISTRY_EV_KMS_DEVICE_ADDED, "KmsDeviceAdded(bytes32 deviceId)" },
	{ KMS, REGISTRY_EV_KMS_DEVICE_REMOVED, "KmsDeviceRemoved(bytes32 deviceId)" },
	{ KMS, REGISTRY_EV_OS_IMAGE_ADDED, "OsImageHashAdded(bytes32 osImageHash)" },
	{ KMS, REGISTRY_EV_OS_IMAGE_REMOVED, "OsImageHashRemoved(bytes32 osImageHash)" },
	{ KMS, REGISTRY_EV_GATEWAY_APP_ID_SET, "GatewayAppIdSet(string gatewayAppId)" },
	{ APP, REGISTRY_EV_COMPOSE_HASH_ADDED, "ComposeHashAdded(bytes32 composeHash, uint64 effectiveAt)" },
	{ APP, REGISTRY_EV_COMPOSE_HASH_REMOVED, "ComposeHashRemoved(bytes32 composeHash)" },
	{ APP, REGISTRY_EV_DEVICE_ADDED, "DeviceAdded(bytes32 deviceId)" },
	{ APP, REGISTRY_EV_DEVICE_REMOVED, "DeviceRemoved(bytes32 deviceId)" },
	{ APP, REGISTRY_EV_ALLOW_ANY_DEVICE_SET, "AllowAnyDeviceSet(bool allowAny)" },
	{ APP, REGISTRY_EV_TCB_REQUIREMENT_SET, "TcbRequirementSet(bool requireUpToDate)" },
	{ APP, REGISTRY_EV_UPGRADE_DELAY_SET, "UpgradeDelaySet(uint64 delay, uint64 effectiveAt)" },
};

#define NDEFS (sizeof(ev_defs) / sizeof(ev_defs[0]))

struct registry_chain_abi {
	struct arena mem;
	struct abi_event events[NDEFS];
	struct abi_function is_app_allowed, is_kms_allowed;
	const struct abi_type *answer;
	uint8_t app_registered_topic[32];
};

err_t registry_chain_abi_new(struct registry_chain_abi **out)
{
	struct registry_chain_abi *abi = calloc(1, sizeof(*abi));
	err_t err = ERR_OK;

	*out = NULL;
	if (!abi)
		return ERR_NOMEM;
	arena_init(&abi->mem, 1u << 20, 1u << 14);
	for (size_t i = 0; i < NDEFS && err == ERR_OK; i++)
		err = abi_event_parse(&abi->mem, ev_defs[i].sig, &abi->events[i]);
	if (err == ERR_OK)
		err = abi_function_parse(&abi->mem, "isAppAllowed(" ABI_APP_BOOT_INFO ")", &abi->is_app_allowed);
	if (err == ERR_OK)
		err = abi_function_parse(&abi->mem, "isKmsAllowed(" ABI_APP_BOOT_INFO ")", &abi->is_kms_allowed);
	if (err == ERR_OK)
		err = abi_type_parse(&abi->mem, ABI_IS_ALLOWED_RETURNS, strlen(ABI_IS_ALLOWED_RETURNS), &abi->answer);
	if (err != ERR_OK) {
		registry_chain_abi_free(abi);
		return err;
	}
	abi_topic("AppRegistered(address)", abi->app_registered_topic);
	*out = abi;
	return ERR_OK;
}

void registry_chain_abi_free(struct registry_chain_abi *abi)
{
	if (!abi)
		return;
	arena_fini(&abi->mem);
	free(abi);
}

const uint8_t *registry_chain_topic_app_registered(const struct registry_chain_abi *abi)
{
	return abi->app_registered_topic;
}

/* ---------------------------------------------------------------------------------------------- */
/* Rendering decoded values as EventField text                                                    */

static char *hex0x(struct arena *a, const uint8_t *p, size_t n)
{
	char *s = arena_alloc(a, 2 * n + 3);

	if (!s)
		return NULL;
	s[0] = '0';
	s[1] = 'x';
	hex_encode(s + 2, p, n);
	return s;
}

static int text_ok(const uint8_t *p, size_t n)
{
	return utf8_valid((const char *)p, n) && !memchr(p, 0, n);
}

static err_t render(struct arena *a, const struct abi_event_param *prm, const struct abi_value *v,
		    struct registry_event_field *f)
{
	struct buf_writer w;
	char *type;
	uint64_t u;

	buf_writer_init(&w, 64);
	abi_type_canonical(prm->type, &w);
	type = buf_writer_status(&w) == ERR_OK ? arena_memdup(a, w.p, w.len) : NULL;
	buf_writer_free(&w);
	if (!type)
		return ERR_NOMEM;
	f->name = prm->name;
	f->type = type;
	f->indexed = prm->indexed;
	switch (v->kind) {
	case ABI_ADDRESS:
		f->value = hex0x(a, v->u.word + 12, 20);
		break;
	case ABI_FIXED_BYTES:
		f->value = hex0x(a, v->u.word, v->hashed ? 32 : prm->type->size);
		break;
	case ABI_BOOL:
		f->value = v->u.word[31] ? "true" : "false";
		break;
	case ABI_UINT:
		if (abi_get_u64(v, &u) != ERR_OK)
			f->value = hex0x(a, v->u.word, 32);
		else
			f->value = arena_printf(a, "%llu", (unsigned long long)u);
		break;
	case ABI_STRING:
		if (text_ok(v->u.bytes.p, v->u.bytes.len)) {
			f->value = arena_memdup(a, v->u.bytes.p, v->u.bytes.len);
			f->value_len = v->u.bytes.len;
			return f->value ? ERR_OK : arena_err(a);
		}
		/* Not text: shown (and folded) as bytes. */
		f->type = "bytes";
		f->value = hex0x(a, v->u.bytes.p, v->u.bytes.len);
		break;
	case ABI_BYTES:
		f->value = hex0x(a, v->u.bytes.p, v->u.bytes.len);
		break;
	default:
		return ERR_PROTO_MALFORMED;  /* no other types in the vocabulary */
	}
	if (!f->value)
		return arena_err(a);
	f->value_len = strlen(f->value);
	return ERR_OK;
}

err_t registry_chain_decode(const struct registry_chain_abi *abi, const struct eth_log *log, enum registry_emitter who,
			    uint64_t block_time, struct arena *a, struct registry_event *out)
{
	const struct abi_limits lim = { 4 * REGISTRY_MAX_BLOB + 4096, 256, 4, 0 };
	struct abi_value *v = NULL;
	size_t i;
	err_t err = ERR_OK;

	memset(out, 0, sizeof(*out));
	if (log->ntopics == 0)
		return ERR_NOT_FOUND;
	for (i = 0; i < NDEFS; i++)
		if ((ev_defs[i].who & (1u << who)) && memcmp(abi->events[i].topic0, log->topics[0], 32) == 0)
			break;
	if (i == NDEFS)
		return ERR_NOT_FOUND;
	if ((err = abi_log_decode(&abi->events[i], (const uint8_t(*)[32])log->topics, log->ntopics, log->data,
				  log->data_len, &lim, a, &v)) != ERR_OK)
		return err == ERR_INVALID_ARG ? ERR_PROTO_MALFORMED : err;
	out->kind = ev_defs[i].kind;
	out->name = abi->events[i].name;
	out->source = REGISTRY_SOURCE_CHAIN;
	out->has_contract = 1;
	memcpy(out->contract, log->address, REGISTRY_ADDR_LEN);
	out->block = log->block_number;
	out->time = block_time;
	memcpy(out->block_hash, log->block_hash, 32);
	memcpy(out->tx_hash, log->tx_hash, 32);
	if (log->log_index > UINT32_MAX)
		return ERR_PROTO_MALFORMED;
	out->log_index = (uint32_t)log->log_index;
	out->nfields = abi->events[i].nparams;
	for (size_t k = 0; k < out->nfields; k++)
		if ((err = render(a, &abi->events[i].params[k], &v->u.list.items[k], &out->fields[k])) != ERR_OK)
			return err;
	if (who == REGISTRY_EMITTER_APP) {
		out->has_app = 1;
		memcpy(out->app_id, log->address, REGISTRY_ADDR_LEN);
	} else if (out->kind == REGISTRY_EV_APP_REGISTERED || out->kind == REGISTRY_EV_APP_DEPLOYED_VIA_FACTORY) {
		out->has_app = 1;
		memcpy(out->app_id, v->u.list.items[0].u.word + 12, REGISTRY_ADDR_LEN);
	}
	return ERR_OK;
}

err_t registry_chain_set_code(struct registry_event *ev, const uint8_t *code, size_t n, struct arena *a)
{
	uint8_t h[32];
	struct registry_event_field *f;

	if (ev->kind != REGISTRY_EV_APP_REGISTERED || ev->nfields >= REGISTRY_EVENT_MAX_FIELDS)
		return ERR_INVALID_ARG;
	f = &ev->fields[ev->nfields];
	f->name = "codeHash";
	f->type = "bytes32";
	f->indexed = 0;
	if (n == 0) {
		f->value = "0x";
	} else {
		keccak256(code, n, h);
		if (!(f->value = hex0x(a, h, 32)))
			return arena_err(a);
	}
	f->value_len = strlen(f->value);
	ev->nfields++;
	return ERR_OK;
}

void registry_chain_app_codehash(uint8_t out[32])
{
	size_t n = 0;

	/* A generated constant of 64 hex digits: cannot fail; zeros (matching no code) if it ever did. */
	if (hex_decode(out, 32, &n, registry_app_runtime_codehash_hex, strlen(registry_app_runtime_codehash_hex), 0) !=
		    ERR_OK ||
	    n != 32)
		memset(out, 0, 32);
}

int registry_chain_is_app_code(const uint8_t *code, size_t n)
{
	uint8_t h[32], want[32];

	if (n == 0)
		return 0;
	keccak256(code, n, h);
	registry_chain_app_codehash(want);
	return memcmp(h, want, 32) == 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* The fold                                                                                       */

static const struct registry_event_field *field(const struct registry_event *ev, const char *name, const char *type)
{
	const struct registry_event_field *f = registry_event_field(ev, name);

	return f && (!type || strcmp(f->type, type) == 0) ? f : NULL;
}

static err_t field_fixed(const struct registry_event *ev, const char *name, const char *type, uint8_t *out, size_t n)
{
	const struct registry_event_field *f = field(ev, name, type);
	size_t got = 0;

	if (!f || hex_decode(out, n, &got, f->value, f->value_len, 1) != ERR_OK || got != n)
		return ERR_PROTO_MALFORMED;
	return ERR_OK;
}

static err_t field_u64(const struct registry_event *ev, const char *name, uint64_t *out)
{
	const struct registry_event_field *f = field(ev, name, "uint64");
	uint64_t v = 0;

	if (!f || f->value_len == 0 || f->value_len > 20)
		return ERR_PROTO_MALFORMED;
	for (size_t i = 0; i < f->value_len; i++) {
		unsigned d = (unsigned)(f->value[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return ERR_PROTO_MALFORMED;
		v = v * 10 + d;
	}
	*out = v;
	return ERR_OK;
}

static err_t field_bool(const struct registry_event *ev, const char *name, int *out)
{
	const struct registry_event_field *f = field(ev, name, "bool");

	if (!f)
		return ERR_PROTO_MALFORMED;
	if (strcmp(f->value, "true") == 0)
		*out = 1;
	else if (strcmp(f->value, "false") == 0)
		*out = 0;
	else
		return ERR_PROTO_MALFORMED;
	return ERR_OK;
}

/* A "bytes" field as raw bytes: malloc'd (caller frees); empty is (NULL, 0). */
static err_t field_blob(const struct registry_event *ev, const char *name, struct registry_bytes *out)
{
	const struct registry_event_field *f = field(ev, name, "bytes");
	uint8_t *p;
	size_t n = 0;

	out->p = NULL;
	out->len = 0;
	if (!f || f->value_len < 2 || (f->value_len - 2) / 2 > REGISTRY_MAX_BLOB)
		return ERR_PROTO_MALFORMED;
	if (f->value_len == 2)
		return memcmp(f->value, "0x", 2) == 0 ? ERR_OK : ERR_PROTO_MALFORMED;
	if (!(p = malloc((f->value_len - 2) / 2)))
		return ERR_NOMEM;
	if (hex_decode(p, (f->value_len - 2) / 2, &n, f->value, f->value_len, 1) != ERR_OK) {
		free(p);
		return ERR_PROTO_MALFORMED;
	}
	out->p = p;
	out->len = n;
	return ERR_OK;
}

static err_t apply_kms_info(struct registry_state *st, const struct registry_event *ev)
{
	static const char *const names[4] = { "k256Pubkey", "caPubkey", "quote", "eventlog" };
	struct registry_bytes b[4];
	err_t err = ERR_OK;

	memset(b, 0, sizeof(b));
	for (size_t i = 0; i < 4 && err == ERR_OK; i++)
		err = field_blob(ev, names[i], &b[i]);
	if (err == ERR_OK)
		err = registry_state_set_kms_info(st, &b[0], &b[1], &b[2], &b[3]);
	for (size_t i = 0; i < 4; i++)
		free((void *)(uintptr_t)b[i].p);
	return err;
}

static err_t apply_registered(struct registry_state *st, const struct registry_event *ev)
{
	const struct registry_event_field *code = field(ev, "codeHash", "bytes32");
	uint8_t id[REGISTRY_ADDR_LEN], h[32], app_code[32];
	struct registry_app_state *a;
	size_t n = 0;
	err_t err = ERR_OK;

	if ((err = field_fixed(ev, "appId", "address", id, sizeof(id))) != ERR_OK || !code)
		return ERR_PROTO_MALFORMED;
	if ((err = registry_state_app(st, id, &a)) != ERR_OK)
		return err;
	registry_app_set_registered(a, ev->block);
	if (code->value_len == 2)
		return ERR_OK;  /* no code: "App not deployed or invalid address" */
	if (hex_decode(h, sizeof(h), &n, code->value, code->value_len, 1) != ERR_OK || n != 32)
		return ERR_PROTO_MALFORMED;
	registry_chain_app_codehash(app_code);
	if (memcmp(h, app_code, 32) == 0) {
		registry_app_set_flags(a, REGISTRY_APP_HAS_CODE, REGISTRY_APP_FOREIGN_CODE, ev->block);
		registry_app_set_version(a, 2);
	} else {
		registry_app_set_flags(a, REGISTRY_APP_FOREIGN_CODE, REGISTRY_APP_HAS_CODE, ev->block);
	}
	return ERR_OK;
}

static err_t apply_kms_set(struct registry_state *st, const struct registry_event *ev, enum registry_set which,
			   const char *name, int add)
{
	uint8_t k[32];
	err_t err = ERR_OK;

	if ((err = field_fixed(ev, name, "bytes32", k, sizeof(k))) != ERR_OK)
		return err;
	if (add)
		return registry_state_set_add(st, which, k);
	registry_state_set_remove(st, which, k);
	return ERR_OK;
}

static err_t apply_app(struct registry_state *st, const struct registry_event *ev)
{
	struct registry_app_state *a;
	uint8_t k[32], owner[REGISTRY_ADDR_LEN];
	uint64_t x, y;
	int b;
	err_t err = ERR_OK;

	if ((err = registry_state_app(st, ev->contract, &a)) != ERR_OK)
		return err;
	switch (ev->kind) {
	case REGISTRY_EV_COMPOSE_HASH_ADDED:
		if ((err = field_fixed(ev, "composeHash", "bytes32", k, 32)) || (err = field_u64(ev, "effectiveAt", &x)))
			return err;
		return registry_app_add_compose_hash(a, k, x, ev->block);
	case REGISTRY_EV_COMPOSE_HASH_REMOVED:
		if ((err = field_fixed(ev, "composeHash", "bytes32", k, 32)) != ERR_OK)
			return err;
		registry_app_remove_compose_hash(a, k, ev->block);
		return ERR_OK;
	case REGISTRY_EV_DEVICE_ADDED:
		if ((err = field_fixed(ev, "deviceId", "bytes32", k, 32)) != ERR_OK)
			return err;
		return registry_app_add_device(a, k, ev->block);
	case REGISTRY_EV_DEVICE_REMOVED:
		if ((err = field_fixed(ev, "deviceId", "bytes32", k, 32)) != ERR_OK)
			return err;
		registry_app_remove_device(a, k, ev->block);
		return ERR_OK;
	case REGISTRY_EV_ALLOW_ANY_DEVICE_SET:
		if ((err = field_bool(ev, "allowAny", &b)) != ERR_OK)
			return err;
		registry_app_set_flags(a, b ? REGISTRY_APP_ANY_DEVICE : 0, b ? 0 : REGISTRY_APP_ANY_DEVICE, ev->block);
		return ERR_OK;
	case REGISTRY_EV_TCB_REQUIREMENT_SET:
		if ((err = field_bool(ev, "requireUpToDate", &b)) != ERR_OK)
			return err;
		registry_app_set_flags(a, b ? REGISTRY_APP_REQUIRE_TCB : 0, b ? 0 : REGISTRY_APP_REQUIRE_TCB, ev->block);
		return ERR_OK;
	case REGISTRY_EV_UPGRADE_DELAY_SET:
		if ((err = field_u64(ev, "delay", &x)) || (err = field_u64(ev, "effectiveAt", &y)))
			return err;
		registry_app_set_upgrade_delay(a, x, y, ev->block);
		return ERR_OK;
	case REGISTRY_EV_OWNERSHIP_TRANSFERRED:
		if ((err = field_fixed(ev, "newOwner", "address", owner, sizeof(owner))) != ERR_OK)
			return err;
		registry_app_set_owner(a, owner, ev->block);
		return ERR_OK;
	default:
		return ERR_OK;
	}
}

err_t registry_chain_apply(struct registry_state *st, const struct registry_event *ev,
			   const uint8_t kms[REGISTRY_ADDR_LEN])
{
	const struct registry_event_field *f;

	if (!ev->has_contract)
		return ERR_PROTO_MALFORMED;
	if (memcmp(ev->contract, kms, REGISTRY_ADDR_LEN) != 0)
		return apply_app(st, ev);
	switch (ev->kind) {
	case REGISTRY_EV_APP_REGISTERED:
		return apply_registered(st, ev);
	case REGISTRY_EV_KMS_INFO_SET:
		return apply_kms_info(st, ev);
	case REGISTRY_EV_KMS_MR_ADDED:
		return apply_kms_set(st, ev, REGISTRY_SET_KMS_MRS, "mrAggregated", 1);
	case REGISTRY_EV_KMS_MR_REMOVED:
		return apply_kms_set(st, ev, REGISTRY_SET_KMS_MRS, "mrAggregated", 0);
	case REGISTRY_EV_KMS_DEVICE_ADDED:
		return apply_kms_set(st, ev, REGISTRY_SET_KMS_DEVICES, "deviceId", 1);
	case REGISTRY_EV_KMS_DEVICE_REMOVED:
		return apply_kms_set(st, ev, REGISTRY_SET_KMS_DEVICES, "deviceId", 0);
	case REGISTRY_EV_OS_IMAGE_ADDED:
		return apply_kms_set(st, ev, REGISTRY_SET_OS_IMAGES, "osImageHash", 1);
	case REGISTRY_EV_OS_IMAGE_REMOVED:
		return apply_kms_set(st, ev, REGISTRY_SET_OS_IMAGES, "osImageHash", 0);
	case REGISTRY_EV_GATEWAY_APP_ID_SET:
		/* Text as set; a value that is not UTF-8 was rendered (and is served) as 0x-hex. */
		if (!(f = registry_event_field(ev, "gatewayAppId")))
			return ERR_PROTO_MALFORMED;
		return registry_state_set_gateway_app_id(st, f->value, f->value_len);
	default:
		return ERR_OK;  /* audit only: ownership of the registry, factory deployments, unknown kinds */
	}
}

/* ---------------------------------------------------------------------------------------------- */
/* isAppAllowed / isKmsAllowed calldata and answer                                                */

static err_t pad(const struct registry_bytes *b, size_t width, uint8_t *out)
{
	if (b->len > width)
		return ERR_INVALID_ARG;
	memset(out, 0, width);
	if (b->len)
		memcpy(out + width - b->len, b->p, b->len);
	return ERR_OK;
}

err_t registry_chain_encode_check(const struct registry_chain_abi *abi, enum registry_kind kind,
				  const struct registry_boot_info *b, struct buf_writer *w)
{
	uint8_t app[20], inst[20], ch[32], dev[32], mr[32], sys[32], os[32];
	struct abi_value fields[9], info, args, *adv = NULL;
	err_t err = ERR_OK;

	if ((err = pad(&b->app_id, 20, app)) || (err = pad(&b->instance_id, 20, inst)) ||
	    (err = pad(&b->compose_hash, 32, ch)) || (err = pad(&b->device_id, 32, dev)) ||
	    (err = pad(&b->mr_aggregated, 32, mr)) || (err = pad(&b->mr_system, 32, sys)) ||
	    (err = pad(&b->os_image_hash, 32, os)))
		return err;
	if (b->n_advisory_ids > REGISTRY_MAX_ADVISORIES)
		return ERR_INVALID_ARG;
	if (b->n_advisory_ids && !(adv = calloc(b->n_advisory_ids, sizeof(*adv))))
		return ERR_NOMEM;
	memset(fields, 0, sizeof(fields));
	abi_set_address(&fields[0], app);
	abi_set_fixed_bytes(&fields[1], ch, 32);
	abi_set_address(&fields[2], inst);
	abi_set_fixed_bytes(&fields[3], dev, 32);
	abi_set_fixed_bytes(&fields[4], mr, 32);
	abi_set_fixed_bytes(&fields[5], sys, 32);
	abi_set_fixed_bytes(&fields[6], os, 32);
	abi_set_string(&fields[7], b->tcb_status ? b->tcb_status : "");
	for (size_t i = 0; i < b->n_advisory_ids; i++)
		abi_set_string(&adv[i], b->advisory_ids[i]);
	abi_set_array(&fields[8], adv, b->n_advisory_ids);
	abi_set_tuple(&info, fields, 9);
	abi_set_tuple(&args, &info, 1);
	err = abi_encode_call(kind == REGISTRY_KIND_KMS ? &abi->is_kms_allowed : &abi->is_app_allowed, &args, w);
	free(adv);
	return err;
}

err_t registry_chain_decode_answer(const struct registry_chain_abi *abi, const uint8_t *p, size_t n, struct arena *a,
				   int *allowed, const char **reason)
{
	const struct abi_limits lim = { 64 * 1024, 16, 4, 0 };
	struct abi_value *v = NULL;
	err_t err = ERR_OK;

	if ((err = abi_decode(abi->answer, p, n, &lim, a, &v)) != ERR_OK)
		return err;
	if ((err = abi_get_bool(&v->u.list.items[0], allowed)) != ERR_OK)
		return err;
	*reason = (const char *)v->u.list.items[1].u.bytes.p;
	return ERR_OK;
}
