/*
 * log.c - logging through the application's xentoollog logger, and the
 * allocation helpers (which log nothing: they abort).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void ao_log(ckpt_ctx *ctx, xentoollog_level level, int errnoval, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xtl_logv(ctx->lg, level, errnoval, "ckptdev", fmt, ap);
	va_end(ap);
}

static void *check_alloc(void *p, size_t n)
{
	if (!p && n) {
		fprintf(stderr, "ckptdev: out of memory allocating %zu bytes, aborting\n", n);
		abort();
	}
	return p;
}

void *ao_malloc(size_t n)
{
	return check_alloc(malloc(n ? n : 1), n);
}

void *ao_calloc(size_t n, size_t size)
{
	return check_alloc(calloc(n ? n : 1, size ? size : 1), n * size);
}

void *ao_realloc(void *p, size_t n)
{
	return check_alloc(realloc(p, n ? n : 1), n);
}

char *ao_strdup(const char *s)
{
	return check_alloc(strdup(s), strlen(s) + 1);
}

char *ao_sprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		check_alloc(NULL, strlen(fmt) + 1);
	return s;
}
