/*
 * xsd_stub.c - run the C xenstored 4.17 without a hypervisor
 *
 * Loaded with LD_PRELOAD into /usr/lib/xen-4.17/bin/xenstored.  Symbols
 * defined here are found before the ones in libxenctrl, libxenevtchn and
 * libxengnttab, so the daemon's calls into the hypervisor land here
 * instead.  The daemon's unix socket is left untouched: that is the only
 * way clients talk to it in tests.
 *
 * What the daemon gets:
 *
 *   xc_interface_open/close     a dummy handle
 *   xc_domain_getinfo           "no domains" (returns 0)
 *   xenevtchn_open/fdopen       a handle whose fd is the read end of a
 *                               pipe nobody ever writes to, so the main
 *                               loop never sees an event
 *   xenevtchn_bind_interdomain  a fresh local port number (always works)
 *   xenevtchn_bind_virq         likewise
 *   xenevtchn_notify/unmask/unbind   succeed, do nothing
 *   xenevtchn_pending           "nothing pending" (-1, EAGAIN)
 *   xenevtchn_close             closes the pipe
 *   xengnttab_open/close/set_max_grants   a dummy handle, success
 *   xengnttab_map_grant_ref     a private zeroed page (so that a test may
 *                               even XS_INTRODUCE a pretend guest)
 *   xengnttab_unmap             unmaps that page
 *
 * dom0's ring: the daemon reads its event channel port from
 * /proc/xen/xsd_port and maps its ring page from /proc/xen/xsd_kva.  Any
 * open()/open64()/openat()/openat64() of those two paths is redirected to
 * files of the same base name in the folder named by $CKPT_XSD_STUB_DIR
 * (or, when unset, $XENSTORED_RUNDIR).  The stub creates them on first use:
 * xsd_port holds "1\n", xsd_kva is one page of zeros.  Nobody writes into
 * the ring, so dom0's connection stays silent.
 *
 * syslog: the daemon logs some events with syslog(3).  Those messages go to
 * stderr instead (prefixed "syslog: "), so they land in the daemon's log
 * file rather than in the machine's log.
 *
 * Debugging: CKPT_XSD_STUB_TRACE=1 prints every stand-in call to stderr.
 *
 * Build:
 *   cc -shared -fPIC -std=c11 -Wall -Wextra -Werror -g -O2 -D_GNU_SOURCE \
 *      -o libxsd_stub.so tests/xs/xsd_stub.c -ldl
 * (with glibc >= 2.34 -ldl is empty but harmless).
 */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xengnttab.h>

#define STUB_EXPORT __attribute__((visibility("default")))

#define XSD_PORT_PATH  "/proc/xen/xsd_port"
#define XSD_KVA_PATH   "/proc/xen/xsd_kva"
#define XSD_PORT_VALUE "1\n"
#define XSD_PAGE_SIZE  4096

/*
 * xenctrl.h does not build under -std=c11 (it needs GNU anonymous unions),
 * so the few xenctrl entry points are declared here by hand.  Only pointers
 * to these structs cross the interface, so their contents do not matter.
 */
struct xentoollog_logger;
struct xc_dominfo;

struct xc_interface_core {
	int unused;
};

struct xenevtchn_handle {
	int rfd; /* read end: what xenevtchn_fd() hands out */
	int wfd; /* write end: kept open so rfd never reports EOF */
	evtchn_port_t next_port;
};

struct xengntdev_handle {
	int unused;
};

STUB_EXPORT struct xc_interface_core *xc_interface_open(struct xentoollog_logger *logger,
                                                        struct xentoollog_logger *dombuild_logger,
                                                        unsigned open_flags);
STUB_EXPORT int xc_interface_close(struct xc_interface_core *xch);
STUB_EXPORT int xc_domain_getinfo(struct xc_interface_core *xch, uint32_t first_domid,
                                  unsigned int max_doms, struct xc_dominfo *info);
STUB_EXPORT void __syslog_chk(int pri, int flag, const char *fmt, ...);
STUB_EXPORT void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap);

/* ---- tracing ---------------------------------------------------------- */

static int stub_trace_on(void)
{
	static int on = -1;
	const char *v;

	if (on < 0) {
		v = getenv("CKPT_XSD_STUB_TRACE");
		on = v && *v && strcmp(v, "0") != 0;
	}
	return on;
}

__attribute__((format(printf, 1, 2))) static void stub_trace(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (!stub_trace_on())
		return;
	va_start(ap, fmt);
	fputs("xsd_stub: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	errno = saved;
}

/* ---- libc pass-through -------------------------------------------------- */

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);

/*
 * The next definition of @name after this library (normally libc's).
 * Calling open() directly from here would come straight back to us.
 */
static void *stub_next(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p) {
		fprintf(stderr, "xsd_stub: cannot find the real %s: %s\n", name, dlerror());
		abort();
	}
	return p;
}

static int real_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	static openat_fn fn;

	if (!fn)
		fn = (openat_fn)stub_next("openat");
	return fn(dirfd, path, flags, mode);
}

/* ---- the /proc/xen files ------------------------------------------------ */

static const char *stub_dir(void)
{
	const char *dir = getenv("CKPT_XSD_STUB_DIR");

	if (!dir || !*dir)
		dir = getenv("XENSTORED_RUNDIR");
	if (!dir || !*dir)
		return NULL;
	return dir;
}

/* Write all of @buf to @fd; 0 or -1 with errno. */
static int stub_write_all(int fd, const char *buf, size_t len)
{
	ssize_t r;

	while (len) {
		r = write(fd, buf, len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += r;
		len -= (size_t)r;
	}
	return 0;
}

/*
 * Create @path with @len bytes of @content (zeros when @content is NULL)
 * unless it exists already.  0 or -1 with errno.
 */
static int stub_make_file(const char *path, const char *content, size_t len)
{
	int fd, r;

	fd = real_openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? 0 : -1;
	if (content)
		r = stub_write_all(fd, content, len);
	else
		r = ftruncate(fd, (off_t)len);
	if (r < 0) {
		int saved = errno;

		close(fd);
		unlink(path);
		errno = saved;
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * If @path is one of the /proc/xen files, put the path of its stand-in in
 * @buf and return @buf; the file exists afterwards.  Return @path itself
 * for any other path, NULL (errno set) if the stand-in cannot be made.
 */
static const char *stub_redirect(const char *path, char *buf, size_t size)
{
	const char *dir, *base, *content;
	size_t len;
	int n;

	if (!path)
		return path;
	if (strcmp(path, XSD_PORT_PATH) == 0) {
		content = XSD_PORT_VALUE;
		len = strlen(XSD_PORT_VALUE);
	} else if (strcmp(path, XSD_KVA_PATH) == 0) {
		content = NULL;
		len = XSD_PAGE_SIZE;
	} else {
		return path;
	}

	dir = stub_dir();
	if (!dir) {
		fprintf(stderr,
		        "xsd_stub: %s: neither CKPT_XSD_STUB_DIR nor "
		        "XENSTORED_RUNDIR is set\n",
		        path);
		errno = ENOENT;
		return NULL;
	}
	base = strrchr(path, '/') + 1;
	n = snprintf(buf, size, "%s/%s", dir, base);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	if (stub_make_file(buf, content, len) < 0) {
		fprintf(stderr, "xsd_stub: cannot create %s: %s\n", buf, strerror(errno));
		return NULL;
	}
	stub_trace("open %s -> %s", path, buf);
	return buf;
}

/* open() and friends take a mode only when they may create a file. */
static mode_t stub_mode_arg(int flags, va_list ap)
{
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		return (mode_t)va_arg(ap, int);
	return 0;
}

static int stub_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	char buf[PATH_MAX];
	const char *p = stub_redirect(path, buf, sizeof(buf));

	if (!p)
		return -1;
	return real_openat(dirfd, p, flags, mode);
}

STUB_EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = stub_mode_arg(flags, ap);
	va_end(ap);
	return stub_openat(AT_FDCWD, path, flags, mode);
}

STUB_EXPORT int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = stub_mode_arg(flags, ap);
	va_end(ap);
	return stub_openat(AT_FDCWD, path, flags | O_LARGEFILE, mode);
}

STUB_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = stub_mode_arg(flags, ap);
	va_end(ap);
	return stub_openat(dirfd, path, flags, mode);
}

STUB_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = stub_mode_arg(flags, ap);
	va_end(ap);
	return stub_openat(dirfd, path, flags | O_LARGEFILE, mode);
}

/* ---- libxenctrl --------------------------------------------------------- */

STUB_EXPORT struct xc_interface_core *xc_interface_open(struct xentoollog_logger *logger,
                                                        struct xentoollog_logger *dombuild_logger,
                                                        unsigned open_flags)
{
	struct xc_interface_core *xch;

	(void)logger;
	(void)dombuild_logger;
	(void)open_flags;
	xch = calloc(1, sizeof(*xch));
	stub_trace("xc_interface_open -> %p", (void *)xch);
	return xch;
}

STUB_EXPORT int xc_interface_close(struct xc_interface_core *xch)
{
	stub_trace("xc_interface_close %p", (void *)xch);
	free(xch);
	return 0;
}

STUB_EXPORT int xc_domain_getinfo(struct xc_interface_core *xch, uint32_t first_domid,
                                  unsigned int max_doms, struct xc_dominfo *info)
{
	(void)xch;
	(void)info;
	stub_trace("xc_domain_getinfo first=%u max=%u -> 0", first_domid, max_doms);
	return 0;
}

/* ---- libxenevtchn ------------------------------------------------------- */

static xenevtchn_handle *stub_evtchn_new(int rfd, int wfd)
{
	xenevtchn_handle *xce = calloc(1, sizeof(*xce));

	if (!xce)
		return NULL;
	xce->rfd = rfd;
	xce->wfd = wfd;
	/* dom0's ring port comes from xsd_port ("1"); stay clear of it. */
	xce->next_port = 10;
	return xce;
}

STUB_EXPORT xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned int flags)
{
	xenevtchn_handle *xce;
	int fds[2];

	(void)logger;
	if (pipe2(fds, (flags & XENEVTCHN_NO_CLOEXEC) ? 0 : O_CLOEXEC) < 0)
		return NULL;
	xce = stub_evtchn_new(fds[0], fds[1]);
	if (!xce) {
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	stub_trace("xenevtchn_open -> %p (fd %d)", (void *)xce, xce->rfd);
	return xce;
}

/*
 * Used after a live update: the old daemon passes on its event channel fd.
 * Here that fd is the pipe made by xenevtchn_open() in the old process.
 */
STUB_EXPORT xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger, int fd,
                                               unsigned open_flags)
{
	xenevtchn_handle *xce;

	(void)logger;
	if (open_flags & XENEVTCHN_NO_CLOEXEC) {
		errno = EINVAL;
		return NULL;
	}
	xce = stub_evtchn_new(fd, -1);
	stub_trace("xenevtchn_fdopen %d -> %p", fd, (void *)xce);
	return xce;
}

STUB_EXPORT int xenevtchn_close(xenevtchn_handle *xce)
{
	stub_trace("xenevtchn_close %p", (void *)xce);
	if (!xce)
		return 0;
	close(xce->rfd);
	if (xce->wfd >= 0)
		close(xce->wfd);
	free(xce);
	return 0;
}

STUB_EXPORT int xenevtchn_fd(xenevtchn_handle *xce)
{
	return xce->rfd;
}

STUB_EXPORT int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce;
	stub_trace("xenevtchn_notify %u", port);
	return 0;
}

STUB_EXPORT xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce,
                                                                 uint32_t domid,
                                                                 evtchn_port_t remote_port)
{
	evtchn_port_t port = xce->next_port++;

	stub_trace("xenevtchn_bind_interdomain dom %u port %u -> %u", domid, remote_port, port);
	return (xenevtchn_port_or_error_t)port;
}

STUB_EXPORT xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq)
{
	evtchn_port_t port = xce->next_port++;

	stub_trace("xenevtchn_bind_virq %u -> %u", virq, port);
	return (xenevtchn_port_or_error_t)port;
}

STUB_EXPORT int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce;
	stub_trace("xenevtchn_unbind %u", port);
	return 0;
}

STUB_EXPORT xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	(void)xce;
	stub_trace("xenevtchn_pending -> none");
	errno = EAGAIN;
	return -1;
}

STUB_EXPORT int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	(void)xce;
	(void)port;
	return 0;
}

/* ---- libxengnttab ------------------------------------------------------- */

STUB_EXPORT xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger, unsigned open_flags)
{
	xengnttab_handle *xgt;

	(void)logger;
	(void)open_flags;
	xgt = calloc(1, sizeof(*xgt));
	stub_trace("xengnttab_open -> %p", (void *)xgt);
	return xgt;
}

STUB_EXPORT int xengnttab_close(xengnttab_handle *xgt)
{
	stub_trace("xengnttab_close %p", (void *)xgt);
	free(xgt);
	return 0;
}

STUB_EXPORT int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
	(void)xgt;
	stub_trace("xengnttab_set_max_grants %u", nr_grants);
	return 0;
}

STUB_EXPORT void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref,
                                          int prot)
{
	void *p;

	(void)xgt;
	p = mmap(NULL, XSD_PAGE_SIZE, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stub_trace("xengnttab_map_grant_ref dom %u ref %u -> %p", domid, ref, p);
	return p == MAP_FAILED ? NULL : p;
}

STUB_EXPORT int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
	(void)xgt;
	stub_trace("xengnttab_unmap %p %u", start_address, count);
	return munmap(start_address, (size_t)count * XSD_PAGE_SIZE);
}

/* ---- syslog ------------------------------------------------------------- */

STUB_EXPORT void openlog(const char *ident, int option, int facility)
{
	(void)ident;
	(void)option;
	(void)facility;
}

STUB_EXPORT void closelog(void)
{
}

STUB_EXPORT void vsyslog(int pri, const char *fmt, va_list ap)
{
	int saved = errno;

	fprintf(stderr, "syslog(%d): ", LOG_PRI(pri));
	errno = saved; /* so that a "%m" in fmt still means something */
	vfprintf(stderr, fmt, ap);
	if (!*fmt || fmt[strlen(fmt) - 1] != '\n')
		fputc('\n', stderr);
	errno = saved;
}

STUB_EXPORT void syslog(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(pri, fmt, ap);
	va_end(ap);
}

STUB_EXPORT void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap)
{
	(void)flag;
	vsyslog(pri, fmt, ap);
}

STUB_EXPORT void __syslog_chk(int pri, int flag, const char *fmt, ...)
{
	va_list ap;

	(void)flag;
	va_start(ap, fmt);
	vsyslog(pri, fmt, ap);
	va_end(ap);
}
