/*
 * nb_sweep.c - the library finishes a NIC's teardown itself when
 * remus-netbuf-setup's teardown did not (it failed, was killed, timed out,
 * or could not be started), so that nothing of the buffer stays behind.
 *
 * The same order as the script's teardown (its header, "teardown"), so
 * that no packet the plug holds is dropped, through the devset's netlink
 * socket (nb_nl.c), touching only what is ours:
 *
 *   1. look    the IFB by name: ours if an ifb with our alias
 *              "ckptdev:<vif>" or "ckptdev:<vif>:<owner>" (an owner
 *              that has gone, or this process: owner.c), or no alias
 *              and our address
 *              02:63:<cksum CRC of the vif>; its root qdisc
 *   2. release RELEASE_INDEFINITE, if that root is a plug
 *   3. filter  on the vif's ingress, at pref 49152: removed only if it
 *              redirects (mirred) into our IFB
 *   4. clsact  the vif's: removed if ours (our IFB or our filter was
 *              there) and no filter is left on it, ingress or egress
 *   5. drain   the IFB's queue, looked at every 50 ms by a timer, for
 *              at most 2 s (what is still held then is lost, and logged)
 *   6. IFB     deleted, if ours
 *   7. the callback, with what was removed and what is left counted
 *
 * Each step is one request (a dump of one vif's filters for 3 and 4),
 * answered inside the send: only the drain waits, on the loop.  Each
 * object that is ours and stays is logged once, naming the NIC, the
 * object and the kernel's reason; one line sums up what was removed.
 */
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

#define SWEEP_FILTER_PREF 49152u /* the script's FILTER_PREF */
#define SWEEP_DRAIN_MS    2000   /* the script's DRAIN_STEPS looks, 50 ms apart */
#define SWEEP_LOOK_MS     50

static void drain_timer_cb(ao_egc *egc, ao_time *ev);

/* A tc request: header and tcmsg, no attribute. */
struct tc_req {
	struct nlmsghdr h;
	struct tcmsg tcm;
};

/* A link request by index. */
struct link_req {
	struct nlmsghdr h;
	struct ifinfomsg ifi;
};

uint32_t nb_cksum(const char *s)
{
	size_t len = strlen(s);
	uint32_t crc = 0;

	/* the POSIX CRC: polynomial 0x04C11DB7, most significant bit first,
	 * over the bytes and then the length (low byte first, no zeros) */
	for (size_t i = 0; i <= len + sizeof(len); i++) {
		unsigned char c;

		if (i < len)
			c = (unsigned char)s[i];
		else if (len >> (8 * (i - len)))
			c = (unsigned char)(len >> (8 * (i - len)));
		else
			break;
		crc ^= (uint32_t)c << 24;
		for (int b = 0; b < 8; b++)
			crc = crc & 0x80000000u ? (crc << 1) ^ 0x04C11DB7u : crc << 1;
	}
	return ~crc;
}

void nb_sweep_init(struct nb_sweep *s)
{
	memset(s, 0, sizeof(*s));
	ao_time_init(&s->timer);
}

/* Log an object of ours that stays ("cannot <what>"), and count it. */
PRINTF_LIKE(3, 4) static void cannot(struct nb_sweep *s, int err, const char *fmt, ...)
{
	ckpt_dev *dev = s->dev;
	char what[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	s->left++;
	LOGEV(dev->set->ctx, ERROR, err, "domain %u: %s: teardown of %s: cannot %s",
	      dev->set->domid, dev->name, s->vif, what);
}

/* ------------------------------------------------------------ 1. look */

/* Is the interface seen ours (see the top)? */
static bool ifb_is_ours(const struct nb_sweep *s, const struct nb_link *l)
{
	uint32_t crc = nb_cksum(s->vif);
	unsigned char mark[6] = {0x02, 0x63}; /* then the CRC, high byte first */
	char alias[64];

	for (int i = 0; i < 4; i++)
		mark[2 + i] = (unsigned char)(crc >> (24 - 8 * i));

	if (strcmp(l->kind, "ifb"))
		return false;
	if (l->alias[0]) {
		size_t n = (size_t)snprintf(alias, sizeof(alias), "ckptdev:%s", s->vif);
		int pid;

		if (strncmp(l->alias, alias, n))
			return false;
		if (!l->alias[n])
			return true; /* the alias of scripts that record no owner */
		/* ":PID:START": ours unless that is another process, still running */
		return l->alias[n] == ':' &&
		       (nb_owner_alive(l->alias + n + 1, &pid) != 1 || pid == getpid());
	}
	return l->addr_len == sizeof(mark) && !memcmp(l->addr, mark, sizeof(mark));
}

/* ----------------------------------------------------- 3. and 4. filters */

/* What a dump of one hook's filters found. */
struct filter_scan {
	int ifb_index;  /* our IFB; 0 if there is none of ours */
	bool any;       /* a filter is there */
	bool ours;      /* ours is: at our pref, redirecting into our IFB */
	uint16_t proto; /* ours: its protocol (network order), to delete it */
};

/* Does this action list (nested TCA_*_ACT) redirect into ifindex? */
static bool acts_redirect_to(const struct rtattr *acts, int ifindex)
{
	int len = (int)RTA_PAYLOAD(acts);

	for (const struct rtattr *a = RTA_DATA(acts); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		int alen = (int)RTA_PAYLOAD(a);
		char kind[16] = "";

		for (const struct rtattr *f = RTA_DATA(a); RTA_OK(f, alen); f = RTA_NEXT(f, alen)) {
			int olen = (int)RTA_PAYLOAD(f);

			if ((f->rta_type & NLA_TYPE_MASK) == TCA_ACT_KIND)
				snprintf(kind, sizeof(kind), "%.*s",
				         (int)strnlen(RTA_DATA(f), RTA_PAYLOAD(f)),
				         (const char *)RTA_DATA(f));
			if ((f->rta_type & NLA_TYPE_MASK) != TCA_ACT_OPTIONS ||
			    strcmp(kind, "mirred"))
				continue;
			for (const struct rtattr *o = RTA_DATA(f); RTA_OK(o, olen);
			     o = RTA_NEXT(o, olen)) {
				struct tc_mirred m;

				if ((o->rta_type & NLA_TYPE_MASK) != TCA_MIRRED_PARMS ||
				    RTA_PAYLOAD(o) < sizeof(m))
					continue;
				memcpy(&m, RTA_DATA(o), sizeof(m));
				if (m.eaction == TCA_EGRESS_REDIR && (int)m.ifindex == ifindex)
					return true;
			}
		}
	}
	return false;
}

/* One filter of the dump (RTM_NEWTFILTER). */
static void scan_filter(const struct nlmsghdr *h, void *arg)
{
	struct filter_scan *fs = arg;
	const struct tcmsg *tcm = NLMSG_DATA(h);
	int len, act_type = -1;

	if (h->nlmsg_type != RTM_NEWTFILTER || h->nlmsg_len < NLMSG_LENGTH(sizeof(*tcm)))
		return;
	fs->any = true;
	if (!fs->ifb_index || TC_H_MAJ(tcm->tcm_info) >> 16 != SWEEP_FILTER_PREF)
		return;
	len = (int)TCA_PAYLOAD(h);
	for (const struct rtattr *r = TCA_RTA(tcm); RTA_OK(r, len); r = RTA_NEXT(r, len)) {
		/* TCA_KIND comes before TCA_OPTIONS; the action list's
		 * attribute depends on the classifier */
		if (r->rta_type == TCA_KIND && !strncmp(RTA_DATA(r), "matchall", RTA_PAYLOAD(r)))
			act_type = TCA_MATCHALL_ACT;
		else if (r->rta_type == TCA_KIND && !strncmp(RTA_DATA(r), "u32", RTA_PAYLOAD(r)))
			act_type = TCA_U32_ACT;
		if ((r->rta_type & NLA_TYPE_MASK) != TCA_OPTIONS || act_type < 0)
			continue;
		int olen = (int)RTA_PAYLOAD(r);
		for (const struct rtattr *o = RTA_DATA(r); RTA_OK(o, olen); o = RTA_NEXT(o, olen))
			if ((o->rta_type & NLA_TYPE_MASK) == act_type &&
			    acts_redirect_to(o, fs->ifb_index)) {
				fs->ours = true;
				fs->proto = (uint16_t)TC_H_MIN(tcm->tcm_info);
			}
	}
}

/* Dump the filters of the vif's ingress or egress hook into fs. */
static int scan_hook(struct nb_sweep *s, int vif_index, uint32_t hook, struct filter_scan *fs)
{
	struct tc_req req = {
	        .h = {.nlmsg_len = sizeof(req),
	              .nlmsg_type = RTM_GETTFILTER,
	              .nlmsg_flags = NLM_F_DUMP},
	        .tcm = {.tcm_family = AF_UNSPEC,
	                .tcm_ifindex = vif_index,
	                .tcm_parent = TC_H_MAKE(TC_H_CLSACT, hook)},
	};

	return nb_nl_talk(s->be, &req.h, scan_filter, fs);
}

/* Steps 3 and 4, on the vif. */
static void sweep_vif(struct nb_sweep *s, bool ifb_ours)
{
	struct filter_scan in = {.ifb_index = ifb_ours ? s->link.ifindex : 0}, eg = {0};
	struct nb_qdisc clsact;
	struct nb_link vif;
	int err;

	err = nb_nl_link(s->be, s->vif, &vif);
	if (err == ENODEV)
		return; /* gone with the guest: its filters and clsact too */
	if (!err)
		err = scan_hook(s, vif.ifindex, TC_H_MIN_INGRESS, &in);
	if (err) {
		cannot(s, err, "look at the filters of %s", s->vif);
		return;
	}
	if (in.ours) {
		struct tc_req del = {
		        .h = {.nlmsg_len = sizeof(del), .nlmsg_type = RTM_DELTFILTER},
		        .tcm = {.tcm_family = AF_UNSPEC,
		                .tcm_ifindex = vif.ifindex,
		                .tcm_parent = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS),
		                .tcm_info = TC_H_MAKE(SWEEP_FILTER_PREF << 16, in.proto)},
		};

		err = nb_nl_talk(s->be, &del.h, NULL, NULL);
		if (err)
			cannot(s, err, "remove the redirect filter into %s", s->ifb);
		else
			s->removed++;
	}
	/* the clsact is ours if our IFB or our filter was there; anyone
	 * else's filter on it keeps it */
	if (!ifb_ours && !in.ours)
		return;
	in = (struct filter_scan){0};
	err = nb_nl_qdisc(s->be, vif.ifindex, TC_H_CLSACT, &clsact);
	if (!err && strcmp(clsact.kind, "clsact"))
		return;
	if (!err)
		err = scan_hook(s, vif.ifindex, TC_H_MIN_INGRESS, &in);
	if (!err)
		err = scan_hook(s, vif.ifindex, TC_H_MIN_EGRESS, &eg);
	if (!err && (in.any || eg.any))
		return; /* someone else's filter: not ours to remove */
	if (!err) {
		struct tc_req del = {
		        .h = {.nlmsg_len = sizeof(del), .nlmsg_type = RTM_DELQDISC},
		        .tcm = {.tcm_family = AF_UNSPEC,
		                .tcm_ifindex = vif.ifindex,
		                .tcm_parent = TC_H_CLSACT},
		};
		err = nb_nl_talk(s->be, &del.h, NULL, NULL);
	}
	if (err)
		cannot(s, err, "remove the clsact qdisc of %s", s->vif);
	else
		s->removed++;
}

/* ----------------------------------------------------------- the steps */

static void finish(ao_egc *egc, struct nb_sweep *s)
{
	if (s->left)
		DEV_LOG(s->dev, ERROR,
		        "teardown of %s finished by the library: %u object(s) removed, %u of "
		        "ours left",
		        s->vif, s->removed, s->left);
	else
		DEV_LOG(s->dev, WARN,
		        "teardown of %s finished by the library: %u object(s) removed, 0 of "
		        "ours left",
		        s->vif, s->removed);
	s->callback(egc, s);
}

/* 6: the queue is out (or 2 s passed): the IFB goes. */
static void delete_ifb(ao_egc *egc, struct nb_sweep *s)
{
	struct link_req del = {
	        .h = {.nlmsg_len = sizeof(del), .nlmsg_type = RTM_DELLINK},
	        .ifi = {.ifi_family = AF_UNSPEC, .ifi_index = s->link.ifindex},
	};
	int err = nb_nl_talk(s->be, &del.h, NULL, NULL);

	if (err == ENODEV)
		err = 0; /* gone meanwhile */
	if (err)
		cannot(s, err, "delete %s", s->ifb);
	else
		s->removed++;
	finish(egc, s);
}

/* 5: one look at what the IFB still holds. */
static void drain(ao_egc *egc, struct nb_sweep *s)
{
	ckpt_ctx *ctx = s->dev->set->ctx;
	struct nb_qdisc root;
	int err = nb_nl_qdisc(s->be, s->link.ifindex, TC_H_ROOT, &root);

	if (err == ENODEV) {
		finish(egc, s); /* someone deleted it meanwhile */
		return;
	}
	if (err || !root.st.packets_held) {
		delete_ifb(egc, s);
		return;
	}
	if (ao_ts_cmp(ao_now(), s->deadline) >= 0) {
		DEV_LOG(s->dev, ERROR,
		        "teardown of %s: %s still held %llu packet(s) after %d ms: dropped "
		        "with it",
		        s->vif, s->ifb, (unsigned long long)root.st.packets_held, SWEEP_DRAIN_MS);
		delete_ifb(egc, s);
		return;
	}
	if (ao_time_register_rel(ctx, &s->timer, drain_timer_cb, SWEEP_LOOK_MS)) {
		DEV_LOG(s->dev, ERROR, "teardown of %s: cannot wait for %s to drain", s->vif,
		        s->ifb);
		delete_ifb(egc, s);
	}
}

static void drain_timer_cb(ao_egc *egc, ao_time *ev)
{
	drain(egc, CONTAINER_OF(ev, struct nb_sweep, timer));
}

void nb_sweep_start(ao_egc *egc, struct nb_sweep *s)
{
	struct nb_qdisc root;
	bool ours;
	int err;

	memset(&root, 0, sizeof(root));
	s->removed = s->left = 0;
	s->be = ckpt_dev_subkind(s->dev);
	if (!s->ifb[0])
		snprintf(s->ifb, sizeof(s->ifb), "ifb-%08x", (unsigned)nb_cksum(s->vif));
	/* 1. look */
	err = nb_nl_link(s->be, s->ifb, &s->link);
	if (err && err != ENODEV) {
		cannot(s, err, "look at %s", s->ifb);
		finish(egc, s);
		return;
	}
	ours = !err && ifb_is_ours(s, &s->link);
	if (!err && !ours)
		DEV_LOG(s->dev, WARN, "teardown of %s: %s is not ours (alias \"%s\"): left alone",
		        s->vif, s->ifb, s->link.alias);
	if (ours)
		err = nb_nl_qdisc(s->be, s->link.ifindex, TC_H_ROOT, &root);
	/* 2. release: nothing held is dropped */
	s->plug = ours && !err && !strcmp(root.kind, "plug");
	s->released = false;
	if (s->plug) {
		err = nb_nl_release_root(s->be, s->link.ifindex, root.handle);
		s->released = !err;
		if (err) /* not an object left: the IFB still goes, with them */
			LOGEV(s->dev->set->ctx, ERROR, err,
			      "domain %u: %s: teardown of %s: cannot let out what %s holds "
			      "(dropped with it)",
			      s->dev->set->domid, s->dev->name, s->vif, s->ifb);
	}
	/* 3, 4 */
	sweep_vif(s, ours);
	if (!ours) {
		finish(egc, s);
		return;
	}
	/* 5: a plug not released would never drain */
	s->deadline = ao_ts_add_ms(ao_now(), SWEEP_DRAIN_MS);
	if (s->plug && !s->released)
		delete_ifb(egc, s);
	else
		drain(egc, s);
}
