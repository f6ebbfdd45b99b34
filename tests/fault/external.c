/*
 * external.c - faults in the world the library depends on.
 */
#include "harness.h"

void external_faults(void)
{
}
