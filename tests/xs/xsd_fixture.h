/*
 * xsd_fixture.h - a private xenstored for one test (see xsd.h), stopped
 * when the test process exits, passed or failed.
 */
#ifndef CKPT_XSD_FIXTURE_H
#define CKPT_XSD_FIXTURE_H

#include <stdbool.h>

/* Start it (skips the test if the daemon is not installed). */
void xsd_fixture_start(void);
/* Stop it now (also safe if it is not running). */
void xsd_fixture_stop(void);
/* Kill it without cleaning up, as if it crashed. */
void xsd_fixture_kill(void);
/* Freeze it (SIGSTOP) or let it go on (SIGCONT), as a daemon that stops
 * answering for a while.  Any thread. */
void xsd_fixture_freeze(bool frozen);

#endif /* CKPT_XSD_FIXTURE_H */
