/*
 * xsd_fixture.c - one private xenstored per test process.
 */
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include "../harness/test.h"
#include "xsd.h"
#include "xsd_fixture.h"

static struct xsd daemon_;
static bool registered;

void xsd_fixture_stop(void)
{
	xsd_stop(&daemon_);
}

void xsd_fixture_kill(void)
{
	xsd_kill(&daemon_);
}

void xsd_fixture_freeze(bool frozen)
{
	if (daemon_.pid > 0)
		kill(daemon_.pid, frozen ? SIGSTOP : SIGCONT);
}

void xsd_fixture_start(void)
{
	char stub[PATH_MAX];

	if (access(XSD_DEFAULT_DAEMON, X_OK))
		SKIP("%s is missing (Debian package xen-utils-4.17; run make deps)",
		     XSD_DEFAULT_DAEMON);
	snprintf(stub, sizeof(stub), "%s/libxsd_stub.so", test_bin_dir());
	if (xsd_start(&daemon_, stub, NULL))
		FAIL("cannot start xenstored (see above)");
	if (!registered)
		atexit(xsd_fixture_stop);
	registered = true;
}
