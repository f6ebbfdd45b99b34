/*
 * tap.h - TAP output for the programs of the vm and xen test tiers.
 *
 * Each check prints "ok N - what" or "not ok N - what" followed by a
 * "#   " line that says what was expected and what came; tap_finish()
 * prints the plan and the closing "N passed, N failed" line. A program
 * that cannot run here calls tap_skip(), which prints "skipped: <reason>"
 * and exits with TAP_EXIT_SKIP.
 */
#ifndef CKPT_TESTS_TAP_H
#define CKPT_TESTS_TAP_H

#include <stdbool.h>

#define TAP_EXIT_SKIP 4

/* tap_ok: report one check; fmt (printf-like) explains a failure. Returns
 * cond. */
bool tap_ok(bool cond, const char *desc, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* tap_finish: print the plan and the totals; returns the exit status (0
 * when every check passed, else 1). */
int tap_finish(void);

_Noreturn void tap_skip(const char *reason);

#endif
