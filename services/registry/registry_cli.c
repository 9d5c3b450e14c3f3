/* SPDX-License-Identifier: Apache-2.0 */
/* dstack-registry deploy / register-app / add-compose-hash / ... / events: blocking JSON-RPC from the command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "abi.h"
#include "contracts_bytecode.h"
#include "dstack/kms/v1/kms.pb-c.h"
#include "dstack/registry/v1/registry.pb-c.h"
#include "enc.h"
#include "ethrpc.h"
#include "file.h"
#include "jsonrpc.h"
#include "log.h"
#include "pbcodec.h"
#include "pbjson.h"
#include "registry_chain.h"
#include "registry_cli.h"
#include "rpc_client.h"
#include "tx.h"

#define MAX_KEY_FILE 256
#define EVENTS_LOG_RANGE 5000u

/* What a transaction command sends to, and the one argument it takes. */
enum tx_target { TO_NONE, TO_REGISTRY, TO_APP };
enum tx_arg { ARG_DEPLOY, ARG_REGISTER, ARG_HASH, ARG_BOOL, ARG_U64, ARG_STRING, ARG_KMS_INFO };

struct tx_cmd {
	const char *name;
	const char *sig;        /* the function; NULL for deploy */
	enum tx_target to;
	enum tx_arg arg;
};

static const struct tx_cmd tx_cmds[] = {
	{ "deploy", NULL, TO_NONE, ARG_DEPLOY },
	{ "register-app", "registerApp(address)", TO_REGISTRY, ARG_REGISTER },
	{ "add-compose-hash", "addComposeHash(bytes32)", TO_APP, ARG_HASH },
	{ "remove-compose-hash", "removeComposeHash(bytes32)", TO_APP, ARG_HASH },
	{ "add-device", "addDevice(bytes32)", TO_APP, ARG_HASH },
	{ "remove-device", "removeDevice(bytes32)", TO_APP, ARG_HASH },
	{ "set-allow-any-device", "setAllowAnyDevice(bool)", TO_APP, ARG_BOOL },
	{ "set-require-tcb", "setRequireTcbUpToDate(bool)", TO_APP, ARG_BOOL },
	{ "set-upgrade-delay", "setUpgradeDelay(uint64)", TO_APP, ARG_U64 },
	{ "add-os-image", "addOsImageHash(bytes32)", TO_REGISTRY, ARG_HASH },
	{ "remove-os-image", "removeOsImageHash(bytes32)", TO_REGISTRY, ARG_HASH },
	{ "add-kms-mr", "addKmsAggregatedMr(bytes32)", TO_REGISTRY, ARG_HASH },
	{ "remove-kms-mr", "removeKmsAggregatedMr(bytes32)", TO_REGISTRY, ARG_HASH },
	{ "add-kms-device", "addKmsDevice(bytes32)", TO_REGISTRY, ARG_HASH },
	{ "remove-kms-device", "removeKmsDevice(bytes32)", TO_REGISTRY, ARG_HASH },
	{ "set-gateway-app-id", "setGatewayAppId(string)", TO_REGISTRY, ARG_STRING },
	{ "set-kms-info", "setKmsInfo((bytes,bytes,bytes,bytes))", TO_REGISTRY, ARG_KMS_INFO },
};

#define DEPLOY_APP_SIG "deployAndRegisterApp(address,bool,bool,bytes32,bytes32,uint64)"

struct tx_opts {
	const char *rpc, *key_file, *unlocked, *registry, *app, *hash, *value, *owner, *compose, *device;
	int deploy, any_device, require_tcb, have_delay;
	uint64_t delay;
	unsigned timeout_s;
};

static int usage_error(const char *cmd, const char *what)
{
	fprintf(stderr, "dstack-registry %s: %s (see %s --help)\n", cmd, what, cmd);
	return REGISTRY_CLI_USAGE;
}

static void tx_usage(const struct tx_cmd *c, FILE *out)
{
	fprintf(out, "usage: dstack-registry %s --rpc URL (--key-file FILE | --unlocked ADDRESS)", c->name);
	switch (c->arg) {
	case ARG_DEPLOY:
		fprintf(out, " [--owner ADDRESS]\n"
			     "  Deploys KmsRegistry (owner: --owner or the sender). Prints its address and the block to\n"
			     "  put in the service config (chain.kms_contract, chain.start_block).\n");
		break;
	case ARG_REGISTER:
		fprintf(out, " --registry ADDRESS\n"
			     "    (--app ADDRESS | --deploy [--owner ADDRESS] [--compose-hash HASH] [--device HASH]\n"
			     "     [--allow-any-device] [--require-tcb] [--upgrade-delay SECONDS])\n"
			     "  Registers an existing App, or deploys a new one through the registry's factory.\n");
		break;
	case ARG_HASH:
		fprintf(out, " %s --hash HASH\n", c->to == TO_APP ? "--app ADDRESS" : "--registry ADDRESS");
		break;
	case ARG_BOOL:
		fprintf(out, " --app ADDRESS --value true|false\n");
		break;
	case ARG_U64:
		fprintf(out, " --app ADDRESS --value SECONDS\n");
		break;
	case ARG_STRING:
		fprintf(out, " --registry ADDRESS --value TEXT\n");
		break;
	case ARG_KMS_INFO:
		fprintf(out, " --registry ADDRESS --value BOOTSTRAP_INFO.json\n"
			     "  Publishes the KMS root public keys and their bootstrap attestation: the JSON that\n"
			     "  `dstack-kms bootstrap` prints ({\"caPubkey\", \"k256Pubkey\", \"attestation\"}, base64).\n");
		break;
	}
	fprintf(out, "  --key-file: a file (mode 0600) with a hex secp256k1 key; the transaction is signed here (EIP-155).\n"
		     "  --unlocked: an account the node signs for (eth_sendTransaction; development nodes).\n"
		     "  --timeout SECONDS waits for the receipt (default 60). Prints JSON; exit 0 done, 1 failed, 2 usage.\n");
}

static int parse_addr(const char *s, uint8_t out[20])
{
	size_t n = 0;

	return s && strlen(s) == 42 && hex_decode(out, 20, &n, s, 42, 1) == ERR_OK && n == 20;
}

static int parse_hash(const char *s, uint8_t out[32])
{
	size_t n = 0;

	return s && hex_decode(out, 32, &n, s, strlen(s), 1) == ERR_OK && n == 32;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s || strlen(s) > 20)
		return 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return 0;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > max)
		return 0;
	*out = v;
	return 1;
}

/* ---------------------------------------------------------------------------------------------- */
/* A blocking chain session                                                                       */

struct session {
	struct event_base *base;
	struct jsonrpc_client *rpc;
	struct arena mem;
	uint64_t chain_id;
	int unlocked;
	uint8_t from[20];
	uint8_t key[ETH_KEY_LEN];
	const char *cmd;
};

static void session_close(struct session *s)
{
	jsonrpc_client_free(s->rpc);
	if (s->base)
		event_base_free(s->base);
	arena_fini(&s->mem);
	secure_wipe(s->key, sizeof(s->key));
}

static int fail(struct session *s, err_t err, const char *what, const struct jsonrpc_info *info)
{
	fprintf(stderr, "dstack-registry %s: %s: %s%s%s\n", s->cmd, what, err_str(err),
		info && info->detail[0] ? ": " : "", info ? info->detail : "");
	return REGISTRY_CLI_FAILED;
}

static int session_open(struct session *s, const char *cmd, const char *rpc_url, const char *key_file,
			const char *unlocked)
{
	struct jsonrpc_opts o;
	struct jsonrpc_info info;
	const char *urls[1] = { rpc_url };
	err_t err;

	memset(s, 0, sizeof(*s));
	s->cmd = cmd;
	arena_init(&s->mem, (size_t)64 << 20, 1u << 16);
	if (!(s->base = event_base_new()))
		return fail(s, ERR_NOMEM, "event loop", NULL);
	memset(&o, 0, sizeof(o));
	o.urls = urls;
	o.nurls = 1;
	o.timeout_ms = 30000;
	if (!(s->rpc = jsonrpc_client_new(s->base, &o, &err)))
		return usage_error(cmd, "--rpc must be an http(s) URL");
	memset(&info, 0, sizeof(info));
	if ((err = eth_chain_id(s->rpc, &s->chain_id, &info)) != ERR_OK)
		return fail(s, err, "eth_chainId", &info);
	if (unlocked) {
		if (!parse_addr(unlocked, s->from))
			return usage_error(cmd, "--unlocked: 0x + 40 hex digits");
		s->unlocked = 1;
	} else if (key_file) {
		char *text = NULL;
		size_t len = 0;

		if ((err = conf_read_secret(key_file, MAX_KEY_FILE, &text, &len)) != ERR_OK) {
			fprintf(stderr, "dstack-registry %s: --key-file %s: %s\n", cmd, key_file, err_str(err));
			return REGISTRY_CLI_USAGE;
		}
		while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
			len--;
		err = eth_key_from_hex(text, len, s->key);
		secure_wipe(text, len);
		free(text);
		if (err != ERR_OK || eth_address_from_key(s->key, s->from) != ERR_OK) {
			fprintf(stderr, "dstack-registry %s: --key-file: not a secp256k1 private key in hex\n", cmd);
			return REGISTRY_CLI_USAGE;
		}
	}
	return REGISTRY_CLI_OK;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Send a transaction (to == NULL creates a contract) and wait for a successful receipt. */
static int send_tx(struct session *s, const uint8_t *to, const uint8_t *data, size_t n, unsigned timeout_s,
		   struct eth_receipt *rcpt)
{
	struct eth_tx_req req;
	struct jsonrpc_info info;
	uint8_t hash[32];
	uint64_t deadline;
	err_t err;

	memset(&req, 0, sizeof(req));
	memset(&info, 0, sizeof(info));
	req.has_from = 1;
	memcpy(req.from, s->from, 20);
	if (to) {
		req.has_to = 1;
		memcpy(req.to, to, 20);
	}
	req.data = data;
	req.data_len = n;
	req.has_data = 1;
	if (s->unlocked) {
		if ((err = eth_send_transaction(s->rpc, &req, hash, &info)) != ERR_OK)
			return fail(s, err, "eth_sendTransaction", &info);
	} else {
		struct eth_block_ref pending = { .tag = ETH_BLOCK_PENDING };
		struct eth_tx tx;
		struct buf_writer raw;
		uint64_t gas = 0;

		memset(&tx, 0, sizeof(tx));
		tx.type = ETH_TX_LEGACY;
		tx.chain_id = s->chain_id;
		if ((err = eth_get_transaction_count(s->rpc, s->from, &pending, &tx.nonce, &info)) != ERR_OK)
			return fail(s, err, "eth_getTransactionCount", &info);
		if ((err = eth_gas_price(s->rpc, &tx.gas_price, &info)) != ERR_OK)
			return fail(s, err, "eth_gasPrice", &info);
		if ((err = eth_estimate_gas(s->rpc, &req, &gas, &info)) != ERR_OK)
			return fail(s, err, "eth_estimateGas (would the call revert? is the sender the owner?)", &info);
		tx.gas = gas + gas / 5 + 10000;
		tx.has_to = to != NULL;
		if (to)
			memcpy(tx.to, to, 20);
		tx.data = data;
		tx.data_len = n;
		buf_writer_init(&raw, n + 4096);
		err = eth_tx_sign(&tx, s->key, &raw, hash);
		if (err == ERR_OK)
			err = eth_send_raw_transaction(s->rpc, raw.p, raw.len, hash, &info);
		buf_writer_free(&raw);
		if (err != ERR_OK)
			return fail(s, err, "eth_sendRawTransaction", &info);
	}
	deadline = mono_ms() + (uint64_t)timeout_s * 1000;
	for (;;) {
		err = eth_get_transaction_receipt(s->rpc, hash, &s->mem, rcpt, &info);
		if (err == ERR_OK)
			break;
		if (err != ERR_NOT_FOUND)
			return fail(s, err, "eth_getTransactionReceipt", &info);
		if (mono_ms() > deadline)
			return fail(s, ERR_IO_TIMEOUT, "no receipt before --timeout", NULL);
		sleep_ms(100);
	}
	if (!rcpt->status) {
		char h[65];

		hex_encode(h, hash, 32);
		fprintf(stderr, "dstack-registry %s: transaction 0x%s reverted (block %llu)\n", s->cmd, h,
			(unsigned long long)rcpt->block_number);
		return REGISTRY_CLI_FAILED;
	}
	return REGISTRY_CLI_OK;
}

static void print_addr_field(const char *name, const uint8_t a[20])
{
	char h[43];

	eth_address_to_hex(a, 1, h);
	printf(",\"%s\":\"%s\"", name, h);
}

static void print_receipt_head(const char *cmd, const struct eth_receipt *r)
{
	char h[65];

	hex_encode(h, r->tx_hash, 32);
	printf("{\"command\":\"%s\",\"tx\":\"0x%s\",\"block\":%llu", cmd, h, (unsigned long long)r->block_number);
}

/* ---------------------------------------------------------------------------------------------- */
/* Transaction commands                                                                           */

static const struct tx_cmd *find_tx_cmd(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(tx_cmds); i++)
		if (strcmp(tx_cmds[i].name, name) == 0)
			return &tx_cmds[i];
	return NULL;
}

/* The calldata (or creation code) of command c; ERR_INVALID_ARG names the bad option in *why. */
/* The JSON `dstack-kms bootstrap` prints (dstack.kms.v1.BootstrapResponse, proto3 JSON). */
static err_t read_bootstrap_info(const char *path, struct arena *a, const Dstack__Kms__V1__BootstrapResponse **out,
				 const char **why)
{
	struct pbjson_opts jo = { .flavour = PBJSON_PROTO3, .ignore_unknown = 1 };
	const Dstack__Kms__V1__BootstrapResponse *b;
	ProtobufCMessage *m;
	struct buf_writer w;
	err_t err;

	if (!path) {
		*why = "--value: the bootstrap info JSON file";
		return ERR_INVALID_ARG;
	}
	buf_writer_init(&w, 1u << 20);
	err = file_read_all(path, 1u << 20, 0, &w);
	if (err == ERR_OK)
		err = pbjson_decode(&dstack__kms__v1__bootstrap_response__descriptor, (const char *)w.p, w.len, &jo, a, &m,
				    NULL);
	buf_writer_free(&w);
	if (err != ERR_OK) {
		*why = "--value: cannot read a bootstrap info JSON file (caPubkey, k256Pubkey, attestation)";
		return err == ERR_NOT_FOUND ? ERR_INVALID_ARG : err;
	}
	b = (const void *)m;
	if (b->k256_pubkey.len != 33 || !b->ca_pubkey.len) {
		*why = "bootstrap info: k256Pubkey must be 33 bytes and caPubkey present";
		return ERR_INVALID_ARG;
	}
	*out = b;
	return ERR_OK;
}

static err_t build_call(const struct tx_cmd *c, const struct tx_opts *o, const struct session *s, struct arena *a,
			struct buf_writer *w, const char **why)
{
	struct abi_function fn;
	struct abi_value args[6], tuple;
	uint8_t h[32], addr[20], dev[32], compose[32];
	uint64_t u = 0;
	err_t err;

	memset(args, 0, sizeof(args));
	if (c->arg == ARG_DEPLOY) {
		const struct abi_type *t;
		uint8_t *code;
		size_t n = 0, len = strlen(registry_kms_bytecode_hex);

		if (o->owner && !parse_addr(o->owner, addr)) {
			*why = "--owner: 0x + 40 hex digits";
			return ERR_INVALID_ARG;
		}
		if (!(code = arena_alloc(a, len / 2)) || hex_decode(code, len / 2, &n, registry_kms_bytecode_hex, len, 0))
			return ERR_NOMEM;
		buf_put(w, code, n);
		abi_set_address(&args[0], o->owner ? addr : s->from);
		abi_set_tuple(&tuple, args, 1);
		if ((err = abi_type_parse(a, "(address)", 9, &t)) != ERR_OK)
			return err;
		return abi_encode(t, &tuple, w);
	}
	if (c->arg == ARG_REGISTER && o->deploy) {
		if ((err = abi_function_parse(a, DEPLOY_APP_SIG, &fn)) != ERR_OK)
			return err;
		memset(dev, 0, 32);
		memset(compose, 0, 32);
		if ((o->owner && !parse_addr(o->owner, addr)) || (o->device && !parse_hash(o->device, dev)) ||
		    (o->compose && !parse_hash(o->compose, compose))) {
			*why = "--owner is an address, --device and --compose-hash are 32-byte hex";
			return ERR_INVALID_ARG;
		}
		abi_set_address(&args[0], o->owner ? addr : s->from);
		abi_set_bool(&args[1], o->require_tcb);
		abi_set_bool(&args[2], o->any_device);
		abi_set_fixed_bytes(&args[3], dev, 32);
		abi_set_fixed_bytes(&args[4], compose, 32);
		abi_set_uint64(&args[5], o->delay);
		abi_set_tuple(&tuple, args, 6);
		return abi_encode_call(&fn, &tuple, w);
	}
	if ((err = abi_function_parse(a, c->sig, &fn)) != ERR_OK)
		return err;
	switch (c->arg) {
	case ARG_REGISTER:
		if (!parse_addr(o->app, addr)) {
			*why = "--app (or --deploy) is required: 0x + 40 hex digits";
			return ERR_INVALID_ARG;
		}
		abi_set_address(&args[0], addr);
		break;
	case ARG_HASH:
		if (!parse_hash(o->hash, h)) {
			*why = "--hash: 32 bytes of hex";
			return ERR_INVALID_ARG;
		}
		abi_set_fixed_bytes(&args[0], h, 32);
		break;
	case ARG_BOOL:
		if (!o->value || (strcmp(o->value, "true") != 0 && strcmp(o->value, "false") != 0)) {
			*why = "--value: true or false";
			return ERR_INVALID_ARG;
		}
		abi_set_bool(&args[0], strcmp(o->value, "true") == 0);
		break;
	case ARG_U64:
		if (!parse_uint(o->value, UINT64_MAX, &u)) {
			*why = "--value: a number of seconds";
			return ERR_INVALID_ARG;
		}
		abi_set_uint64(&args[0], u);
		break;
	case ARG_STRING:
		if (!o->value) {
			*why = "--value is required";
			return ERR_INVALID_ARG;
		}
		abi_set_string(&args[0], o->value);
		break;
	case ARG_KMS_INFO: {
		struct abi_value *info = arena_zalloc(a, 4 * sizeof(*info));
		const Dstack__Kms__V1__BootstrapResponse *b;

		if (!info)
			return ERR_NOMEM;
		if ((err = read_bootstrap_info(o->value, a, &b, why)) != ERR_OK)
			return err;
		abi_set_bytes(&info[0], b->k256_pubkey.data, b->k256_pubkey.len);
		abi_set_bytes(&info[1], b->ca_pubkey.data, b->ca_pubkey.len);
		abi_set_bytes(&info[2], b->attestation.data, b->attestation.len);
		abi_set_bytes(&info[3], NULL, 0);
		abi_set_tuple(&args[0], info, 4);
		break;
	}
	default:
		return ERR_INVALID_ARG;
	}
	abi_set_tuple(&tuple, args, 1);
	return abi_encode_call(&fn, &tuple, w);
}

/* The App a deployAndRegisterApp receipt announced (AppDeployedViaFactory). */
static int find_deployed_app(struct session *s, const struct eth_receipt *r, const uint8_t registry[20], uint8_t out[20])
{
	struct registry_chain_abi *abi = NULL;
	int found = 0;

	if (registry_chain_abi_new(&abi) != ERR_OK)
		return 0;
	for (size_t i = 0; i < r->nlogs && !found; i++) {
		struct registry_event ev;

		if (memcmp(r->logs[i].address, registry, 20) != 0 ||
		    registry_chain_decode(abi, &r->logs[i], REGISTRY_EMITTER_KMS, 0, &s->mem, &ev) != ERR_OK)
			continue;
		if (ev.kind == REGISTRY_EV_APP_DEPLOYED_VIA_FACTORY) {
			memcpy(out, ev.app_id, 20);
			found = 1;
		}
	}
	registry_chain_abi_free(abi);
	return found;
}

int registry_cmd_tx(int argc, char **argv, const struct svc_def *def)
{
	static const struct option longopts[] = {
		{ "rpc", required_argument, NULL, 'r' },        { "key-file", required_argument, NULL, 'k' },
		{ "unlocked", required_argument, NULL, 'u' },   { "registry", required_argument, NULL, 'R' },
		{ "app", required_argument, NULL, 'a' },        { "hash", required_argument, NULL, 'H' },
		{ "value", required_argument, NULL, 'v' },      { "owner", required_argument, NULL, 'o' },
		{ "deploy", no_argument, NULL, 'D' },           { "compose-hash", required_argument, NULL, 'c' },
		{ "device", required_argument, NULL, 'd' },     { "allow-any-device", no_argument, NULL, 'A' },
		{ "require-tcb", no_argument, NULL, 'T' },      { "upgrade-delay", required_argument, NULL, 'U' },
		{ "timeout", required_argument, NULL, 't' },    { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct tx_cmd *c = find_tx_cmd(argv[0]);
	struct tx_opts o;
	struct session s;
	struct eth_receipt rcpt;
	struct buf_writer w;
	uint8_t target[20], app[20];
	const char *why = NULL;
	uint64_t u;
	int opt, rc;
	err_t err;

	(void)def;
	log_setup("dstack-registry", LOG_WARN);
	if (!c)
		return REGISTRY_CLI_USAGE;
	memset(&o, 0, sizeof(o));
	o.timeout_s = 60;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r': o.rpc = optarg; break;
		case 'k': o.key_file = optarg; break;
		case 'u': o.unlocked = optarg; break;
		case 'R': o.registry = optarg; break;
		case 'a': o.app = optarg; break;
		case 'H': o.hash = optarg; break;
		case 'v': o.value = optarg; break;
		case 'o': o.owner = optarg; break;
		case 'D': o.deploy = 1; break;
		case 'c': o.compose = optarg; break;
		case 'd': o.device = optarg; break;
		case 'A': o.any_device = 1; break;
		case 'T': o.require_tcb = 1; break;
		case 'U':
			if (!parse_uint(optarg, UINT64_MAX, &o.delay))
				return usage_error(c->name, "--upgrade-delay: seconds");
			break;
		case 't':
			if (!parse_uint(optarg, 3600, &u) || !u)
				return usage_error(c->name, "--timeout: 1..3600 seconds");
			o.timeout_s = (unsigned)u;
			break;
		case 'h':
			tx_usage(c, stdout);
			return REGISTRY_CLI_OK;
		default:
			return usage_error(c->name, "bad option");
		}
	}
	if (optind != argc)
		return usage_error(c->name, "unexpected argument");
	if (!o.rpc)
		return usage_error(c->name, "--rpc URL is required");
	if (!o.key_file == !o.unlocked)
		return usage_error(c->name, "exactly one of --key-file and --unlocked");
	if (c->to == TO_REGISTRY && !parse_addr(o.registry, target))
		return usage_error(c->name, "--registry: 0x + 40 hex digits");
	if (c->to == TO_APP && !parse_addr(o.app, target))
		return usage_error(c->name, "--app: 0x + 40 hex digits");
	if (c->arg == ARG_REGISTER && o.deploy == !!o.app)
		return usage_error(c->name, "exactly one of --app and --deploy");
	if ((rc = session_open(&s, c->name, o.rpc, o.key_file, o.unlocked)) != REGISTRY_CLI_OK)
		goto out;
	buf_writer_init(&w, 1u << 20);
	if ((err = build_call(c, &o, &s, &s.mem, &w, &why)) != ERR_OK || (err = buf_writer_status(&w)) != ERR_OK) {
		buf_writer_free(&w);
		rc = why ? usage_error(c->name, why) : fail(&s, err, "encoding the call", NULL);
		goto out;
	}
	memset(&rcpt, 0, sizeof(rcpt));
	rc = send_tx(&s, c->to == TO_NONE ? NULL : target, w.p, w.len, o.timeout_s, &rcpt);
	buf_writer_free(&w);
	if (rc != REGISTRY_CLI_OK)
		goto out;
	print_receipt_head(c->name, &rcpt);
	if (c->arg == ARG_DEPLOY) {
		if (!rcpt.has_contract_address) {
			rc = fail(&s, ERR_PROTO_MALFORMED, "the receipt has no contract address", NULL);
			printf("}\n");
			goto out;
		}
		print_addr_field("registry", rcpt.contract_address);
		printf(",\"chainId\":%llu", (unsigned long long)s.chain_id);
	} else if (c->arg == ARG_REGISTER && o.deploy) {
		if (find_deployed_app(&s, &rcpt, target, app))
			print_addr_field("app", app);
	}
	print_addr_field("from", s.from);
	printf(",\"logs\":%zu}\n", rcpt.nlogs);
out:
	session_close(&s);
	return rc;
}

/* ---------------------------------------------------------------------------------------------- */
/* events                                                                                         */

struct events_opts {
	const char *registry_url, *rpc, *registry, *app;
	int kinds[32];
	size_t nkinds;
	uint64_t from_block, to_block, limit;
	int descending;
};

static void events_usage(FILE *out)
{
	fprintf(out,
		"usage: dstack-registry events (--registry-url URL | --rpc URL --registry ADDRESS)\n"
		"         [--app ADDRESS] [--kind N]... [--from-block N] [--to-block N] [--limit N] [--descending]\n"
		"  The governance audit trail as JSON lines, from a running registry (ListEvents) or straight\n"
		"  from the chain (the registry's logs and those of every App it registered; unconfirmed blocks\n"
		"  included). --kind takes GovernanceEventKind numbers (14 ComposeHashAdded, 15 ComposeHashRemoved, ...).\n");
}

static int kind_wanted(const struct events_opts *o, int kind)
{
	if (!o->nkinds)
		return 1;
	for (size_t i = 0; i < o->nkinds; i++)
		if (o->kinds[i] == kind)
			return 1;
	return 0;
}

static void print_event(const struct registry_event *ev)
{
	struct buf_writer w;

	buf_writer_init(&w, (size_t)8 << 20);
	registry_event_to_json(ev, &w);
	if (buf_writer_status(&w) == ERR_OK)
		printf("%.*s\n", (int)w.len, (const char *)w.p);
	buf_writer_free(&w);
}

/* From a running registry: page through ListEvents. */
static int events_from_service(const struct events_opts *o)
{
	struct rpc_client_opts co;
	struct rpc_call_opts call = { 0, 1 };
	Dstack__Registry__V1__ListEventsRequest *req;
	struct arena req_mem;
	Dstack__Registry__V1__GovernanceEventKind kinds[32];
	uint8_t app[20];
	char *token = NULL;
	uint64_t printed = 0;
	int rc = REGISTRY_CLI_OK;

	arena_init(&req_mem, 1u << 20, 1u << 12);
	if (!(req = (void *)pb_new(&dstack__registry__v1__list_events_request__descriptor, &req_mem))) {
		arena_fini(&req_mem);
		return REGISTRY_CLI_FAILED;
	}
	memset(&co, 0, sizeof(co));
	co.base_url = o->registry_url;
	co.wire = RPC_WIRE_CONNECT_PROTO;
	co.max_response = (size_t)64 << 20;
	if (o->app) {
		if (!parse_addr(o->app, app)) {
			arena_fini(&req_mem);
			return usage_error("events", "--app: 0x + 40 hex digits");
		}
		req->app_id.data = app;
		req->app_id.len = 20;
	}
	for (size_t i = 0; i < o->nkinds; i++)
		kinds[i] = (Dstack__Registry__V1__GovernanceEventKind)o->kinds[i];
	req->kinds = kinds;
	req->n_kinds = o->nkinds;
	req->from_block = o->from_block;
	req->to_block = o->to_block;
	req->descending = o->descending;
	for (;;) {
		struct rpc_result res;
		struct arena a;
		const Dstack__Registry__V1__ListEventsResponse *r;
		err_t err;

		arena_init(&a, (size_t)256 << 20, 1u << 16);
		req->limit = 1000;
		if (o->limit && o->limit - printed < 1000)
			req->limit = (uint32_t)(o->limit - printed);
		req->page_token = token ? token : svc_pb_str("");
		err = rpc_call_sync(&co, "/dstack.registry.v1.Registry/ListEvents", &req->base,
				    &dstack__registry__v1__list_events_response__descriptor, &call, &a, &res);
		free(token);
		token = NULL;
		if (err != ERR_OK || res.err != ERR_OK) {
			fprintf(stderr, "dstack-registry events: ListEvents: %s%s%s\n", err_str(err ? err : res.err),
				res.message ? ": " : "", res.message ? res.message : "");
			arena_fini(&a);
			rc = REGISTRY_CLI_FAILED;
			break;
		}
		r = (const void *)res.resp;
		for (size_t i = 0; i < r->n_events; i++) {
			const Dstack__Registry__V1__GovernanceEvent *e = r->events[i];
			struct registry_event ev;

			memset(&ev, 0, sizeof(ev));
			ev.kind = (int)e->kind;
			ev.name = e->event_name;
			ev.source = (enum registry_source)e->source;
			if ((ev.has_contract = e->contract_address.len == 20))
				memcpy(ev.contract, e->contract_address.data, 20);
			if ((ev.has_app = e->app_id.len == 20))
				memcpy(ev.app_id, e->app_id.data, 20);
			ev.block = e->block_number;
			if (e->block_hash.len == 32)
				memcpy(ev.block_hash, e->block_hash.data, 32);
			if (e->tx_hash.len == 32)
				memcpy(ev.tx_hash, e->tx_hash.data, 32);
			ev.log_index = e->log_index;
			ev.time = e->time_unix;
			ev.nfields = MIN(e->n_fields, (size_t)REGISTRY_EVENT_MAX_FIELDS);
			for (size_t k = 0; k < ev.nfields; k++)
				ev.fields[k] = (struct registry_event_field){ e->fields[k]->name, e->fields[k]->type,
									      e->fields[k]->value, strlen(e->fields[k]->value),
									      e->fields[k]->indexed };
			print_event(&ev);
			printed++;
		}
		if (r->next_page_token && r->next_page_token[0] && (!o->limit || printed < o->limit))
			token = strdup(r->next_page_token);
		arena_fini(&a);
		if (!token)
			break;
	}
	arena_fini(&req_mem);
	return rc;
}

struct ev_list {
	struct registry_event *v;
	size_t n, cap;
};

static err_t ev_push(struct ev_list *l, const struct registry_event *ev)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 256;
		struct registry_event *nv = realloc(l->v, ncap * sizeof(*nv));

		if (!nv)
			return ERR_NOMEM;
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n++] = *ev;
	return ERR_OK;
}

static int cmp_event(const void *a, const void *b)
{
	const struct registry_event *x = a, *y = b;

	if (x->block != y->block)
		return x->block < y->block ? -1 : 1;
	return x->log_index < y->log_index ? -1 : x->log_index > y->log_index;
}

/* Logs of `addr` over [from, to] decoded into l; AppRegistered app ids are appended to apps when given. */
static int fetch_logs(struct session *s, const struct registry_chain_abi *abi, const uint8_t addr[20],
		      enum registry_emitter who, uint64_t from, uint64_t to, struct ev_list *l, uint8_t (**apps)[20],
		      size_t *napps)
{
	for (uint64_t lo = from; lo <= to; lo += EVENTS_LOG_RANGE) {
		uint64_t hi = to - lo >= EVENTS_LOG_RANGE ? lo + EVENTS_LOG_RANGE - 1 : to;
		struct eth_log_filter f;
		struct jsonrpc_info info;
		struct eth_log *logs = NULL;
		uint8_t one[1][20];
		size_t n = 0;
		err_t err;

		memcpy(one[0], addr, 20);
		memset(&f, 0, sizeof(f));
		memset(&info, 0, sizeof(info));
		f.addresses = (const uint8_t(*)[20])one;
		f.naddresses = 1;
		f.from = eth_block_at(lo);
		f.to = eth_block_at(hi);
		if ((err = eth_get_logs(s->rpc, &f, &s->mem, &logs, &n, &info)) != ERR_OK)
			return fail(s, err, "eth_getLogs", &info);
		for (size_t i = 0; i < n; i++) {
			struct registry_event ev;

			if (memcmp(logs[i].address, addr, 20) != 0)
				continue;
			if ((err = registry_chain_decode(abi, &logs[i], who, 0, &s->mem, &ev)) == ERR_NOT_FOUND)
				continue;
			if (err != ERR_OK)
				return fail(s, err, "a log does not decode", NULL);
			if (ev_push(l, &ev) != ERR_OK)
				return fail(s, ERR_NOMEM, "out of memory", NULL);
			if (apps && ev.kind == REGISTRY_EV_APP_REGISTERED) {
				uint8_t(*na)[20] = realloc(*apps, (*napps + 1) * sizeof(**apps));

				if (!na)
					return fail(s, ERR_NOMEM, "out of memory", NULL);
				*apps = na;
				memcpy((*apps)[(*napps)++], ev.app_id, 20);
			}
		}
		if (hi == to)
			break;
	}
	return REGISTRY_CLI_OK;
}

/* Straight from the chain: the registry's logs, then each registered App's (if it holds App code). */
static int events_from_chain(const struct events_opts *o)
{
	struct registry_chain_abi *abi = NULL;
	struct session s;
	struct ev_list l = { NULL, 0, 0 };
	struct jsonrpc_info info;
	uint8_t reg[20], want_app[20], (*apps)[20] = NULL;
	size_t napps = 0;
	uint64_t head = 0, to, printed = 0, hdr_block = UINT64_MAX, hdr_time = 0;
	int rc;
	err_t err;

	if (!parse_addr(o->registry, reg))
		return usage_error("events", "--registry: 0x + 40 hex digits");
	if (o->app && !parse_addr(o->app, want_app))
		return usage_error("events", "--app: 0x + 40 hex digits");
	if ((rc = session_open(&s, "events", o->rpc, NULL, NULL)) != REGISTRY_CLI_OK)
		goto out;
	memset(&info, 0, sizeof(info));
	if ((err = eth_block_number(s.rpc, &head, &info)) != ERR_OK) {
		rc = fail(&s, err, "eth_blockNumber", &info);
		goto out;
	}
	to = o->to_block && o->to_block < head ? o->to_block : head;
	if ((err = registry_chain_abi_new(&abi)) != ERR_OK) {
		rc = fail(&s, err, "ABI", NULL);
		goto out;
	}
	if (o->from_block > to)
		goto out;
	if ((rc = fetch_logs(&s, abi, reg, REGISTRY_EMITTER_KMS, o->from_block, to, &l, &apps, &napps)) != REGISTRY_CLI_OK)
		goto out;
	for (size_t i = 0; i < napps; i++) {
		struct eth_block_ref at = eth_block_at(to);
		struct buf_writer p;
		struct jsonrpc_reply reply;
		const uint8_t *code = NULL;
		size_t ncode = 0;

		buf_writer_init(&p, 256);
		eth_params_address_block(&p, apps[i], &at);
		err = buf_writer_status(&p);
		if (err == ERR_OK)
			err = jsonrpc_call_sync(s.rpc, "eth_getCode", buf_cstr(&p), &s.mem, &reply, &info);
		buf_writer_free(&p);
		if (err == ERR_OK)
			err = eth_parse_data_result(reply.result, &s.mem, &code, &ncode);
		if (err != ERR_OK) {
			rc = fail(&s, err, "eth_getCode", &info);
			goto out;
		}
		if (registry_chain_is_app_code(code, ncode) &&
		    (rc = fetch_logs(&s, abi, apps[i], REGISTRY_EMITTER_APP, o->from_block, to, &l, NULL, NULL)) !=
			    REGISTRY_CLI_OK)
			goto out;
	}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), cmp_event);
	for (size_t k = 0; k < l.n && (!o->limit || printed < o->limit); k++) {
		struct registry_event *ev = &l.v[o->descending ? l.n - 1 - k : k];

		if (!kind_wanted(o, ev->kind) || (o->app && (!ev->has_app || memcmp(ev->app_id, want_app, 20) != 0)))
			continue;
		if (ev->block != hdr_block) {
			struct eth_block_ref b = eth_block_at(ev->block);
			struct eth_block_header h;

			if ((err = eth_get_block_header(s.rpc, &b, &h, &info)) != ERR_OK) {
				rc = fail(&s, err, "eth_getBlockByNumber", &info);
				goto out;
			}
			hdr_block = ev->block;
			hdr_time = h.timestamp;
		}
		ev->time = hdr_time;
		print_event(ev);
		printed++;
	}
out:
	free(l.v);
	free(apps);
	registry_chain_abi_free(abi);
	session_close(&s);
	return rc;
}

int registry_cmd_events(int argc, char **argv, const struct svc_def *def)
{
	static const struct option longopts[] = {
		{ "registry-url", required_argument, NULL, 'S' }, { "rpc", required_argument, NULL, 'r' },
		{ "registry", required_argument, NULL, 'R' },     { "app", required_argument, NULL, 'a' },
		{ "kind", required_argument, NULL, 'k' },         { "from-block", required_argument, NULL, 'f' },
		{ "to-block", required_argument, NULL, 't' },     { "limit", required_argument, NULL, 'l' },
		{ "descending", no_argument, NULL, 'd' },         { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct events_opts o;
	uint64_t u;
	int opt;

	(void)def;
	log_setup("dstack-registry", LOG_WARN);
	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'S': o.registry_url = optarg; break;
		case 'r': o.rpc = optarg; break;
		case 'R': o.registry = optarg; break;
		case 'a': o.app = optarg; break;
		case 'd': o.descending = 1; break;
		case 'k':
			if (o.nkinds == ARRAY_LEN(o.kinds) || !parse_uint(optarg, REGISTRY_EV_KIND_MAX, &u) || !u)
				return usage_error("events", "--kind: 1..24 (GovernanceEventKind)");
			o.kinds[o.nkinds++] = (int)u;
			break;
		case 'f':
			if (!parse_uint(optarg, UINT64_MAX, &o.from_block))
				return usage_error("events", "--from-block: a block number");
			break;
		case 't':
			if (!parse_uint(optarg, UINT64_MAX, &o.to_block))
				return usage_error("events", "--to-block: a block number");
			break;
		case 'l':
			if (!parse_uint(optarg, UINT64_MAX, &o.limit))
				return usage_error("events", "--limit: a number");
			break;
		case 'h':
			events_usage(stdout);
			return REGISTRY_CLI_OK;
		default:
			return usage_error("events", "bad option");
		}
	}
	if (optind != argc)
		return usage_error("events", "unexpected argument");
	if (!o.registry_url == !o.rpc)
		return usage_error("events", "exactly one of --registry-url and --rpc");
	if (o.rpc && !o.registry)
		return usage_error("events", "--rpc needs --registry");
	return o.registry_url ? events_from_service(&o) : events_from_chain(&o);
}
