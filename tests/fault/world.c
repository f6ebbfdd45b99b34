/*
 * world.c - the outside views of world.h.
 */
#include <dirent.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xenstore.h>

#include "world.h"

int world_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the listing's own fd */
}

/* pid's parent, state, command and kernel flags from /proc/PID/stat; 0
 * or -1. */
static int proc_stat(pid_t pid, pid_t *ppid, char *state, char *comm, size_t len, unsigned *flags)
{
	char path[64], buf[512], *open, *close;
	unsigned f_ = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* "pid (comm) S ppid pgrp session tty tpgid flags ...": comm may
	 * hold spaces and parentheses */
	open = strchr(buf, '(');
	close = strrchr(buf, ')');
	if (!open || !close || close < open)
		return -1;
	snprintf(comm, len, "%.*s", (int)(close - open - 1), open + 1);
	if (sscanf(close + 1, " %c %d %*d %*d %*d %*d %u", state, ppid, &f_) < 2)
		return -1;
	if (flags)
		*flags = f_;
	return 0;
}

/* Killed and not yet dead: SIGKILL pending (the kernel has yet to run it
 * to its end, on a loaded machine), or already exiting (PF_EXITING). */
static bool dying(pid_t pid, unsigned flags)
{
	char path[64], line[128];
	unsigned long long mask;
	bool yes = flags & 0x4; /* PF_EXITING */
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && !yes && fgets(line, sizeof(line), f))
		if ((sscanf(line, "SigPnd: %llx", &mask) == 1 ||
		     sscanf(line, "ShdPnd: %llx", &mask) == 1) &&
		    (mask & (1ULL << (SIGKILL - 1))))
			yes = true;
	if (f)
		fclose(f);
	return yes;
}

struct kid {
	pid_t pid;
	char state;
	char comm[64];
	unsigned flags;
};

#define MAX_KIDS 256

/* The processes whose parent is ppid, but for ex1 and ex2: how many (at
 * most MAX_KIDS) in kids. */
static int kids_of(pid_t ppid, pid_t ex1, pid_t ex2, struct kid *kids)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < MAX_KIDS) {
		pid_t pid = (pid_t)atoi(e->d_name), parent;
		struct kid *k = &kids[n];

		if (pid <= 0 || pid == ex1 || pid == ex2 ||
		    proc_stat(pid, &parent, &k->state, k->comm, sizeof(k->comm), &k->flags) ||
		    parent != ppid)
			continue;
		k->pid = pid;
		n++;
	}
	closedir(d);
	return n;
}

static int children(pid_t ppid, pid_t ex1, pid_t ex2, char *desc, size_t len, bool only_dying)
{
	struct kid kids[MAX_KIDS];
	int found = kids_of(ppid, ex1, ex2, kids), n = 0;
	size_t used = 0;

	if (desc && len)
		desc[0] = 0;
	for (int i = 0; i < found; i++) {
		struct kid *k = &kids[i];

		if (only_dying && (k->state == 'Z' || !dying(k->pid, k->flags)))
			continue;
		n++;
		if (desc && used < len)
			used += (size_t)snprintf(desc + used, len - used, "%s%d(%s,%c)",
			                         n > 1 ? " " : "", (int)k->pid, k->comm, k->state);
	}
	return n;
}

int world_children(pid_t ppid, pid_t ex1, pid_t ex2, char *desc, size_t len)
{
	return children(ppid, ex1, ex2, desc, len, false);
}

int world_dying_children(pid_t ppid, pid_t ex1, pid_t ex2)
{
	return children(ppid, ex1, ex2, NULL, 0, true);
}

int world_reap_dead_orphans(pid_t ex1, pid_t ex2)
{
	struct kid kids[MAX_KIDS];
	int found = kids_of(getpid(), ex1, ex2, kids), n = 0;

	for (int i = 0; i < found; i++)
		if (kids[i].state == 'Z' && waitpid(kids[i].pid, NULL, WNOHANG) == kids[i].pid)
			n++;
	return n;
}

void world_reap_children(pid_t ex1, pid_t ex2)
{
	struct kid kids[MAX_KIDS];
	int found = kids_of(getpid(), ex1, ex2, kids);

	for (int i = 0; i < found; i++) {
		kill(kids[i].pid, SIGKILL);
		waitpid(kids[i].pid, NULL, 0);
	}
}

int world_link_watch_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = -1;

	while (d && found < 0 && (e = readdir(d))) {
		int fd = atoi(e->d_name), proto = 0;
		struct sockaddr_nl sa = {0};
		socklen_t len = sizeof(sa), plen = sizeof(proto);

		if (e->d_name[0] == '.' || fd == dirfd(d) ||
		    getsockname(fd, (struct sockaddr *)&sa, &len) || sa.nl_family != AF_NETLINK ||
		    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &plen) ||
		    proto != NETLINK_ROUTE)
			continue;
		if (sa.nl_groups & RTMGRP_LINK)
			found = fd;
	}
	if (d)
		closedir(d);
	return found;
}

long world_netlink_drops(int fd)
{
	struct stat st;
	char line[256];
	long drops = -1;
	FILE *f;

	if (fstat(fd, &st))
		return -1;
	f = fopen("/proc/net/netlink", "r");
	/* sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode */
	while (f && drops < 0 && fgets(line, sizeof(line), f)) {
		unsigned long ino;
		long d;

		if (sscanf(line, "%*s %*d %*u %*x %*u %*u %*u %*d %ld %lu", &d, &ino) == 2 &&
		    ino == st.st_ino)
			drops = d;
	}
	if (f)
		fclose(f);
	return drops;
}

char *world_sh(const char *cmd)
{
	char *out = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&out, &len), *p;
	char buf[4096];
	size_t n;

	if (!mem)
		abort();
	p = popen(cmd, "r");
	if (p) {
		while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
			fwrite(buf, 1, n, mem);
		pclose(p);
	}
	fclose(mem);
	return out;
}

/* Interface indexes and a veth's random address change when a link is
 * made again: the listing leaves them out.  Filters: the vif's, the only place the hotplug script puts
 * one (an IFB shows in the link listing). */
static const char kernel_cmd[] =
        "exec 2>/dev/null; ip -d -o link show |"
        " sed 's/^[0-9]*: //; s/ link-netnsid [0-9]*//; s/link\\/ether [0-9a-f:]*/link\\/ether/';"
        " printf 'qdisc show\\nfilter show dev vif9.0 ingress\\nfilter show dev vif9.0 egress\\n' |"
        " tc -batch -";

/* "path = value" for path and everything below it. */
static void xs_list(struct xs_handle *xs, const char *path, FILE *out)
{
	unsigned n = 0, len = 0;
	char *value = xs_read(xs, XBT_NULL, path, &len);
	char **names;

	if (!value)
		return;
	fprintf(out, "%s = \"%.*s\"\n", path, (int)len, value);
	free(value);
	names = xs_directory(xs, XBT_NULL, path, &n);
	for (unsigned i = 0; names && i < n; i++) {
		char child[1024];

		snprintf(child, sizeof(child), "%s/%s", path, names[i]);
		xs_list(xs, child, out);
	}
	free(names);
}

void world_take(struct world *w, bool net)
{
	struct xs_handle *xs = xs_open(0);
	size_t len = 0;
	FILE *out = open_memstream(&w->xs, &len);

	if (!out)
		abort();
	if (xs) {
		xs_list(xs, "/libxl", out);
		xs_close(xs);
	} else {
		fputs(WORLD_NO_XS, out);
	}
	fclose(out);
	w->kernel = net ? world_sh(kernel_cmd) : NULL;
}

void world_dispose(struct world *w)
{
	free(w->xs);
	free(w->kernel);
	w->xs = w->kernel = NULL;
}

/* The first line where a and b differ, as "-old / +new". */
static void first_difference(const char *a, const char *b, char *out, size_t len)
{
	while (*a && *a == *b) {
		const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
		size_t la = ea ? (size_t)(ea - a) : strlen(a),
		       lb = eb ? (size_t)(eb - b) : strlen(b);

		if (la != lb || memcmp(a, b, la))
			break;
		a += la + (ea ? 1 : 0);
		b += lb + (eb ? 1 : 0);
	}
	snprintf(out, len, "-%.*s +%.*s", (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
}

int world_diff(const struct world *before, const struct world *after, char *diff, size_t len)
{
	int bits = 0;

	if (diff && len)
		diff[0] = 0;
	/* a dead xenstored (a fault of the world) lists nothing to compare */
	if (strcmp(before->xs, after->xs) && strcmp(after->xs, WORLD_NO_XS)) {
		bits |= WORLD_XS;
		if (diff)
			first_difference(before->xs, after->xs, diff, len);
	}
	if (before->kernel && after->kernel && strcmp(before->kernel, after->kernel)) {
		size_t used = diff ? strlen(diff) : 0;

		bits |= WORLD_KERNEL;
		if (diff && used + 8 < len)
			first_difference(before->kernel, after->kernel,
			                 diff + used + (used ? 3 : 0), len - used - 3);
		if (diff && used && used + 8 < len)
			memcpy(diff + used, " | ", 3);
	}
	return bits;
}
