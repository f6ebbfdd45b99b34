/*
 * nb_stub.c - the network-buffering backend of a build without libnl
 * (make NETBUF=no).  NIC devsets can be made, but their setup fails with
 * CKPT_ERROR_NOTSUP and says why, so a toolstack learns at setup time, not
 * at the first checkpoint, that output cannot be held back.
 */
#include <string.h>

#include "internal.h"

int nb_backend_open(ckpt_ctx *ctx, uint32_t domid, size_t nics, struct nb_backend **be_out)
{
	(void)domid;
	(void)nics;
	*be_out = NULL;
	LOG(ctx, ERROR,
	    "network buffering is not built into this ckptdev "
	    "(it needs libnl-route-3: build without NETBUF=no)");
	return CKPT_ERROR_NOTSUP;
}

void nb_backend_close(struct nb_backend *be)
{
	(void)be;
}

/* Never reached: nb_backend_open has failed. */
int nb_backend_watch_links(struct nb_backend *be, ckpt_dev *const *devs, size_t n)
{
	(void)be;
	(void)devs;
	(void)n;
	return CKPT_ERROR_NOTSUP;
}

int nb_plug_attach(struct nb_backend *be, ckpt_dev *dev, const char *ifb, struct nb_plug **plug_out)
{
	(void)be;
	(void)dev;
	(void)ifb;
	*plug_out = NULL;
	return CKPT_ERROR_NOTSUP;
}

void nb_plug_detach(struct nb_backend *be, struct nb_plug *plug)
{
	(void)be;
	(void)plug;
}

int nb_plug_request(struct nb_backend *be, ckpt_dev *const *devs, size_t n, enum nb_action action,
                    int *rcs)
{
	(void)be;
	(void)devs;
	(void)action;
	for (size_t i = 0; i < n; i++)
		rcs[i] = CKPT_ERROR_NOTSUP;
	return n ? CKPT_ERROR_NOTSUP : 0;
}

int nb_plug_stats(struct nb_backend *be, ckpt_dev *const *devs, size_t n, ckpt_nic_stats *out,
                  int *rcs)
{
	(void)be;
	(void)devs;
	(void)out;
	for (size_t i = 0; i < n; i++)
		rcs[i] = CKPT_ERROR_NOTSUP;
	return n ? CKPT_ERROR_NOTSUP : 0;
}

void nb_sweep_init(struct nb_sweep *s)
{
	memset(s, 0, sizeof(*s));
}

/* Never reached: a devset of NICs has no subkind here, so no teardown. */
void nb_sweep_start(ao_egc *egc, struct nb_sweep *s)
{
	DEV_LOG(s->dev, ERROR, "teardown of %s: network buffering is not built in", s->vif);
	s->left = 1;
	s->callback(egc, s);
}

int nb_ifb_probe(ckpt_ctx *ctx, const char *ifb, char qdisc[16], ckpt_nic_stats *st)
{
	(void)ctx;
	(void)ifb;
	qdisc[0] = '\0';
	memset(st, 0, sizeof(*st));
	return CKPT_ERROR_NOTSUP;
}
