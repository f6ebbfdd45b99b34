# tests/vm/vm.mk - the "vm" tier: tests that need a kernel with sch_plug,
# run inside Debian's kernel under qemu by tests/vm/run-in-vm.
# Included by the top-level Makefile, which defines BUILD, CC, CPPFLAGS,
# CFLAGS and LDFLAGS. Variables of this fragment start with VM_.
# The NIC tests get a long hard timeout: one of them sets up many NICs
# (64 here; 256 in check-vm-long), minutes on one emulated CPU (the tests'
# own timeouts still apply).

VM_NL_CFLAGS := $(shell pkg-config --cflags libnl-route-3.0)
VM_NL_LIBS := $(shell pkg-config --libs libnl-route-3.0)
VM_SMOKE := $(BUILD)/tests/vm/plug_smoke
VM_SMOKE_SRC := tests/vm/plug_smoke.c tests/vm/plug_bench.c tests/vm/tap.c

$(VM_SMOKE): $(VM_SMOKE_SRC) tests/vm/plug_bench.h tests/vm/tap.h tests/vm/vm.mk
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(VM_NL_CFLAGS) -o $@ $(VM_SMOKE_SRC) $(LDFLAGS) $(VM_NL_LIBS)

# The demo's short form (2 s of checkpoints; about 25 s, most of it the
# VM's boot and the hotplug script): its verdict must hold (escaped=0,
# lost=0, the counters agree) and its picture be drawn.
VM_DEMO := $(BUILD)/tests/vm/demo

.PHONY: check-vm
# The NIC tests' guest run also runs the NIC bench with tiny counts (so
# that it cannot rot; no extra boot): it fails only if a step fails.
check-vm: $(VM_SMOKE) $(BUILD)/tests/nic-tests $(BUILD)/bench/nic-bench
	tests/vm/run-in-vm -- $(VM_SMOKE)
	tests/vm/run-in-vm --timeout 1800 -- sh -c '$(abspath $(BUILD))/tests/nic-tests \
	    --no-skip nic_plug && BENCH_QUICK=1 $(abspath $(BUILD))/bench/nic-bench'
	@mkdir -p $(VM_DEMO)
	CKPT_DEMO_SECONDS=2 $(MAKE) --no-print-directory demo DEMO_OUT=$(VM_DEMO) \
	    >$(VM_DEMO).log 2>&1; tests/vm/demo-check $$? $(VM_DEMO).log $(VM_DEMO)

# The long form (not in make check): the many-NIC test with 256 NICs.
.PHONY: check-vm-long
check-vm-long: $(BUILD)/tests/nic-tests
	tests/vm/run-in-vm --timeout 3600 -- env CKPT_MANY_NICS=256 \
	    $(abspath $(BUILD))/tests/nic-tests --no-skip nic_plug_many_nics
