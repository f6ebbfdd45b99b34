/*
 * survey.c - what protects a domain's NICs, as their xenstore records say
 * (ckpt_nic_survey): for `ckptdev status` and for finding what a crashed
 * run left behind.
 *
 * A NIC device's record is its folder /libxl/<domid>/remus/netbuf/<devid>:
 * "vif" and "owner" are written by the NIC kind before its setup script
 * runs, "ifb" by the script once it has named the IFB.  The record stays
 * until teardown has removed what it names, so a record whose owner has
 * gone is a crashed run's leftover.
 */
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Read folder/node into buf ("" if absent or too long for buf). */
static int read_node(ckpt_ctx *ctx, const char *folder, const char *node, char *buf, size_t len)
{
	char *path = ao_sprintf("%s/%s", folder, node);
	char *val = NULL;
	int rc = ao_xs_read(ctx, path, &val);

	buf[0] = '\0';
	if (rc == CKPT_ERROR_NOTFOUND)
		rc = 0;
	else if (!rc && strlen(val) < len)
		strcpy(buf, val);
	else if (!rc)
		LOG(ctx, WARN, "xenstore %s: %zu characters, not an interface name: ignored", path,
		    strlen(val));
	free(val);
	free(path);
	return rc;
}

/* devid from a folder name: a decimal number, or -1. */
static int devid_of(const char *name)
{
	char *end;
	long v;

	if (name[0] < '0' || name[0] > '9' || (name[0] == '0' && name[1]))
		return -1;
	v = strtol(name, &end, 10);
	return *end || v > 0x7FFFFFFF ? -1 : (int)v;
}

static int cmp_devid(const void *a, const void *b)
{
	const ckpt_nic_record *x = a, *y = b;

	return (x->devid > y->devid) - (x->devid < y->devid);
}

int ckpt_nic_survey(ckpt_ctx *ctx, uint32_t domid, ckpt_nic_record *out, size_t n,
                    size_t *count_out)
{
	char *netbuf, **list = NULL;
	unsigned entries = 0;
	size_t found = 0;
	ao_egc egc;
	int rc;

	if (!ctx)
		return CKPT_ERROR_INVAL;
	if (!count_out || (n && !out)) {
		LOG(ctx, ERROR, "ckpt_nic_survey: %s is NULL", count_out ? "out" : "count_out");
		return CKPT_ERROR_INVAL;
	}
	if (domid >= DOMID_FIRST_RESERVED) {
		LOG(ctx, ERROR, "ckpt_nic_survey: domid %u is reserved (0x7FF0 and above)", domid);
		return CKPT_ERROR_INVAL;
	}
	*count_out = 0;
	netbuf = ao_sprintf("/libxl/%u/remus/netbuf", domid);
	ao_egc_enter(&egc, ctx);
	rc = ao_xs_directory(ctx, netbuf, &list, &entries);
	if (rc == CKPT_ERROR_NOTFOUND)
		rc = 0; /* no record: nothing protected */
	for (unsigned i = 0; !rc && i < entries; i++) {
		int devid = devid_of(list[i]);
		ckpt_nic_record r;
		char folder[96], owner[NB_OWNER_LEN];

		if (devid < 0)
			continue; /* not a device's folder: not ours to interpret */
		memset(&r, 0, sizeof(r));
		r.devid = devid;
		snprintf(folder, sizeof(folder), "%s/%s", netbuf, list[i]);
		rc = read_node(ctx, folder, "vif", r.vif, sizeof(r.vif));
		if (!rc)
			rc = read_node(ctx, folder, "ifb", r.ifb, sizeof(r.ifb));
		if (!rc)
			rc = read_node(ctx, folder, "owner", owner, sizeof(owner));
		if (rc)
			break;
		r.owner_alive = owner[0] && nb_owner_alive(owner, &r.owner_pid) == 1;
		r.ifb_exists = r.ifb[0] && if_nametoindex(r.ifb) != 0;
		if (found < n)
			out[found] = r;
		found++;
	}
	ao_egc_leave(&egc);
	free(list);
	free(netbuf);
	if (rc)
		return rc;
	*count_out = found;
	if (found > n)
		return CKPT_ERROR_BUFFERFULL;
	if (found > 1) /* out may be NULL when n is 0 */
		qsort(out, found, sizeof(*out), cmp_devid);
	for (size_t i = 0; i < found; i++) {
		ckpt_nic_record *r = &out[i];

		r->stats_rc = CKPT_ERROR_NOTFOUND;
		if (r->ifb_exists) {
			r->stats_rc = nb_ifb_probe(ctx, r->ifb, r->qdisc, &r->stats);
			if (!r->stats_rc && !r->qdisc[0])
				r->stats_rc = CKPT_ERROR_NOTFOUND;
		}
	}
	return 0;
}
