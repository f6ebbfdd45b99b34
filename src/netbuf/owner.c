/*
 * owner.c - who protects a NIC: a process, named by its pid and the time
 * it started (so that a recycled pid is not taken for the owner).
 *
 * The record is "PID:START", START being field 22 of /proc/PID/stat (the
 * process's start, in clock ticks since boot).  The NIC kind writes its
 * own to the device's xenstore folder at setup (node "owner"); another
 * process finding that record asks nb_owner_alive whether it is a live
 * protector or a crashed run's leftover.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* The start time of process pid, or 0 if it is gone (or hidden). */
static unsigned long long start_of(long pid)
{
	char path[40], buf[1024], *p;
	unsigned long long start = 0;
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* "PID (COMM) STATE ...": COMM may hold anything, even ") "; the
	 * fields after it start at the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++;
	/* p is at the space before field 3 (state): go to the one before 22 */
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (p)
		start = strtoull(p + 1, NULL, 10);
	return start;
}

int nb_owner_self(char buf[NB_OWNER_LEN])
{
	long pid = (long)getpid();
	unsigned long long start = start_of(pid);

	snprintf(buf, NB_OWNER_LEN, "%ld:%llu", pid, start);
	return start ? 0 : -1;
}

int nb_owner_parse(const char *rec, int *pid_out, unsigned long long *start_out)
{
	unsigned long long start;
	char *end;
	long pid;

	errno = 0;
	if (!rec || rec[0] < '1' || rec[0] > '9')
		return CKPT_ERROR_INVAL;
	pid = strtol(rec, &end, 10);
	if (errno || *end != ':' || pid > INT32_MAX || end[1] < '0' || end[1] > '9')
		return CKPT_ERROR_INVAL;
	start = strtoull(end + 1, &end, 10);
	if (errno || *end)
		return CKPT_ERROR_INVAL;
	*pid_out = (int)pid;
	*start_out = start;
	return 0;
}

int nb_owner_alive(const char *rec, int *pid_out)
{
	unsigned long long start;
	int pid;

	*pid_out = 0;
	if (nb_owner_parse(rec, &pid, &start))
		return -1;
	*pid_out = pid;
	return start && start_of(pid) == start;
}
