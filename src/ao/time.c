/*
 * time.c - CLOCK_MONOTONIC arithmetic for timers.
 */
#include <limits.h>

#include "internal.h"

struct timespec ao_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

struct timespec ao_ts_add_ms(struct timespec t, unsigned ms)
{
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

int ao_ts_cmp(struct timespec a, struct timespec b)
{
	if (a.tv_sec != b.tv_sec)
		return a.tv_sec < b.tv_sec ? -1 : 1;
	if (a.tv_nsec != b.tv_nsec)
		return a.tv_nsec < b.tv_nsec ? -1 : 1;
	return 0;
}

int ao_ts_ms_until(struct timespec t, struct timespec now)
{
	long long ns;

	if (ao_ts_cmp(t, now) <= 0)
		return 0;
	ns = (long long)(t.tv_sec - now.tv_sec) * 1000000000LL + (t.tv_nsec - now.tv_nsec);
	if (ns / 1000000LL >= INT_MAX)
		return INT_MAX;
	return (int)((ns + 999999LL) / 1000000LL);
}
