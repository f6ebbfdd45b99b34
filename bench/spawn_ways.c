/*
 * spawn_ways.c - see spawn_ways.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "spawn_ways.h"

extern char **environ;

#define STACK_SIZE (64 * 1024)

/* What the CLONE_VM supervisor reads; it lives at the bottom of the
 * mapping that holds both stacks. */
struct vm_args {
	char *const *argv;
	int status_w;
	char *program_stack_top;
};

static void wait_for_exec(int status_r, const char *way)
{
	int e;
	ssize_t n;

	do
		n = read(status_r, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(status_r);
	if (n > 0)
		bu_die("%s: the program could not be executed: %s", way, strerror(e));
}

/* In the program, until exec: raw system calls only (it shares memory
 * with the supervisor, which shares it with the bench). */
static int vm_program(void *arg)
{
	struct vm_args *a = arg;
	int e;

	execve(a->argv[0], a->argv, environ);
	e = errno;
	syscall(SYS_write, a->status_w, &e, sizeof(e));
	syscall(SYS_exit, 127);
	return 127;
}

static int vm_supervisor(void *arg)
{
	struct vm_args *a = arg;
	int status = 0;
	pid_t pid;

	/* the caller of a CLONE_VFORK clone sleeps until the program has
	 * exec'd (or exited) */
	pid = clone(vm_program, a->program_stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, a);
	syscall(SYS_close, a->status_w);
	if (pid < 0)
		syscall(SYS_exit, 126);
	while (syscall(SYS_wait4, pid, &status, 0, NULL) < 0)
		;
	syscall(SYS_exit, WIFEXITED(status) ? WEXITSTATUS(status) : 125);
	return 125;
}

void spawn_start(enum spawn_way way, char *const argv[], struct spawned *out)
{
	int st[2];

	out->stack = NULL;
	if (way == SPAWN_POSIX) {
		if (posix_spawn(&out->pid, argv[0], NULL, NULL, argv, environ))
			bu_die("posix_spawn %s failed", argv[0]);
		return;
	}
	if (pipe2(st, O_CLOEXEC))
		bu_die("pipe: %s", strerror(errno));
	if (way == SPAWN_FORK) {
		out->pid = fork();
		if (out->pid == 0) {
			pid_t prog = fork();
			int status, e;

			if (prog == 0) {
				execve(argv[0], argv, environ);
				e = errno;
				if (write(st[1], &e, sizeof(e)) < 0)
					_exit(127);
				_exit(127);
			}
			close(st[1]);
			_exit(waitpid(prog, &status, 0) == prog && WIFEXITED(status)
			              ? WEXITSTATUS(status)
			              : 125);
		}
	} else {
		char *mem = mmap(NULL, 2 * STACK_SIZE, PROT_READ | PROT_WRITE,
		                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		struct vm_args *a = (struct vm_args *)mem;

		if (mem == MAP_FAILED)
			bu_die("mmap: %s", strerror(errno));
		a->argv = argv;
		a->status_w = st[1];
		a->program_stack_top = mem + 2 * STACK_SIZE;
		out->stack = mem;
		/* the supervisor's stack: above the args, below the program's */
		out->pid = clone(vm_supervisor, mem + STACK_SIZE, CLONE_VM | SIGCHLD, a);
	}
	if (out->pid < 0)
		bu_die("starting a supervisor: %s", strerror(errno));
	close(st[1]);
	wait_for_exec(st[0], way == SPAWN_FORK ? "fork" : "clone(CLONE_VM)");
}

void spawn_reap(struct spawned *s)
{
	int status;

	if (waitpid(s->pid, &status, 0) != s->pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bu_die("a spawned program failed (status %#x)", status);
	if (s->stack)
		munmap(s->stack, 2 * STACK_SIZE);
}
