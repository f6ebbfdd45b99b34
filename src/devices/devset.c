/*
 * devset.c - making, inspecting and freeing devsets; device states.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static const char *const state_names[] = {
        [CKPT_DEV_NEW] = "new",     [CKPT_DEV_SETTING_UP] = "setting-up",
        [CKPT_DEV_READY] = "ready", [CKPT_DEV_TEARING_DOWN] = "tearing-down",
        [CKPT_DEV_DOWN] = "down",   [CKPT_DEV_FAILED] = "failed",
};

const char *ckpt_dev_state_name(enum ckpt_dev_state state)
{
	if ((unsigned)state >= ARRAY_SIZE(state_names))
		return "invalid";
	return state_names[state];
}

static bool transition_ok(enum ckpt_dev_state from, enum ckpt_dev_state to)
{
	switch (to) {
	case CKPT_DEV_SETTING_UP:
		return from == CKPT_DEV_NEW || from == CKPT_DEV_DOWN;
	case CKPT_DEV_READY:
	case CKPT_DEV_FAILED:
		return from == CKPT_DEV_SETTING_UP;
	case CKPT_DEV_TEARING_DOWN:
		/* from NEW or DOWN only through ckpt_devset_cleanup() */
		return from != CKPT_DEV_SETTING_UP && from != CKPT_DEV_TEARING_DOWN;
	case CKPT_DEV_DOWN:
		return from == CKPT_DEV_TEARING_DOWN;
	case CKPT_DEV_NEW:
		break;
	}
	return false;
}

void devset_set_state(ckpt_devset *set, enum ckpt_dev_state to)
{
	pthread_mutex_lock(&set->step_lock);
	set->state = to;
	if (to == CKPT_DEV_READY)
		set->phase = PHASE_IDLE;
	pthread_mutex_unlock(&set->step_lock);
}

void dev_set_state(ckpt_dev *dev, enum ckpt_dev_state to)
{
	assert(transition_ok(dev->state, to));
	dev->state = to;
}

/* The built-in kinds log why their validate refuses (at ERROR, naming the
 * device and the parameter); an application's kind cannot log through
 * the library, so the layer says it for them. */
static bool kind_is_builtin(const ckpt_dev_kind *kind)
{
	for (size_t i = 0; dev_builtin_kinds[i]; i++)
		if (dev_builtin_kinds[i] == kind)
			return true;
	return false;
}

/* Does the kind take parameter key (klen bytes)?  Yes if it does not say. */
static bool kind_takes(const ckpt_dev_kind *kind, const char *key, size_t klen)
{
	if (!kind->keys)
		return true;
	for (size_t k = 0; kind->keys[k]; k++)
		if (strlen(kind->keys[k]) == klen && !strncmp(kind->keys[k], key, klen))
			return true;
	return false;
}

/* "target, script, timeout_ms": what kind->keys lists, for a message. */
static void kind_keys_text(const ckpt_dev_kind *kind, char *buf, size_t len)
{
	size_t used = 0;

	snprintf(buf, len, "none");
	for (size_t k = 0; kind->keys[k] && used < len; k++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", k ? ", " : "",
		                         kind->keys[k]);
}

/* Check "key=value" parameters: a key of [a-z0-9_] that the kind takes
 * (see ckpt_dev_kind.keys), once each, with a value. */
static int check_params(ckpt_ctx *ctx, uint32_t domid, const ckpt_dev_spec *spec,
                        const ckpt_dev_kind *kind)
{
	for (size_t i = 0; spec->params && spec->params[i]; i++) {
		const char *p = spec->params[i], *eq = strchr(p, '=');
		size_t klen = eq ? (size_t)(eq - p) : 0;

		if (!eq || klen == 0 ||
		    strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_") != klen) {
			LOG(ctx, ERROR,
			    "domain %u: %s %d: parameter \"%s\" is not key=value "
			    "(key of a-z, 0-9, _)",
			    domid, spec->kind, spec->devid, p);
			return CKPT_ERROR_INVAL;
		}
		if (!kind_takes(kind, p, klen)) {
			char keys[256];
			kind_keys_text(kind, keys, sizeof(keys));
			LOG(ctx, ERROR,
			    "domain %u: %s %d: unknown parameter \"%.*s\" (%s takes: %s)", domid,
			    spec->kind, spec->devid, (int)klen, p, kind->name, keys);
			return CKPT_ERROR_INVAL;
		}
		if (!eq[1]) {
			LOG(ctx, ERROR, "domain %u: %s %d: parameter %.*s has an empty value",
			    domid, spec->kind, spec->devid, (int)klen, p);
			return CKPT_ERROR_INVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (!strncmp(spec->params[j], p, klen + 1)) {
				LOG(ctx, ERROR, "domain %u: %s %d: parameter %.*s given twice",
				    domid, spec->kind, spec->devid, (int)klen, p);
				return CKPT_ERROR_INVAL;
			}
		}
	}
	return 0;
}

static char **copy_params(const char *const *params)
{
	size_t n = 0;
	char **copy;

	while (params && params[n])
		n++;
	copy = ao_calloc(n + 1, sizeof(*copy));
	for (size_t i = 0; i < n; i++)
		copy[i] = ao_strdup(params[i]);
	return copy;
}

static void devset_dispose(ckpt_devset *set)
{
	for (size_t i = 0; i < set->n; i++) {
		char **p = set->devs[i].params;
		if (set->devs[i].kind->dispose)
			set->devs[i].kind->dispose(&set->devs[i]);
		for (size_t j = 0; p && p[j]; j++)
			free(p[j]);
		free(p);
	}
	for (size_t g = 0; g < set->n_groups; g++) {
		free(set->groups[g].devs);
		free(set->groups[g].ready);
		free(set->groups[g].rcs);
	}
	free(set->groups);
	free(set->devs);
	pthread_mutex_destroy(&set->step_lock);
	free(set);
}

/* Put each device in the group of its kind (groups in first-use order). */
static void make_groups(ckpt_devset *set)
{
	set->groups = ao_calloc(set->n, sizeof(*set->groups));
	for (size_t i = 0; i < set->n; i++) {
		ckpt_dev *dev = &set->devs[i];
		size_t g;
		for (g = 0; g < set->n_groups; g++)
			if (set->groups[g].kind == dev->kind)
				break;
		if (g == set->n_groups) {
			set->n_groups++;
			set->groups[g].kind = dev->kind;
			set->groups[g].devs = ao_calloc(set->n, sizeof(ckpt_dev *));
			set->groups[g].ready = ao_calloc(set->n, sizeof(ckpt_dev *));
			set->groups[g].rcs = ao_calloc(set->n, sizeof(int));
		}
		set->groups[g].devs[set->groups[g].n++] = dev;
		dev->group = &set->groups[g];
	}
}

static const char *const reserved_domids[] = {
        "DOMID_SELF", "DOMID_IO", "DOMID_XEN", "DOMID_COW", "DOMID_INVALID", "DOMID_IDLE",
};

static int check_domid(ckpt_ctx *ctx, uint32_t domid)
{
	uint32_t i = domid - DOMID_FIRST_RESERVED;

	if (domid < DOMID_FIRST_RESERVED)
		return 0;
	LOG(ctx, ERROR,
	    "ckpt_devset_new: domain %u (0x%x%s%s): not a guest's domid: Xen reserves "
	    "0x7ff0 (DOMID_FIRST_RESERVED) and above",
	    domid, domid, i < ARRAY_SIZE(reserved_domids) ? ", " : "",
	    i < ARRAY_SIZE(reserved_domids) ? reserved_domids[i] : "");
	return CKPT_ERROR_INVAL;
}

int ckpt_devset_new(ckpt_ctx *ctx, uint32_t domid, const ckpt_dev_spec *specs, size_t n,
                    ckpt_devset **set_out)
{
	ckpt_devset *set;
	int rc = 0;

	if (!ctx)
		return CKPT_ERROR_INVAL;
	if (!set_out) {
		LOG(ctx, ERROR, "ckpt_devset_new: domain %u: set_out is NULL", domid);
		return CKPT_ERROR_INVAL;
	}
	if (n && !specs) {
		LOG(ctx, ERROR, "ckpt_devset_new: domain %u: %zu specs at NULL", domid, n);
		return CKPT_ERROR_INVAL;
	}
	*set_out = NULL;
	rc = check_domid(ctx, domid);
	if (rc)
		return rc;
	ao_ctx_lock(ctx);
	set = ao_calloc(1, sizeof(*set));
	set->ctx = ctx;
	set->domid = domid;
	pthread_mutex_init(&set->step_lock, NULL);
	set->state = CKPT_DEV_NEW;
	set->devs = ao_calloc(n, sizeof(*set->devs));
	ao_time_init(&set->timeout);
	ao_abortable_init(&set->abrt);

	for (size_t i = 0; i < n && !rc; i++) {
		const ckpt_dev_spec *spec = &specs[i];
		ckpt_dev *dev = &set->devs[i];

		if (!spec->kind || !(dev->kind = dev_kind_find(ctx, spec->kind))) {
			LOG(ctx, ERROR, "domain %u: device %zu: unknown device kind \"%s\"", domid,
			    i, spec->kind ? spec->kind : "(null)");
			rc = CKPT_ERROR_INVAL;
			break;
		}
		if (spec->devid < 0) {
			LOG(ctx, ERROR, "domain %u: %s: devid %d is negative", domid, spec->kind,
			    spec->devid);
			rc = CKPT_ERROR_INVAL;
			break;
		}
		for (size_t j = 0; j < i; j++) {
			if (set->devs[j].kind == dev->kind && set->devs[j].devid == spec->devid) {
				LOG(ctx, ERROR, "domain %u: %s %d is listed twice", domid,
				    spec->kind, spec->devid);
				rc = CKPT_ERROR_INVAL;
			}
		}
		if (!rc)
			rc = check_params(ctx, domid, spec, dev->kind);
		if (rc)
			break;
		dev->set = set;
		dev->devid = spec->devid;
		dev->params = copy_params(spec->params);
		dev->state = CKPT_DEV_NEW;
		atomic_init(&dev->reported, true); /* nothing to report yet */
		ao_work_init(&dev->done_work);
		snprintf(dev->name, sizeof(dev->name), "%s %d", dev->kind->name, dev->devid);
		set->n = i + 1;
		if (dev->kind->validate) {
			rc = dev->kind->validate(dev);
			if (rc && !kind_is_builtin(dev->kind))
				LOG(ctx, ERROR, "domain %u: %s: refused by its kind's validate: %s",
				    domid, dev->name, ckpt_strerror(rc));
		}
	}
	if (rc) {
		devset_dispose(set);
		goto out;
	}
	make_groups(set);
	ctx->dependents++;
	*set_out = set;
out:
	ao_ctx_unlock(ctx);
	return rc;
}

int ckpt_devset_free(ckpt_devset *set)
{
	ckpt_ctx *ctx;

	if (!set)
		return 0;
	ctx = set->ctx;
	ao_ctx_lock(ctx);
	if (set->state != CKPT_DEV_NEW && set->state != CKPT_DEV_DOWN) {
		LOG(ctx, ERROR, "ckpt_devset_free: domain %u: the devset is %s; tear it down first",
		    set->domid, ckpt_dev_state_name(set->state));
		ao_ctx_unlock(ctx);
		return CKPT_ERROR_BUSY;
	}
	ctx->dependents--;
	devset_dispose(set);
	ao_ctx_unlock(ctx);
	return 0;
}

void ckpt_devset_set_setup_timeout(ckpt_devset *set, unsigned ms)
{
	if (!set)
		return;
	ao_ctx_lock(set->ctx);
	set->setup_timeout_ms = ms;
	ao_ctx_unlock(set->ctx);
}

enum ckpt_dev_state ckpt_devset_state(const ckpt_devset *set)
{
	ckpt_devset *s = (ckpt_devset *)set; /* the lock, not the set, changes */
	enum ckpt_dev_state state;

	if (!set)
		return CKPT_DEV_DOWN;
	pthread_mutex_lock(&s->step_lock);
	state = s->state;
	pthread_mutex_unlock(&s->step_lock);
	return state;
}

uint32_t ckpt_devset_domid(const ckpt_devset *set)
{
	return set ? set->domid : CKPT_DOMID_INVALID;
}

size_t ckpt_devset_count(const ckpt_devset *set)
{
	return set ? set->n : 0;
}

ckpt_dev *ckpt_devset_device(const ckpt_devset *set, size_t i)
{
	return set && i < set->n ? &set->devs[i] : NULL;
}

const char *ckpt_dev_kind_name(const ckpt_dev *dev)
{
	return dev ? dev->kind->name : NULL;
}

int ckpt_dev_devid(const ckpt_dev *dev)
{
	return dev ? dev->devid : CKPT_ERROR_INVAL;
}

uint32_t ckpt_dev_domid(const ckpt_dev *dev)
{
	return dev ? dev->set->domid : CKPT_DOMID_INVALID;
}

ckpt_ctx *ckpt_dev_ctx(const ckpt_dev *dev)
{
	return dev ? dev->set->ctx : NULL;
}

enum ckpt_dev_state ckpt_dev_state(const ckpt_dev *dev)
{
	return dev ? dev->state : CKPT_DEV_DOWN;
}

int ckpt_dev_last_rc(const ckpt_dev *dev)
{
	if (!dev)
		return CKPT_ERROR_INVAL;
	return atomic_load_explicit(&dev->last_rc, memory_order_relaxed);
}

const char *ckpt_dev_param(const ckpt_dev *dev, const char *key)
{
	size_t klen;

	if (!dev || !key)
		return NULL;
	klen = strlen(key);
	for (size_t i = 0; dev->params && dev->params[i]; i++)
		if (!strncmp(dev->params[i], key, klen) && dev->params[i][klen] == '=')
			return dev->params[i] + klen + 1;
	return NULL;
}

const char *dev_script_unfit(const char *path)
{
	struct stat st;

	if (path[0] != '/')
		return "a relative path";
	if (stat(path, &st))
		return errno == ENOENT || errno == ENOTDIR ? "no such file" : "cannot stat it";
	if (S_ISDIR(st.st_mode))
		return "a directory";
	if (!S_ISREG(st.st_mode))
		return "not a regular file";
	if (access(path, X_OK))
		return "not executable";
	return NULL;
}

int dev_param_ulong(ckpt_dev *dev, const char *key, unsigned long max, unsigned long *out)
{
	const char *v = ckpt_dev_param(dev, key);
	char *end;

	if (!v)
		return 0;
	errno = 0;
	*out = strtoul(v, &end, 10);
	/* digits only: strtoul would take " 5", "+5" and "-1" (as ULONG_MAX) */
	if (errno || strspn(v, "0123456789") != strlen(v) || !v[0] || *end || *out == 0 ||
	    *out > max) {
		DEV_LOG(dev, ERROR, "%s \"%s\": not a number in 1..%lu", key, v, max);
		return CKPT_ERROR_INVAL;
	}
	return 0;
}

void *ckpt_dev_priv(const ckpt_dev *dev)
{
	return dev ? dev->priv : NULL;
}

void ckpt_dev_set_priv(ckpt_dev *dev, void *priv)
{
	if (dev)
		dev->priv = priv;
}

void *ckpt_dev_subkind(const ckpt_dev *dev)
{
	/* no group yet while the devset is being made (validate) */
	return dev && dev->group ? dev->group->subkind_priv : NULL;
}
