/*
 * xsd_fixture.h - a private xenstored for one test (see xsd.h), stopped
 * when the test process exits, passed or failed.
 */
#ifndef CKPT_XSD_FIXTURE_H
#define CKPT_XSD_FIXTURE_H

/* Start it (skips the test if the daemon is not installed). */
void xsd_fixture_start(void);
/* Stop it now (also safe if it is not running). */
void xsd_fixture_stop(void);
/* Kill it without cleaning up, as if it crashed. */
void xsd_fixture_kill(void);

#endif /* CKPT_XSD_FIXTURE_H */
