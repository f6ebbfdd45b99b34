/*
 * fuzz_xs_values - what the hotplug script (or anyone with dom0's
 * xenstore) leaves under a NIC's XENBUS_PATH, as nic.c reads it back:
 * XENBUS_PATH/ifb (nb_ifname_ok decides whether the name is used) and
 * XENBUS_PATH/hotplug-error (nb_hotplug_error_rc decides the rc).
 *
 * Input: a node's value, the bytes a xenstore-write stores.  libxenstore
 * hands it back NUL-terminated and nic.c reads it as a C string, so it is
 * used up to its first NUL, as the library sees it.
 *
 * Beyond the sanitizers, each accepted name is checked against the
 * promise in netbuf/internal.h: 1..15 characters of [A-Za-z0-9._-], not
 * "." or "..", so that it fits nb_nic.ifb unshortened.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netbuf/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value = malloc(size + 1);
	char ifb[16];
	int rc;

	memcpy(value, data, size);
	value[size] = '\0';
	if (nb_ifname_ok(value)) {
		size_t len = strlen(value);

		assert(len >= 1 && len <= 15);
		for (size_t i = 0; i < len; i++)
			assert((value[i] >= 'a' && value[i] <= 'z') ||
			       (value[i] >= 'A' && value[i] <= 'Z') ||
			       (value[i] >= '0' && value[i] <= '9') || value[i] == '.' ||
			       value[i] == '_' || value[i] == '-');
		assert(strcmp(value, ".") && strcmp(value, ".."));
		assert(snprintf(ifb, sizeof(ifb), "%s", value) == (int)len);
	}
	rc = nb_hotplug_error_rc(value);
	assert(rc == CKPT_ERROR_NOTSUP || rc == CKPT_ERROR_SCRIPT);
	free(value);
	return 0;
}
