/*
 * tap.c - TAP output for the programs of the vm and xen test tiers.
 */
#include "tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int passed, failed;

bool tap_ok(bool cond, const char *desc, const char *fmt, ...)
{
	va_list ap;

	if (cond) {
		printf("ok %d - %s\n", passed + failed + 1, desc);
		passed++;
	} else {
		printf("not ok %d - %s\n#   ", passed + failed + 1, desc);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
		failed++;
	}
	fflush(stdout);
	return cond;
}

int tap_finish(void)
{
	printf("1..%d\n", passed + failed);
	printf("%d passed, %d failed\n", passed, failed);
	fflush(stdout);
	return failed ? 1 : 0;
}

void tap_skip(const char *reason)
{
	printf("skipped: %s\n", reason);
	fflush(stdout);
	exit(TAP_EXIT_SKIP);
}
