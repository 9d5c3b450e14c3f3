/* SPDX-License-Identifier: Apache-2.0 */
/* Config keys of the gateway, on top of the common ones in lib/svc. */
#include <stddef.h>
#include <string.h>

#include "gateway.h"

#define G(field) offsetof(struct gateway_config, field)

const struct conf_key gateway_config_keys[] = {
	{ "base_domain", CONF_STR, G(base_domain), NULL, 0, 0, NULL, 1,
	  "DNS zone the gateway routes: <app-id>[-<port>[s|g]].<base_domain>" },
	{ "external_port", CONF_U32, G(external_port), "443", 1, 65535, NULL, 0,
	  "public TLS port clients use for the base domain" },
	{ "app_address_ns_prefix", CONF_STR, G(app_address_ns_prefix), "_dstack-app-address", 0, 0, NULL, 0,
	  "DNS TXT record prefix that maps a custom domain to an app" },
};

#undef G

const size_t gateway_config_nkeys = ARRAY_LEN(gateway_config_keys);

static int is_label_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
}

/* Lowercase LDH labels of 1..63 bytes, 253 in all: SNI comparisons later are then plain byte compares. */
static int is_dns_name(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
				return 0;
			label = 0;
		} else if (is_label_char(s[i])) {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

err_t gateway_config_validate(const struct svc_config *cfg, const char **detail)
{
	const struct gateway_config *g = cfg->service;

	if (!is_dns_name(g->base_domain)) {
		*detail = "base_domain must be a lowercase DNS name (letters, digits, '-', dots between labels)";
		return ERR_CONFIG_RANGE;
	}
	return ERR_OK;
}
