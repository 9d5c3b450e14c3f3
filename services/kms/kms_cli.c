/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dstack-kms operator commands: status, bootstrap, onboard, rotate, retire,
 * epochs, audit, export-shares, recovery-key, recover, and the custodian's
 * keygen / reencrypt. Each admin command is one KmsAdmin call; answers are
 * printed as proto3 JSON. Exit codes: 0 ok, 1 the KMS refused or failed,
 * 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "dstack/kms/v1/kms.pb-c.h"
#include "enc.h"
#include "file.h"
#include "kms.h"
#include "kms_shares.h"
#include "pbjson.h"
#include "rpc_client.h"
#include "x25519.h"

#define DEFAULT_ADMIN "unix:///run/dstack/kms-admin.sock"

struct cli {
	const char *admin;          /* admin endpoint */
	char *token;                /* bearer token (secret), from --token-file */
	struct arena mem;
};

static int usage(void)
{
	fprintf(stderr,
		"usage: dstack-kms <command> [--admin URL] [--token-file F] [options]\n"
		"  status | epochs | audit [--limit N]\n"
		"  bootstrap --domain NAME\n"
		"  onboard --source https://HOST:PORT [--domain NAME]\n"
		"  rotate [--reason TEXT] | retire --epoch N [--reason TEXT]\n"
		"  export-shares --threshold T --custodian NAME=X25519PUBHEX ... --out DIR [--reason TEXT]\n"
		"  recovery-key\n"
		"  recover --set DIR [--share FILE ...] [--domain NAME]\n"
		"  custodian keygen --out KEYFILE\n"
		"  custodian reencrypt --key KEYFILE --share IN.json --to X25519PUBHEX --out OUT.json\n"
		"--admin defaults to " DEFAULT_ADMIN " (the local operator's socket); an https URL needs --token-file.\n");
	return 2;
}

static void print_json(const ProtobufCMessage *m)
{
	struct pbjson_opts jo = { .flavour = PBJSON_PROTO3 };
	struct buf_writer w;

	buf_writer_init(&w, 64u << 20);
	if (pbjson_encode(m, &jo, &w) == ERR_OK && buf_cstr(&w))
		printf("%s\n", w.p);
	buf_writer_free(&w);
}

static int call(struct cli *c, const char *method, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *rd,
		ProtobufCMessage **resp)
{
	struct rpc_client_opts o = { .base_url = c->admin, .wire = RPC_WIRE_GRPC, .timeout_ms = 120000,
				     .bearer_token = c->token };
	struct rpc_result res;
	char path[128];

	snprintf(path, sizeof(path), "/dstack.kms.v1.KmsAdmin/%s", method);
	if (rpc_call_sync(&o, path, req, rd, NULL, &c->mem, &res) != ERR_OK) {
		fprintf(stderr, "dstack-kms: %s: %s%s%s\n", method, rpc_code_name(res.code),
			res.message && *res.message ? ": " : "", res.message ? res.message : "");
		return 1;
	}
	*resp = res.resp;
	return 0;
}

static int simple(struct cli *c, const char *method, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *rd)
{
	ProtobufCMessage *resp;
	int rc = call(c, method, req, rd, &resp);

	if (rc == 0)
		print_json(resp);
	return rc;
}

static int read_token(struct cli *c, const char *path)
{
	struct buf_writer w;

	buf_writer_init(&w, 4096);
	w.wipe = 1;
	if (file_read_all(path, 4096, 1, &w) != ERR_OK || !buf_cstr(&w)) {
		fprintf(stderr, "dstack-kms: cannot read the token file %s (it must exist and be mode 0600)\n", path);
		buf_writer_free(&w);
		return 2;
	}
	w.p[strcspn((char *)w.p, "\r\n")] = 0;
	c->token = strdup((char *)w.p);
	buf_writer_free(&w);
	return c->token ? 0 : 1;
}

static int unhex32(const char *h, uint8_t out[32])
{
	if (strlen(h) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		int hi = hex_digit_value(h[2 * i]), lo = hex_digit_value(h[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int write_json_file(const char *path, const ProtobufCMessage *m)
{
	struct pbjson_opts jo = { .flavour = PBJSON_PROTO3 };
	struct buf_writer w;
	int rc = 1;

	buf_writer_init(&w, 1u << 20);
	if (pbjson_encode(m, &jo, &w) == ERR_OK && file_write_atomic(path, w.p, w.len, 0600) == ERR_OK)
		rc = 0;
	else
		fprintf(stderr, "dstack-kms: cannot write %s\n", path);
	buf_writer_free(&w);
	return rc;
}

static ProtobufCMessage *read_json_file(struct cli *c, const char *path, const ProtobufCMessageDescriptor *d)
{
	struct pbjson_opts jo = { .flavour = PBJSON_PROTO3 };
	ProtobufCMessage *m = NULL;
	struct buf_writer w;
	const char *detail = NULL;

	buf_writer_init(&w, 1u << 20);
	if (file_read_all(path, 1u << 20, 0, &w) != ERR_OK ||
	    pbjson_decode(d, (const char *)w.p, w.len, &jo, &c->mem, &m, &detail) != ERR_OK) {
		fprintf(stderr, "dstack-kms: %s: not a %s JSON file%s%s\n", path, d->short_name, detail ? ": " : "",
			detail ? detail : "");
		m = NULL;
	}
	buf_writer_free(&w);
	return m;
}

/* custodian keygen / reencrypt: run on the custodian's machine, not on the KMS. */
static int custodian(struct cli *c, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "", *out = NULL, *key = NULL, *share = NULL, *to = NULL;
	static const struct option lo[] = { { "out", 1, NULL, 'o' }, { "key", 1, NULL, 'k' }, { "share", 1, NULL, 's' },
					    { "to", 1, NULL, 't' }, { NULL, 0, NULL, 0 } };
	int opt;

	optind = 2;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == 'o')
			out = optarg;
		else if (opt == 'k')
			key = optarg;
		else if (opt == 's')
			share = optarg;
		else if (opt == 't')
			to = optarg;
		else
			return usage();
	}
	if (strcmp(sub, "keygen") == 0 && out) {
		uint8_t sk[32], pub[32];
		char hex[65];

		if (RAND_priv_bytes(sk, sizeof(sk)) != 1 || x25519_public_key(sk, pub) != ERR_OK ||
		    file_write_atomic(out, sk, sizeof(sk), 0600) != ERR_OK) {
			secure_wipe(sk, sizeof(sk));
			fprintf(stderr, "dstack-kms: cannot create %s\n", out);
			return 1;
		}
		secure_wipe(sk, sizeof(sk));
		hex_encode(hex, pub, 32);
		printf("%s\n", hex);
		return 0;
	}
	if (strcmp(sub, "reencrypt") == 0 && key && share && to && out) {
		uint8_t sk[32], pub[32];
		struct buf_writer kw, plain;
		kms_share *in, next;
		int rc = 1;

		if (unhex32(to, pub) != 0) {
			fprintf(stderr, "dstack-kms: --to: 64 hex digits (an X25519 public key)\n");
			return 2;
		}
		if (!(in = (kms_share *)read_json_file(c, share, &dstack__kms__v1__encrypted_share__descriptor)))
			return 1;
		buf_writer_init(&kw, 33);
		kw.wipe = 1;
		buf_writer_init(&plain, KMS_SHARE_MAX_CIPHERTEXT);
		plain.wipe = 1;
		if (file_read_all(key, 32, 1, &kw) != ERR_OK || kw.len != 32) {
			fprintf(stderr, "dstack-kms: %s: not a private 32-byte key file (mode 0600)\n", key);
		} else {
			memcpy(sk, kw.p, 32);
			if (kms_share_open(sk, in, &plain) != ERR_OK)
				fprintf(stderr, "dstack-kms: the share does not open with this key\n");
			else if (kms_share_seal(pub, in->share_set_id.data, in->index, in->threshold, in->total, plain.p,
						plain.len, &c->mem, &next) == ERR_OK) {
				next.custodian_name = in->custodian_name;
				rc = write_json_file(out, &next.base);
			}
			secure_wipe(sk, sizeof(sk));
		}
		buf_writer_free(&kw);
		buf_writer_free(&plain);
		return rc;
	}
	return usage();
}

int kms_cli_main(int argc, char **argv, const struct svc_def *def)
{
	static const struct option lo[] = {
		{ "admin", 1, NULL, 'a' },  { "token-file", 1, NULL, 'T' }, { "domain", 1, NULL, 'd' },
		{ "source", 1, NULL, 's' }, { "reason", 1, NULL, 'r' },     { "epoch", 1, NULL, 'e' },
		{ "limit", 1, NULL, 'l' },  { "threshold", 1, NULL, 't' },  { "custodian", 1, NULL, 'c' },
		{ "out", 1, NULL, 'o' },    { "set", 1, NULL, 'S' },        { "share", 1, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0], *domain = NULL, *source = NULL, *reason = NULL, *out = NULL, *set = NULL;
	const char *custodians[255], *shares[255];
	size_t nc = 0, ns = 0;
	long epoch = -1, limit = 0, threshold = 0;
	struct cli c = { .admin = DEFAULT_ADMIN };
	ProtobufCMessage empty, *resp;
	int opt, rc = 2;

	(void)def;
	arena_init(&c.mem, 256u << 20, 0);
	c.mem.wipe = 1;
	protobuf_c_message_init(&google__protobuf__empty__descriptor, &empty);
	if (strcmp(cmd, "custodian") == 0) {
		rc = custodian(&c, argc, argv);
		goto done;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		char *end = NULL;

		switch (opt) {
		case 'a': c.admin = optarg; break;
		case 'T':
			if ((rc = read_token(&c, optarg)) != 0)
				goto done;
			rc = 2;
			break;
		case 'd': domain = optarg; break;
		case 's': source = optarg; break;
		case 'r': reason = optarg; break;
		case 'o': out = optarg; break;
		case 'S': set = optarg; break;
		case 'e': epoch = strtol(optarg, &end, 10); break;
		case 'l': limit = strtol(optarg, &end, 10); break;
		case 't': threshold = strtol(optarg, &end, 10); break;
		case 'c':
			if (nc < ARRAY_LEN(custodians))
				custodians[nc++] = optarg;
			break;
		case 'h':
			if (ns < ARRAY_LEN(shares))
				shares[ns++] = optarg;
			break;
		default:
			goto usage;
		}
		if (end && *end)
			goto usage;
	}
	if (strcmp(cmd, "status") == 0) {
		rc = simple(&c, "Status", &empty, &dstack__kms__v1__status_response__descriptor);
	} else if (strcmp(cmd, "epochs") == 0) {
		rc = simple(&c, "ListEpochs", &empty, &dstack__kms__v1__list_epochs_response__descriptor);
	} else if (strcmp(cmd, "audit") == 0) {
		Dstack__Kms__V1__ListOnboardingsRequest q;

		dstack__kms__v1__list_onboardings_request__init(&q);
		q.limit = (uint32_t)(limit > 0 && limit < 1000 ? limit : 0);
		rc = simple(&c, "ListOnboardings", &q.base, &dstack__kms__v1__list_onboardings_response__descriptor);
	} else if (strcmp(cmd, "bootstrap") == 0 && domain) {
		Dstack__Kms__V1__BootstrapRequest q;

		dstack__kms__v1__bootstrap_request__init(&q);
		q.domain = UNCONST(domain);
		rc = simple(&c, "Bootstrap", &q.base, &dstack__kms__v1__bootstrap_response__descriptor);
	} else if (strcmp(cmd, "onboard") == 0 && source) {
		Dstack__Kms__V1__OnboardRequest q;

		dstack__kms__v1__onboard_request__init(&q);
		q.source_url = UNCONST(source);
		q.domain = UNCONST(domain ? domain : "");
		rc = simple(&c, "Onboard", &q.base, &dstack__kms__v1__onboard_response__descriptor);
	} else if (strcmp(cmd, "rotate") == 0) {
		Dstack__Kms__V1__RotateEpochRequest q;

		dstack__kms__v1__rotate_epoch_request__init(&q);
		q.reason = UNCONST(reason ? reason : "");
		rc = simple(&c, "RotateEpoch", &q.base, &dstack__kms__v1__rotate_epoch_response__descriptor);
	} else if (strcmp(cmd, "retire") == 0 && epoch >= 0) {
		Dstack__Kms__V1__RetireEpochRequest q;
		Google__Protobuf__UInt32Value v;

		dstack__kms__v1__retire_epoch_request__init(&q);
		google__protobuf__uint32_value__init(&v);
		v.value = (uint32_t)epoch;
		q.epoch = &v;
		q.reason = UNCONST(reason ? reason : "");
		rc = simple(&c, "RetireEpoch", &q.base, &dstack__kms__v1__retire_epoch_response__descriptor);
	} else if (strcmp(cmd, "recovery-key") == 0) {
		rc = simple(&c, "GetRecoveryKey", &empty, &dstack__kms__v1__get_recovery_key_response__descriptor);
	} else if (strcmp(cmd, "export-shares") == 0 && threshold > 1 && nc > 1 && out) {
		Dstack__Kms__V1__ExportSharesRequest q;
		Dstack__Kms__V1__ExportSharesResponse *r;
		Dstack__Kms__V1__Custodian cs[255], *cp[255];

		dstack__kms__v1__export_shares_request__init(&q);
		for (size_t i = 0; i < nc; i++) {
			const char *eq = strchr(custodians[i], '=');
			uint8_t *pub = arena_alloc(&c.mem, 32);

			dstack__kms__v1__custodian__init(&cs[i]);
			if (!eq || !pub || unhex32(eq + 1, pub) != 0) {
				fprintf(stderr, "dstack-kms: --custodian NAME=X25519PUBHEX (64 hex digits)\n");
				goto usage;
			}
			cs[i].name = arena_printf(&c.mem, "%.*s", (int)(eq - custodians[i]), custodians[i]);
			cs[i].public_key = (ProtobufCBinaryData){ 32, pub };
			cp[i] = &cs[i];
		}
		q.threshold = (uint32_t)threshold;
		q.total = (uint32_t)nc;
		q.custodians = cp;
		q.n_custodians = nc;
		q.reason = UNCONST(reason ? reason : "");
		if ((rc = call(&c, "ExportShares", &q.base, &dstack__kms__v1__export_shares_response__descriptor, &resp)) == 0) {
			char path[4096];

			r = (Dstack__Kms__V1__ExportSharesResponse *)resp;
			/* The set (id, commitment, epochs) without the shares, then one file per custodian. */
			snprintf(path, sizeof(path), "%s/set.json", out);
			{
				size_t n = r->n_shares;

				r->n_shares = 0;
				rc = write_json_file(path, &r->base);
				r->n_shares = n;
			}
			for (size_t i = 0; rc == 0 && i < r->n_shares; i++) {
				snprintf(path, sizeof(path), "%s/share-%u-%s.json", out, r->shares[i]->index,
					 r->shares[i]->custodian_name);
				rc = write_json_file(path, &r->shares[i]->base);
			}
			if (rc == 0)
				printf("%zu shares (any %u recover) and set.json written to %s\n", r->n_shares, r->threshold, out);
		}
	} else if (strcmp(cmd, "recover") == 0 && set && ns > 0) {
		Dstack__Kms__V1__RecoverFromSharesRequest q;
		Dstack__Kms__V1__ExportSharesResponse *s;
		kms_share *sh[255];
		char path[4096];

		snprintf(path, sizeof(path), "%s/set.json", set);
		if (!(s = (void *)read_json_file(&c, path, &dstack__kms__v1__export_shares_response__descriptor))) {
			rc = 1;
			goto done;
		}
		for (size_t i = 0; i < ns; i++)
			if (!(sh[i] = (kms_share *)read_json_file(&c, shares[i], &dstack__kms__v1__encrypted_share__descriptor))) {
				rc = 1;
				goto done;
			}
		dstack__kms__v1__recover_from_shares_request__init(&q);
		q.share_set_id = s->share_set_id;
		q.secret_commitment = s->secret_commitment;
		q.shares = sh;
		q.n_shares = ns;
		q.domain = UNCONST(domain ? domain : "");
		rc = simple(&c, "RecoverFromShares", &q.base, &dstack__kms__v1__recover_from_shares_response__descriptor);
	} else {
		goto usage;
	}
	goto done;
usage:
	rc = usage();
done:
	if (c.token) {
		secure_wipe(c.token, strlen(c.token));
		free(c.token);
	}
	arena_fini(&c.mem);
	return rc;
}
