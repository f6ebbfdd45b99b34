/*
 * spawn_ways.h - ways to start a program under a supervisor process, made
 * by hand for the spawn bench, to time the part that the library's loop
 * thread waits for: from the call until the program has called exec (the
 * library learns of a failed exec at once, so it waits that long for
 * every script it starts, one after another).
 *
 *   SPAWN_FORK      the library's shape: fork() a supervisor, which
 *                   fork()s the program and waits for it; the caller
 *                   waits for a close-on-exec pipe to reach EOF;
 *   SPAWN_CLONE_VM  the same two processes without copying the caller's
 *                   address space: clone(CLONE_VM) for the supervisor (on
 *                   a stack of its own), clone(CLONE_VM | CLONE_VFORK)
 *                   for the program, which runs until its exec on a stack
 *                   of its own too;
 *   SPAWN_POSIX     posix_spawn() of the program alone, no supervisor (for
 *                   reference: what glibc's vfork-like spawn costs).
 *
 * None of them makes the output pipes, /dev/null, process group or pidfd
 * that the library's exec does: they are the floor of each shape, not a
 * replacement for the library's.
 */
#ifndef CKPT_BENCH_SPAWN_WAYS_H
#define CKPT_BENCH_SPAWN_WAYS_H

#include <sys/types.h>

enum spawn_way { SPAWN_FORK, SPAWN_CLONE_VM, SPAWN_POSIX };

struct spawned {
	pid_t pid;   /* the process to reap (supervisor, or the program) */
	void *stack; /* SPAWN_CLONE_VM: the stacks, freed by spawn_reap */
};

/* Start argv[0] (a full path) the given way; returns once it has exec'd.
 * Dies (bu_die) on failure. */
void spawn_start(enum spawn_way way, char *const argv[], struct spawned *out);
/* Wait for it to end (its exit status must be 0) and free what it used. */
void spawn_reap(struct spawned *s);

#endif /* CKPT_BENCH_SPAWN_WAYS_H */
