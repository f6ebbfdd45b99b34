/*
 * test_badinput.c - bad input to the public API, one table row each: the
 * call, the rc it must give, and the text of the one line it must log.
 *
 * Each row runs in a child process of its own, on a fresh context (the
 * poll binding, a capturing logger) holding three devsets: one NEW, one
 * READY, one whose setup hangs.  After the call the child checks:
 *   - the rc (a getter's row turns "returned the neutral value" into 0);
 *   - the log: with row.log set, exactly one line at WARN or worse, at
 *     ERROR, containing row.log (so the reason is said, and said once,
 *     under the default logger); with row.log NULL, no line at WARN or
 *     worse (a NULL object: there is no context to log to);
 *   - that nothing changed: no devset made, the same fds open, no child
 *     process, the three devsets in their states, the READY one still
 *     runs a checkpoint, and the context can be freed at the end (no
 *     devset was left behind).
 * A row that crashes is reported with its signal; the others still run.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xentoollog.h>

#include "../harness/test.h"
#include "../ops/tkind.h"
#include "ckptdev.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define P(...)                                                                                     \
	(const char *const[])                                                                      \
	{                                                                                          \
		__VA_ARGS__, NULL                                                                  \
	}

/* A getter's row: 0 if it gave the value it must, else this. */
#define WRONG 1

/* ------------------------------------------------------ the log capture */

#define CAP_LINES 32

struct cap {
	xentoollog_logger vtable;
	int n; /* lines at WARN or worse, including those not kept */
	xentoollog_level level[CAP_LINES];
	char line[CAP_LINES][512];
};

static void cap_vmessage(xentoollog_logger *lg, xentoollog_level level, int errnoval,
                         const char *context, const char *fmt, va_list ap)
{
	struct cap *c = (struct cap *)lg;
	char buf[512];

	(void)errnoval;
	(void)context;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	fprintf(stderr, "log %s: %s\n", xtl_level_to_string(level), buf);
	if (level < XTL_WARN)
		return;
	if (c->n < CAP_LINES) {
		c->level[c->n] = level;
		snprintf(c->line[c->n], sizeof(c->line[0]), "%s", buf);
	}
	c->n++;
}

static void cap_progress(xentoollog_logger *lg, const char *context, const char *doing_what,
                         int percent, unsigned long done, unsigned long total)
{
	(void)lg;
	(void)context;
	(void)doing_what;
	(void)percent;
	(void)done;
	(void)total;
}

static void cap_destroy(xentoollog_logger *lg)
{
	(void)lg;
}

/* ------------------------------------------------------------ the kinds */

/* "picky": an application kind that declares its keys and whose
 * validate refuses, without a word (it has no way to log through the
 * library), anything but colour=blue. */
static int picky_validate(ckpt_dev *dev)
{
	const char *c = ckpt_dev_param(dev, "colour");

	return c && !strcmp(c, "blue") ? 0 : CKPT_ERROR_INVAL;
}

static const ckpt_dev_kind picky_kind = {
        .name = "picky",
        .validate = picky_validate,
        .keys = (const char *const[]){"colour", NULL},
};

/* ---------------------------------------------------------- the fixture */

struct fix {
	struct cap log;
	ckpt_ctx *ctx;
	ckpt_devset *set_new, *set_ready, *set_busy;
	ckpt_dev *disk; /* set_ready's device: a READY disk */
	ckpt_dev *tdev; /* set_new's device: a "test" device */
	ckpt_async_how busy_how;
	int busy_done, busy_rc;
	ckpt_devset *made; /* where a ckpt_devset_new row puts its devset */
};

static void busy_cb(ckpt_ctx *ctx, int rc, void *user)
{
	struct fix *f = user;

	(void)ctx;
	f->busy_done++;
	f->busy_rc = rc;
}

/* Run the poll binding's cycle until *flag is set (at most ms). */
static void drive(ckpt_ctx *ctx, const int *flag, int ms)
{
	long long deadline = test_now_ms() + ms;
	struct pollfd fds[32];

	while (!*flag && test_now_ms() < deadline) {
		int n = ARRAY_LEN(fds), timeout = 50;
		ASSERT_OK(ckpt_osevent_beforepoll(ctx, &n, fds, &timeout));
		ASSERT_TRUE(poll(fds, (nfds_t)n, timeout) >= 0 || errno == EINTR);
		ckpt_osevent_afterpoll(ctx, n, fds);
	}
}

static const ckpt_dev_spec new_specs[] = {{"test", 0, NULL}};
static const ckpt_dev_spec ready_specs[] = {{"disk", 0, P("target=vg/ready")}};
static const ckpt_dev_spec busy_specs[] = {{"test", 0, P("setup=hang")}};

static void fix_init(struct fix *f)
{
	ckpt_ctx_opts o = {.logger = &f->log.vtable, .loop = CKPT_LOOP_POLL};

	memset(f, 0, sizeof(*f));
	f->log.vtable = (xentoollog_logger){cap_vmessage, cap_progress, cap_destroy};
	ASSERT_OK(ckpt_ctx_new(&f->ctx, &o));
	tkind_register(f->ctx);
	ASSERT_OK(ckpt_kind_register(f->ctx, &picky_kind));
	ASSERT_OK(ckpt_devset_new(f->ctx, 1, new_specs, 1, &f->set_new));
	ASSERT_OK(ckpt_devset_new(f->ctx, 2, ready_specs, 1, &f->set_ready));
	ASSERT_OK(ckpt_devset_setup(f->set_ready, NULL));
	ASSERT_OK(ckpt_devset_new(f->ctx, 3, busy_specs, 1, &f->set_busy));
	f->busy_how = (ckpt_async_how){busy_cb, f};
	ASSERT_OK(ckpt_devset_setup(f->set_busy, &f->busy_how));
	f->disk = ckpt_devset_device(f->set_ready, 0);
	f->tdev = ckpt_devset_device(f->set_new, 0);
	f->log.n = 0;
}

/* Nothing the row did may show. */
static void fix_check_unchanged(struct fix *f)
{
	ASSERT_TRUE(f->made == NULL);
	ASSERT_EQ(ckpt_devset_state(f->set_new), CKPT_DEV_NEW);
	ASSERT_EQ(ckpt_devset_state(f->set_ready), CKPT_DEV_READY);
	ASSERT_EQ(ckpt_devset_state(f->set_busy), CKPT_DEV_SETTING_UP);
	ASSERT_EQ(f->busy_done, 0);
	ASSERT_OK(ckpt_devset_postsuspend(f->set_ready));
	ASSERT_OK(ckpt_devset_preresume(f->set_ready));
	ASSERT_OK(ckpt_devset_commit(f->set_ready));
}

static void fix_free(struct fix *f)
{
	ASSERT_OK(ckpt_ao_abort(f->ctx, &f->busy_how));
	drive(f->ctx, &f->busy_done, 5000);
	ASSERT_EQ(f->busy_done, 1);
	ASSERT_RC(f->busy_rc, CKPT_ERROR_ABORTED);
	ASSERT_OK(ckpt_devset_teardown(f->set_ready, NULL));
	ASSERT_OK(ckpt_devset_free(f->set_new));
	ASSERT_OK(ckpt_devset_free(f->set_ready));
	ASSERT_OK(ckpt_devset_free(f->set_busy));
	ASSERT_OK(ckpt_ctx_free(f->ctx));
}

/* ---------------------------------------------------------- the calls */

/* A call row's function: the rc, or for a getter 0 / WRONG. */
#define CALL(fn, expr)                                                                             \
	static int fn(struct fix *f)                                                               \
	{                                                                                          \
		(void)f;                                                                           \
		return (expr);                                                                     \
	}

#define IS(cond) ((cond) ? 0 : WRONG)

static ckpt_devset *scratch_set;

/* the public API's NULL rule (ckptdev/ao.h, ERRORS) */
CALL(ctx_new_null, ckpt_ctx_new(NULL, NULL))
CALL(devset_new_null_ctx, ckpt_devset_new(NULL, 5, NULL, 0, &scratch_set))
CALL(devset_new_null_out, ckpt_devset_new(f->ctx, 5, NULL, 0, NULL))
CALL(devset_new_null_specs, ckpt_devset_new(f->ctx, 5, NULL, 2, &f->made))
CALL(devset_state_null, IS(ckpt_devset_state(NULL) == CKPT_DEV_DOWN))
CALL(devset_count_null, IS(ckpt_devset_count(NULL) == 0))
CALL(devset_device_null, IS(ckpt_devset_device(NULL, 0) == NULL))
CALL(devset_device_beyond, IS(ckpt_devset_device(f->set_ready, 1) == NULL))
CALL(devset_domid_null, IS(ckpt_devset_domid(NULL) == CKPT_DOMID_INVALID))
CALL(set_setup_timeout_null, (ckpt_devset_set_setup_timeout(NULL, 5), 0))
CALL(devset_setup_null, ckpt_devset_setup(NULL, NULL))
CALL(devset_teardown_null, ckpt_devset_teardown(NULL, NULL))
CALL(devset_cleanup_null, ckpt_devset_cleanup(NULL, NULL))
CALL(devset_postsuspend_null, ckpt_devset_postsuspend(NULL))
CALL(devset_release_all_null, ckpt_devset_release_all(NULL))
CALL(dev_kind_name_null, IS(ckpt_dev_kind_name(NULL) == NULL))
CALL(dev_devid_null, ckpt_dev_devid(NULL))
CALL(dev_domid_null, IS(ckpt_dev_domid(NULL) == CKPT_DOMID_INVALID))
CALL(dev_ctx_null, IS(ckpt_dev_ctx(NULL) == NULL))
CALL(dev_state_null, IS(ckpt_dev_state(NULL) == CKPT_DEV_DOWN))
CALL(dev_last_rc_null, ckpt_dev_last_rc(NULL))
CALL(dev_param_null_key, IS(ckpt_dev_param(f->disk, NULL) == NULL))
CALL(dev_param_null_dev, IS(ckpt_dev_param(NULL, "target") == NULL))
CALL(dev_priv_null, IS(ckpt_dev_priv(NULL) == NULL && ckpt_dev_subkind(NULL) == NULL))
CALL(dev_set_priv_null, (ckpt_dev_set_priv(NULL, f), 0))
CALL(dev_done_null, (ckpt_dev_done(NULL, 0), 0))
CALL(kind_register_null, ckpt_kind_register(f->ctx, NULL))
CALL(kind_register_null_ctx, ckpt_kind_register(NULL, &picky_kind))
CALL(abort_null_ctx, ckpt_ao_abort(NULL, &f->busy_how))
CALL(abort_null_how, ckpt_ao_abort(f->ctx, NULL))
CALL(beforepoll_null_nfds, ckpt_osevent_beforepoll(f->ctx, NULL, NULL, NULL))
CALL(afterpoll_null, (ckpt_osevent_afterpoll(NULL, 0, NULL), 0))
CALL(occurred_null, (ckpt_osevent_occurred_fd(NULL, NULL, 0, 0, 0),
                     ckpt_osevent_occurred_timeout(f->ctx, NULL), 0))
CALL(fault_arm_null_ctx, ckpt_fault_arm(NULL, "xs.read", 1, 0))
CALL(fault_arm_null_name, ckpt_fault_arm(f->ctx, NULL, 1, 0))
CALL(fault_passes_null_name, ckpt_fault_passes(f->ctx, NULL, &(unsigned){0}))
CALL(fault_passes_null_out, ckpt_fault_passes(f->ctx, "xs.read", NULL))
CALL(fault_arm_unknown, ckpt_fault_arm(f->ctx, "no.such.point", 1, 0))
CALL(fault_arm_nth_0, ckpt_fault_arm(f->ctx, "xs.read", 0, 0))
CALL(fault_arm_rc_positive, ckpt_fault_arm(f->ctx, "xs.read", 1, 5))
CALL(fault_passes_unknown, ckpt_fault_passes(f->ctx, "no.such.point", &(unsigned){0}))
CALL(fault_reset_null, (ckpt_fault_reset(NULL), ckpt_fault_count(NULL, true), 0))
CALL(disk_stats_null_out, ckpt_disk_get_stats(f->disk, NULL))
CALL(nic_stats_null, ckpt_nic_get_stats(NULL, &(ckpt_nic_stats){0}))
CALL(nic_ifb_null, IS(ckpt_nic_ifb(NULL) == NULL))
CALL(nic_survey_null_ctx, ckpt_nic_survey(NULL, 1, NULL, 0, &(size_t){0}))
CALL(nic_survey_null_count, ckpt_nic_survey(f->ctx, 1, NULL, 0, NULL))
CALL(nic_survey_null_out, ckpt_nic_survey(f->ctx, 1, NULL, 4, &(size_t){0}))
CALL(nic_survey_reserved_domid, ckpt_nic_survey(f->ctx, 0x7FF0, NULL, 0, &(size_t){0}))

CALL(devset_new_self_no_device, ckpt_devset_new(f->ctx, 0x7FF0, NULL, 0, &f->made))

/* a second context, refused: nothing may be made */
static int ctx_new_with(struct fix *f, enum ckpt_loop_kind loop)
{
	ckpt_ctx_opts o = {.logger = &f->log.vtable, .loop = loop};
	ckpt_ctx *ctx = NULL;
	int rc = ckpt_ctx_new(&ctx, &o);

	return ctx ? WRONG : rc;
}

/* two steps: the second is the bad one; the rest puts the cycle back */
static int postsuspend_twice(struct fix *f)
{
	int rc;

	if (ckpt_devset_postsuspend(f->set_ready))
		return WRONG;
	rc = ckpt_devset_postsuspend(f->set_ready);
	if (ckpt_devset_preresume(f->set_ready) || ckpt_devset_commit(f->set_ready))
		return WRONG;
	return rc;
}

static int release_all_twice(struct fix *f)
{
	int rc;

	if (ckpt_devset_release_all(f->set_ready))
		return WRONG;
	rc = ckpt_devset_release_all(f->set_ready);
	return ckpt_devset_rearm(f->set_ready) ? WRONG : rc;
}

static const ckpt_dev_kind unnamed_kind = {.name = NULL}, empty_kind = {.name = ""},
                           disk_again = {.name = "disk"};
static ckpt_async_how no_callback = {NULL, NULL}, never_started = {busy_cb, NULL};

CALL(ctx_new_hooks_without_hooks, ctx_new_with(f, CKPT_LOOP_HOOKS))
CALL(ctx_new_unknown_loop, ctx_new_with(f, (enum ckpt_loop_kind)7))
CALL(setup_how_without_callback, ckpt_devset_setup(f->set_new, &no_callback))
CALL(abort_unknown_how, ckpt_ao_abort(f->ctx, &never_started))
CALL(kind_register_unnamed, ckpt_kind_register(f->ctx, &unnamed_kind))
CALL(kind_register_empty_name, ckpt_kind_register(f->ctx, &empty_kind))
CALL(kind_register_builtin_name, ckpt_kind_register(f->ctx, &disk_again))
CALL(kind_register_twice, ckpt_kind_register(f->ctx, &picky_kind))
CALL(nic_stats_of_a_disk, ckpt_nic_get_stats(f->disk, &(ckpt_nic_stats){0}))
CALL(disk_stats_of_a_test_dev, ckpt_disk_get_stats(f->tdev, &(ckpt_disk_stats){0}))
CALL(postsuspend_when_new, ckpt_devset_postsuspend(f->set_new))
CALL(commit_first, ckpt_devset_commit(f->set_ready))
CALL(preresume_first, ckpt_devset_preresume(f->set_ready))
CALL(rearm_unreleased, ckpt_devset_rearm(f->set_ready))
CALL(setup_when_ready, ckpt_devset_setup(f->set_ready, NULL))
CALL(cleanup_when_ready, ckpt_devset_cleanup(f->set_ready, NULL))
CALL(setup_when_setting_up, ckpt_devset_setup(f->set_busy, NULL))
CALL(teardown_when_setting_up, ckpt_devset_teardown(f->set_busy, NULL))
CALL(free_ready_devset, ckpt_devset_free(f->set_ready))
CALL(free_setting_up_devset, ckpt_devset_free(f->set_busy))
CALL(free_ctx_with_devsets, ckpt_ctx_free(f->ctx))

/* a pollfd array too small: the documented way to size it, said at DEBUG */
static int beforepoll_no_room(struct fix *f)
{
	int n = 0, timeout = -1;
	int rc = ckpt_osevent_beforepoll(f->ctx, &n, NULL, &timeout);

	return n >= 1 && timeout == -1 ? rc : WRONG;
}

/* a disk target one character longer than PATH_MAX */
static int disk_target_too_long(struct fix *f)
{
	static char param[PATH_MAX + 16] = "target=";
	const ckpt_dev_spec spec = {"disk", 0, (const char *const[]){param, NULL}};

	memset(param + 7, 'a', PATH_MAX + 1);
	return ckpt_devset_new(f->ctx, 5, &spec, 1, &f->made);
}

/* ----------------------------------------------------------- the table */

struct row {
	const char *what;
	int (*call)(struct fix *f); /* NULL: ckpt_devset_new of the specs */
	int rc;
	const char *log; /* the one line at WARN or worse, at ERROR; NULL: none */
	uint32_t domid;
	const ckpt_dev_spec *specs;
	size_t n;
};

/* clang-format off */
#define ROW(call, rc, log) {#call, call, rc, log, 0, NULL, 0}
#define NEW_ROW(what, domid, rc, log, ...)                                                         \
	{what, NULL, rc, log, domid, (const ckpt_dev_spec[]){__VA_ARGS__},                         \
	 ARRAY_LEN(((const ckpt_dev_spec[]){__VA_ARGS__}))}
/* clang-format on */

#define INVAL CKPT_ERROR_INVAL

static const struct row rows[] = {
        /* NULL: int functions say INVAL, getters a neutral value, void ones nothing */
        ROW(ctx_new_null, INVAL, NULL),
        ROW(devset_new_null_ctx, INVAL, NULL),
        ROW(devset_new_null_out, INVAL, "ckpt_devset_new: domain 5: set_out is NULL"),
        ROW(devset_new_null_specs, INVAL, "ckpt_devset_new: domain 5: 2 specs at NULL"),
        ROW(devset_state_null, 0, NULL),
        ROW(devset_count_null, 0, NULL),
        ROW(devset_device_null, 0, NULL),
        ROW(devset_device_beyond, 0, NULL),
        ROW(devset_domid_null, 0, NULL),
        ROW(set_setup_timeout_null, 0, NULL),
        ROW(devset_setup_null, INVAL, NULL),
        ROW(devset_teardown_null, INVAL, NULL),
        ROW(devset_cleanup_null, INVAL, NULL),
        ROW(devset_postsuspend_null, INVAL, NULL),
        ROW(devset_release_all_null, INVAL, NULL),
        ROW(dev_kind_name_null, 0, NULL),
        ROW(dev_devid_null, INVAL, NULL),
        ROW(dev_domid_null, 0, NULL),
        ROW(dev_ctx_null, 0, NULL),
        ROW(dev_state_null, 0, NULL),
        ROW(dev_last_rc_null, INVAL, NULL),
        ROW(dev_param_null_key, 0, NULL),
        ROW(dev_param_null_dev, 0, NULL),
        ROW(dev_priv_null, 0, NULL),
        ROW(dev_set_priv_null, 0, NULL),
        ROW(dev_done_null, 0, NULL),
        ROW(kind_register_null, INVAL, "ckpt_kind_register: a kind needs a name"),
        ROW(kind_register_null_ctx, INVAL, NULL),
        ROW(abort_null_ctx, INVAL, NULL),
        ROW(abort_null_how, INVAL, "ckpt_ao_abort: how is NULL"),
        ROW(beforepoll_null_nfds, INVAL, "ckpt_osevent_beforepoll: nfds_io or timeout_io is NULL"),
        ROW(afterpoll_null, 0, NULL),
        ROW(beforepoll_no_room, CKPT_ERROR_BUFFERFULL, NULL),
        ROW(occurred_null, 0, NULL),
        ROW(fault_arm_null_ctx, INVAL, NULL),
        ROW(fault_arm_null_name, INVAL, "ckpt_fault_arm: the name is NULL"),
        ROW(fault_passes_null_name, INVAL, "ckpt_fault_passes: the name is NULL"),
        ROW(fault_passes_null_out, INVAL, "ckpt_fault_passes: passes_out is NULL"),
        ROW(fault_reset_null, 0, NULL),
        /* fault points: an unknown name, a pass before the first, an rc that is no error */
        ROW(fault_arm_unknown, CKPT_ERROR_NOTFOUND,
            "ckpt_fault_arm: no fault point \"no.such.point\""),
        ROW(fault_arm_nth_0, INVAL, "ckpt_fault_arm: xs.read: nth 0: passes count from 1"),
        ROW(fault_arm_rc_positive, INVAL, "ckpt_fault_arm: xs.read: rc 5: not an error code"),
        ROW(fault_passes_unknown, CKPT_ERROR_NOTFOUND,
            "ckpt_fault_passes: no fault point \"no.such.point\""),
        ROW(disk_stats_null_out, INVAL, "ckpt_disk_get_stats: domain 2: disk 0: out is NULL"),
        ROW(nic_stats_null, INVAL, NULL),
        ROW(nic_ifb_null, 0, NULL),
        ROW(nic_survey_null_ctx, INVAL, NULL),
        ROW(nic_survey_null_count, INVAL, "ckpt_nic_survey: count_out is NULL"),
        ROW(nic_survey_null_out, INVAL, "ckpt_nic_survey: out is NULL"),
        ROW(nic_survey_reserved_domid, INVAL,
            "ckpt_nic_survey: domid 32752 is reserved (0x7FF0 and above)"),

        /* parameters: malformed, empty, twice, unknown to a kind that lists its keys */
        NEW_ROW("param noequals", 5, INVAL, "disk 0: parameter \"noequals\" is not key=value",
                {"disk", 0, P("target=a", "noequals")}),
        NEW_ROW("param =x", 5, INVAL, "disk 0: parameter \"=x\" is not key=value",
                {"disk", 0, P("=x", "target=a")}),
        NEW_ROW("param key with a space", 5, INVAL, "parameter \"Bad Key=1\" is not key=value",
                {"test", 0, P("Bad Key=1")}),
        NEW_ROW("param target= (empty)", 5, INVAL,
                "domain 5: disk 0: parameter target has an empty value", {"disk", 0, P("target=")}),
        NEW_ROW("param vif= (empty)", 5, INVAL, "domain 5: nic 0: parameter vif has an empty value",
                {"nic", 0, P("vif=", "script=/bin/true")}),
        NEW_ROW("param rc= (empty, a kind without keys)", 5, INVAL,
                "domain 5: test 1: parameter rc has an empty value", {"test", 1, P("rc=")}),
        NEW_ROW("param given twice", 5, INVAL, "domain 5: disk 0: parameter target given twice",
                {"disk", 0, P("target=a", "target=b")}),
        NEW_ROW("disk: unknown key", 5, INVAL,
                "domain 5: disk 0: unknown parameter \"colour\" (disk takes: target, script, "
                "timeout_ms)",
                {"disk", 0, P("target=a", "colour=blue")}),
        NEW_ROW("disk: timout_ms (a typo)", 5, INVAL, "disk 0: unknown parameter \"timout_ms\"",
                {"disk", 0, P("target=a", "timout_ms=5")}),
        NEW_ROW("nic: limt (a typo)", 5, INVAL,
                "nic 0: unknown parameter \"limt\" (nic takes: vif, script, timeout_ms, limit)",
                {"nic", 0, P("vif=vif5.0", "script=/bin/true", "limt=5")}),
        NEW_ROW("application kind: unknown key", 5, INVAL,
                "domain 5: picky 0: unknown parameter \"size\" (picky takes: colour)",
                {"picky", 0, P("colour=blue", "size=3")}),

        /* the domain and the devices */
        NEW_ROW("domid 0x7FF0 (DOMID_SELF)", 0x7FF0, INVAL,
                "ckpt_devset_new: domain 32752 (0x7ff0, DOMID_SELF): not a guest's domid: Xen "
                "reserves 0x7ff0 (DOMID_FIRST_RESERVED) and above",
                {"disk", 0, P("target=a")}),
        NEW_ROW("domid 0x7FF4 (DOMID_INVALID)", 0x7FF4, INVAL,
                "domain 32756 (0x7ff4, DOMID_INVALID): not a guest's domid",
                {"disk", 0, P("target=a")}),
        NEW_ROW("domid 0xFFFFFFFF", 0xFFFFFFFF, INVAL,
                "domain 4294967295 (0xffffffff): not a guest's domid", {"disk", 0, P("target=a")}),
        ROW(devset_new_self_no_device, INVAL,
            "domain 32752 (0x7ff0, DOMID_SELF): not a guest's domid"),
        NEW_ROW("unknown kind", 5, INVAL, "domain 5: device 0: unknown device kind \"floppy\"",
                {"floppy", 0, NULL}),
        NEW_ROW("kind NULL", 5, INVAL, "domain 5: device 1: unknown device kind \"(null)\"",
                {"disk", 0, P("target=a")}, {NULL, 0, NULL}),
        NEW_ROW("kind \"\"", 5, INVAL, "unknown device kind \"\"", {"", 0, NULL}),
        NEW_ROW("devid -1", 5, INVAL, "domain 5: disk: devid -1 is negative",
                {"disk", -1, P("target=a")}),
        NEW_ROW("devid INT_MIN", 5, INVAL, "devid -2147483648 is negative",
                {"disk", INT_MIN, P("target=a")}),
        NEW_ROW("devid listed twice", 5, INVAL, "domain 5: disk 1 is listed twice",
                {"disk", 1, P("target=a")}, {"disk", 1, P("target=b")}),
        /* disk: the target, the script, the numbers */
        NEW_ROW("disk without target", 5, INVAL, "disk 0: needs a target=PATH-OR-NAME parameter",
                {"disk", 0, P("timeout_ms=5")}),
        NEW_ROW("disk target with a space", 5, INVAL,
                "target \"a b\": only letters, digits and /._:- are allowed",
                {"disk", 0, P("target=a b")}),
        NEW_ROW("disk target with ;", 5, INVAL, "target \"vg/a;reboot\": only letters, digits",
                {"disk", 0, P("target=vg/a;reboot")}),
        NEW_ROW("disk target with $()", 5, INVAL, "target \"$(id)\": only letters, digits",
                {"disk", 0, P("target=$(id)")}),
        ROW(disk_target_too_long, INVAL,
            "disk 0: target: 4097 characters, more than PATH_MAX (4096)"),
        NEW_ROW("disk script relative", 5, INVAL,
                "script \"disk.sh\": not an absolute path to an executable file (a relative path)",
                {"disk", 0, P("target=a", "script=disk.sh")}),
        NEW_ROW("disk script missing", 5, INVAL,
                "script \"/nonexistent/disk.sh\": not an absolute path to an executable file (no "
                "such file)",
                {"disk", 0, P("target=a", "script=/nonexistent/disk.sh")}),
        NEW_ROW("disk script a directory", 5, INVAL,
                "script \"/tmp\": not an absolute path to an executable file (a directory)",
                {"disk", 0, P("target=a", "script=/tmp")}),
        NEW_ROW("disk script not executable", 5, INVAL,
                "script \"/etc/passwd\": not an absolute path to an executable file (not "
                "executable)",
                {"disk", 0, P("target=a", "script=/etc/passwd")}),
        NEW_ROW("timeout_ms=soon", 5, INVAL,
                "disk 0: timeout_ms \"soon\": not a number in 1..3600000",
                {"disk", 0, P("target=a", "timeout_ms=soon")}),
        NEW_ROW("timeout_ms=5x", 5, INVAL, "timeout_ms \"5x\": not a number in 1..3600000",
                {"disk", 0, P("target=a", "timeout_ms=5x")}),
        NEW_ROW("timeout_ms overflows", 5, INVAL,
                "timeout_ms \"99999999999999999999\": not a number in 1..3600000",
                {"disk", 0, P("target=a", "timeout_ms=99999999999999999999")}),
        NEW_ROW("timeout_ms=3600001", 5, INVAL,
                "timeout_ms \"3600001\": not a number in 1..3600000",
                {"disk", 0, P("target=a", "timeout_ms=3600001")}),
        NEW_ROW("timeout_ms=0", 5, INVAL, "timeout_ms \"0\": not a number in 1..3600000",
                {"disk", 0, P("target=a", "timeout_ms=0")}),
        NEW_ROW("timeout_ms=-1", 5, INVAL, "timeout_ms \"-1\": not a number in 1..3600000",
                {"disk", 0, P("target=a", "timeout_ms=-1")}),
        NEW_ROW("timeout_ms= 5 (a space)", 5, INVAL,
                "timeout_ms \" 5\": not a number in 1..3600000",
                {"disk", 0, P("target=a", "timeout_ms= 5")}),
        NEW_ROW("timeout_ms=+5", 5, INVAL, "timeout_ms \"+5\": not a number in 1..3600000",
                {"disk", 0, P("target=a", "timeout_ms=+5")}),
        /* nic: the vif, the script, the numbers */
        NEW_ROW("nic without vif", 5, INVAL, "domain 5: nic 0: needs a vif=NAME parameter",
                {"nic", 0, P("script=/bin/true")}),
        NEW_ROW("nic vif too long", 5, INVAL, "vif \"vif1234567890.12\": not an interface name",
                {"nic", 0, P("vif=vif1234567890.12", "script=/bin/true")}),
        NEW_ROW("nic vif with ;", 5, INVAL, "vif \"vif5;reboot\": not an interface name",
                {"nic", 0, P("vif=vif5;reboot", "script=/bin/true")}),
        NEW_ROW("nic vif with a space", 5, INVAL, "vif \"vif5 0\": not an interface name",
                {"nic", 0, P("vif=vif5 0", "script=/bin/true")}),
        NEW_ROW("nic vif .", 5, INVAL,
                "vif \".\": not an interface name (1-15 of A-Z a-z 0-9 . _ -, not . or ..)",
                {"nic", 0, P("vif=.", "script=/bin/true")}),
        NEW_ROW("nic vif ..", 5, INVAL, "vif \"..\": not an interface name",
                {"nic", 0, P("vif=..", "script=/bin/true")}),
        NEW_ROW("nic vif twice", 5, INVAL, "domain 5: nic 2: vif \"vif5.0\" is nic 1's already",
                {"nic", 1, P("vif=vif5.0", "script=/bin/true")},
                {"nic", 2, P("vif=vif5.0", "script=/bin/true")}),
        NEW_ROW("nic script relative", 5, INVAL,
                "hotplug script \"bin/true\": not an absolute path to an executable file (a "
                "relative path)",
                {"nic", 0, P("vif=vif5.0", "script=bin/true")}),
        NEW_ROW("nic script a directory", 5, INVAL,
                "hotplug script \"/bin\": not an absolute path to an executable file (a directory)",
                {"nic", 0, P("vif=vif5.0", "script=/bin")}),
        NEW_ROW("nic script missing", 5, INVAL,
                "hotplug script \"/nonexistent\": not an absolute path to an executable file (no "
                "such file)",
                {"nic", 0, P("vif=vif5.0", "script=/nonexistent")}),
        NEW_ROW("nic limit=0", 5, INVAL, "nic 0: limit \"0\": not a number in 1..2147483648",
                {"nic", 0, P("vif=vif5.0", "script=/bin/true", "limit=0")}),
        NEW_ROW("nic limit overflows", 5, INVAL,
                "limit \"2147483649\": not a number in 1..2147483648",
                {"nic", 0, P("vif=vif5.0", "script=/bin/true", "limit=2147483649")}),
        NEW_ROW("nic limit=1k", 5, INVAL, "limit \"1k\": not a number",
                {"nic", 0, P("vif=vif5.0", "script=/bin/true", "limit=1k")}),
        NEW_ROW("nic timeout_ms=0x10", 5, INVAL, "nic 0: timeout_ms \"0x10\": not a number",
                {"nic", 0, P("vif=vif5.0", "script=/bin/true", "timeout_ms=0x10")}),
        /* contexts, hows, kinds, the wrong kind of device */
        ROW(ctx_new_hooks_without_hooks, INVAL,
            "ckpt_ctx_new: CKPT_LOOP_HOOKS needs fd and timeout"),
        ROW(ctx_new_unknown_loop, INVAL, "ckpt_ctx_new: unknown loop kind 7"),
        ROW(setup_how_without_callback, INVAL,
            "ckpt_devset_setup: the ckpt_async_how has no callback (pass NULL to wait)"),
        ROW(abort_unknown_how, CKPT_ERROR_NOTFOUND, NULL), /* a race, not a failure: DEBUG */
        ROW(kind_register_unnamed, INVAL, "ckpt_kind_register: a kind needs a name"),
        ROW(kind_register_empty_name, INVAL, "ckpt_kind_register: a kind needs a name"),
        ROW(kind_register_builtin_name, CKPT_ERROR_EXISTS,
            "ckpt_kind_register: a device kind named \"disk\" exists already"),
        ROW(kind_register_twice, CKPT_ERROR_EXISTS,
            "ckpt_kind_register: a device kind named \"picky\" exists already"),
        ROW(nic_stats_of_a_disk, INVAL, "ckpt_nic_get_stats: domain 2: disk 0 is not a ready nic"),
        ROW(disk_stats_of_a_test_dev, INVAL, "ckpt_disk_get_stats: domain 1: test 0: not a disk"),
        /* the checkpoint cycle out of order */
        ROW(postsuspend_when_new, INVAL,
            "ckpt_devset_postsuspend: domain 1: the devset is new, not ready"),
        ROW(commit_first, INVAL,
            "ckpt_devset_commit: domain 2: out of order: postsuspend comes next"),
        ROW(preresume_first, INVAL,
            "ckpt_devset_preresume: domain 2: out of order: postsuspend comes next"),
        ROW(postsuspend_twice, INVAL,
            "ckpt_devset_postsuspend: domain 2: out of order: preresume comes next"),
        ROW(rearm_unreleased, INVAL,
            "ckpt_devset_rearm: domain 2: its output is not released: nothing to re-arm"),
        ROW(release_all_twice, INVAL,
            "ckpt_devset_release_all: domain 2: its output is released (ckpt_devset_release_all)"),
        /* operations in the wrong state; freeing what is in use */
        ROW(setup_when_ready, INVAL,
            "ckpt_devset_setup: domain 2: the devset is ready, not new or down"),
        ROW(cleanup_when_ready, INVAL,
            "ckpt_devset_cleanup: domain 2: the devset is ready, not new or down"),
        ROW(setup_when_setting_up, INVAL,
            "ckpt_devset_setup: domain 3: the devset is setting-up, not new or down"),
        ROW(teardown_when_setting_up, CKPT_ERROR_BUSY,
            "ckpt_devset_teardown: domain 3: the devset is setting-up"),
        ROW(free_ready_devset, CKPT_ERROR_BUSY,
            "ckpt_devset_free: domain 2: the devset is ready; tear it down first"),
        ROW(free_setting_up_devset, CKPT_ERROR_BUSY,
            "ckpt_devset_free: domain 3: the devset is setting-up; tear it down first"),
        ROW(free_ctx_with_devsets, CKPT_ERROR_BUSY,
            "ckpt_ctx_free: 3 object(s) made on it (devsets) still exist"),
        /* a kind's validate refuses: said once, at ERROR, by the kind or the layer */
        NEW_ROW("application kind refuses (colour=red)", 5, INVAL,
                "domain 5: picky 0: refused by its kind's validate: invalid argument",
                {"picky", 0, P("colour=red")}),
        NEW_ROW("application kind refuses the second device", 5, INVAL,
                "domain 5: picky 7: refused by its kind's validate: invalid argument",
                {"picky", 3, P("colour=blue")}, {"picky", 7, NULL}),
};

/* ---------------------------------------------------------- the runner */

static int count_fds(void)
{
	return test_fd_count();
}

/* In the child: run one row on a fresh fixture, check it, exit. */
static void run_row(const struct row *r)
{
	static struct fix f;
	int fds, rc;

	fprintf(stderr, "--- row %zu: %s\n", (size_t)(r - rows) + 1, r->what);
	fix_init(&f);
	fds = count_fds();
	if (r->call)
		rc = r->call(&f);
	else
		rc = ckpt_devset_new(f.ctx, r->domid, r->specs, r->n, &f.made);
	ASSERT_RC(rc, r->rc);
	if (r->log) {
		ASSERT_EQ(f.log.n, 1);
		ASSERT_EQ(f.log.level[0], XTL_ERROR);
		if (!strstr(f.log.line[0], r->log))
			FAIL("the log says \"%s\", not \"%s\"", f.log.line[0], r->log);
	} else {
		ASSERT_EQ(f.log.n, 0);
	}
	ASSERT_EQ(count_fds(), fds);
	ASSERT_TRUE(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
	fix_check_unchanged(&f);
	fix_free(&f);
	exit(0);
}

TEST_T(bad_input_is_refused_clearly_and_changes_nothing, 120)
{
	int failed = 0;

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		const struct row *r = &rows[i];
		int status;
		pid_t pid;

		fflush(NULL);
		pid = fork();
		ASSERT_TRUE(pid >= 0);
		if (pid == 0)
			run_row(r);
		ASSERT_EQ(waitpid(pid, &status, 0), pid);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		failed++;
		if (WIFSIGNALED(status))
			printf("row %zu (%s): killed by signal %d\n", i + 1, r->what,
			       WTERMSIG(status));
		else
			printf("row %zu (%s): failed (see above)\n", i + 1, r->what);
	}
	printf("%zu rows, %d failed\n", ARRAY_LEN(rows), failed);
	ASSERT_EQ(failed, 0);
}
