/*
 * fuzz_cli - the sample driver's command line: the options of
 * `ckptdev run` and `ckptdev teardown` as tools/ckptdev.c's parse() reads
 * them (getopt_long, numbers and their ranges, --fault NAME[:NTH],
 * --pause-pid), without running anything.
 *
 * Input: the arguments after the command, each ended by a NUL byte, as in
 * /proc/PID/cmdline (at most 64; a last one without its NUL counts too).
 *
 * tools/ckptdev.c is compiled into this file, unchanged, with three names
 * redirected for its code alone: main (so that this file's libFuzzer main
 * is the program's), exit (a usage error or --help returns here through
 * longjmp: parse() owns no memory, so nothing is lost on the way) and
 * stdout/stderr (its messages go to /dev/null: formatted, not shown).
 * The exit status must be 0 (--help) or 2 (a usage error).
 */
#include <assert.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 64

static jmp_buf fuzz_cli_jmp;
static FILE *fuzz_cli_null;

_Noreturn static void fuzz_cli_exit(int status)
{
	longjmp(fuzz_cli_jmp, status + 1); /* +1: never 0 */
}

#undef stdout
#undef stderr
#define stdout fuzz_cli_null
#define stderr fuzz_cli_null
#define exit   fuzz_cli_exit
#define main   ckptdev_main
#include "../../tools/ckptdev.c"
#undef main
#undef exit

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_cli_null = fopen("/dev/null", "w");
	if (!fuzz_cli_null)
		abort();
	opterr = 0; /* getopt's own complaints would go to the real stderr */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *args = malloc(size + 1), *argv[MAX_ARGS + 2];
	struct opts o;
	int argc = 0;
	volatile int status;

	memcpy(args, data, size);
	args[size] = '\0';
	argv[argc++] = "run";
	for (size_t at = 0; at < size && argc <= MAX_ARGS; at += strlen(args + at) + 1)
		argv[argc++] = args + at;
	argv[argc] = NULL;
	memset(&o, 0, sizeof(o));
	optind = 0; /* getopt starts afresh, forgetting the last argv */
	status = setjmp(fuzz_cli_jmp);
	if (status == 0) {
		parse(&o, argc, argv);
		/* accepted: what run() relies on */
		assert(o.have_domid && o.domid <= MAX_DOMID);
		assert(o.n_nics + o.n_disks > 0 && o.n_nics <= MAX_DEVS && o.n_disks <= MAX_DEVS);
		assert(o.interval_ms >= 1 && o.interval_ms <= MAX_MS);
		assert(o.n_faults <= MAX_FAULTS);
		for (int i = 0; i < o.n_faults; i++)
			assert(o.faults[i].nth >= 1);
	} else {
		assert(status - 1 == 0 || status - 1 == 2);
	}
	free(args);
	return 0;
}
