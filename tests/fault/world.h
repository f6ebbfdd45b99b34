/*
 * world.h - what a run of the library may leave behind, seen from outside
 * it: the harness never asks the library's own bookkeeping.
 *
 *   fds        /proc/self/fd of the process that ran the library;
 *   processes  /proc: every process whose parent is a given pid (zombies
 *              included), so a library child or a script's grandchild
 *              that outlived its run is seen;
 *   xenstore   every node below /libxl with its value, read by a
 *              libxenstore connection of the harness's own;
 *   kernel     `ip -d -o link`, `tc qdisc` and the vif's ingress and
 *              egress `tc filter` listings, in the harness's namespace.
 */
#ifndef CKPT_FAULT_WORLD_H
#define CKPT_FAULT_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Open fds of this process. */
int world_fd_count(void);

/* The processes whose parent is ppid, but for ex1 and ex2 (0: none): how
 * many, and "pid(comm,state) ..." in desc (may be NULL). */
int world_children(pid_t ppid, pid_t ex1, pid_t ex2, char *desc, size_t len);

/* How many of those are killed but not yet dead (SIGKILL pending, or
 * exiting): on a loaded machine the kernel may take a while to run them
 * to their end, and they are not left behind. */
int world_dying_children(pid_t ppid, pid_t ex1, pid_t ex2);

/* This process (a subreaper) reaps the orphans that died: what a run's
 * process left dead is not a leak (init would have reaped it), what it
 * left running is.  How many were reaped. */
int world_reap_dead_orphans(pid_t ex1, pid_t ex2);

/* SIGKILL and reap this process's children but ex1 and ex2 (after a
 * violation, so that the next run starts clean). */
void world_reap_children(pid_t ex1, pid_t ex2);

/* The xenstore listing when no xenstored answers. */
#define WORLD_NO_XS "(no xenstored)\n"

struct world {
	char *xs;     /* xenstore listing of /libxl */
	char *kernel; /* links, qdiscs, filters (NULL when not asked) */
};

/* Take a snapshot; net: also the kernel objects. */
void world_take(struct world *w, bool net);
void world_dispose(struct world *w);

/* Compare a snapshot with the one taken before: 0 if equal, else a bit
 * per part that differs (WORLD_XS, WORLD_KERNEL), and the first lines
 * that differ in diff. */
#define WORLD_XS     1
#define WORLD_KERNEL 2
int world_diff(const struct world *before, const struct world *after, char *diff, size_t len);

/* The library's link watch in this process: the NETLINK_ROUTE socket
 * bound to RTMGRP_LINK; its fd, or -1. */
int world_link_watch_fd(void);

/* How many messages the kernel dropped for lack of room on the netlink
 * socket fd (each time its reader then gets ENOBUFS), from
 * /proc/net/netlink; -1 if it is not listed. */
long world_netlink_drops(int fd);

/* The output of `sh -c cmd` (stderr discarded), malloc'd. */
char *world_sh(const char *cmd);

#endif /* CKPT_FAULT_WORLD_H */
