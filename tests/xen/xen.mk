# tests/xen/xen.mk - the "xen" tier: tests run in dom0 of a real Xen under
# qemu, with a PV test guest, by tests/xen/run-in-xen.
# Included by the top-level Makefile, which defines BUILD, CC, CPPFLAGS,
# CFLAGS and LDFLAGS. Variables of this fragment start with XEN_.

XEN_SMOKE := $(BUILD)/tests/xen/xen_smoke
XEN_SMOKE_SRC := tests/xen/xen_smoke.c tests/vm/tap.c

$(XEN_SMOKE): $(XEN_SMOKE_SRC) tests/vm/tap.h tests/xen/xen.mk
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $(XEN_SMOKE_SRC) $(LDFLAGS)

.PHONY: check-xen
check-xen: $(XEN_SMOKE) all
	tests/xen/run-in-xen -- $(XEN_SMOKE)
	tests/xen/run-in-xen -- env BUILD=$(abspath $(BUILD)) $(abspath tests/xen/nic_xen.sh)
