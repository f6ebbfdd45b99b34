/*
 * fuzz_dev_params - device specs as an application hands them to
 * ckpt_devset_new: kinds, devids and "key=value" parameters, checked by
 * the device layer (check_params) and each kind's validate (nic: vif,
 * script, timeout_ms, limit; disk: target, script, timeout_ms; an
 * application kind "app" that lists no keys and so takes any).
 *
 * Input, a text:
 *   line 1        the domid, decimal (anything else: domain 1)
 *   each line on  one device: KIND DEVID PARAM..., separated by spaces
 *                 (at most 16 devices of 8 parameters)
 * e.g.  "5\nnic 0 vif=vif5.0 script=/bin/true limit=65536\ndisk 0 target=/dev/vg/d5"
 *
 * The public API only, on one context (poll binding: no loop is run).
 * Each input must give 0 or CKPT_ERROR_INVAL, and a devset that was made
 * is freed, so LeakSanitizer sees what a refusal leaks.  The log's
 * messages are formatted (their %s of the input included) and dropped.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xentoollog.h>

#include "ckptdev.h"

#define MAX_DEVS   16
#define MAX_PARAMS 8

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ckpt_ctx *ctx;

static void drop_vmessage(xentoollog_logger *lg, xentoollog_level level, int errnoval,
                          const char *context, const char *format, va_list al)
{
	char line[1024];

	(void)lg;
	(void)level;
	(void)errnoval;
	(void)context;
	vsnprintf(line, sizeof(line), format, al);
}

static void drop_progress(xentoollog_logger *lg, const char *context, const char *doing_what,
                          int percent, unsigned long done, unsigned long total)
{
	(void)lg, (void)context, (void)doing_what, (void)percent, (void)done, (void)total;
}

static void drop_destroy(xentoollog_logger *lg)
{
	(void)lg;
}

static xentoollog_logger drop_logger = {drop_vmessage, drop_progress, drop_destroy};

static int app_validate(ckpt_dev *dev)
{
	/* an application kind reads its parameters with ckpt_dev_param */
	return ckpt_dev_param(dev, "fail") ? CKPT_ERROR_INVAL : 0;
}

static const ckpt_dev_kind app_kind = {.name = "app", .validate = app_validate};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	ckpt_ctx_opts opts = {.logger = &drop_logger, .loop = CKPT_LOOP_POLL};

	(void)argc;
	(void)argv;
	if (ckpt_ctx_new(&ctx, &opts) || ckpt_kind_register(ctx, &app_kind))
		abort();
	return 0;
}

/* The next token of *s up to any of stops (cut there), or NULL. */
static char *token(char **s, const char *stops)
{
	char *t = *s;

	if (!t)
		return NULL;
	*s = t + strcspn(t, stops);
	if (**s)
		*(*s)++ = '\0';
	else
		*s = NULL;
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *params[MAX_DEVS][MAX_PARAMS + 1];
	ckpt_dev_spec specs[MAX_DEVS];
	char *text = malloc(size + 1), *rest = text, *line, *end;
	unsigned long domid;
	ckpt_devset *set = NULL;
	size_t n = 0;
	int rc;

	memcpy(text, data, size);
	text[size] = '\0';
	line = token(&rest, "\n");
	domid = strtoul(line ? line : "", &end, 10);
	if (!line || end == line || *end || domid > UINT32_MAX)
		domid = 1;
	while (n < MAX_DEVS && (line = token(&rest, "\n"))) {
		char *field = line, *devid = NULL;
		size_t p = 0;

		specs[n].kind = token(&field, " ");
		devid = token(&field, " ");
		specs[n].devid = devid ? (int)strtol(devid, NULL, 10) : 0; /* wraps; any int */
		while (p < MAX_PARAMS && field)
			params[n][p++] = token(&field, " ");
		params[n][p] = NULL;
		specs[n].params = params[n];
		n++;
	}
	rc = ckpt_devset_new(ctx, (uint32_t)domid, n ? specs : NULL, n, &set);
	assert(rc == 0 || rc == CKPT_ERROR_INVAL);
	assert(!rc == !!set);
	if (set)
		assert(ckpt_devset_free(set) == 0);
	free(text);
	return 0;
}
