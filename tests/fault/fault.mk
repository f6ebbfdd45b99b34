# tests/fault/fault.mk - the fault-injection harness (included by
# tests/tests.mk).
#
#   make check-fault   ckpt-fault over the disk, NIC (in a private netns),
#                      core and application-kind operations, and the
#                      faults in the world
#   make check-fault-asan   the same, built with ASan/UBSan
#   make check-fault-vm     the NIC's operations in the test VM (sch_plug)
#
# The harness links the whole static library and exports it (-rdynamic):
# a kind library given with --kind-lib finds the library there, so it is
# built without -lckptdev (tests/fault/kind_lib.c, an application kind).

FAULT_SRC := tests/fault/ckpt-fault.c tests/fault/run.c tests/fault/world.c \
             tests/fault/external.c tests/fault/frames.c tests/ops/top.c tests/xs/xsd.c

$(T)/ckpt-fault: $(FAULT_SRC:tests/%.c=$(T)/%.o) $(STLIB) $(T)/libxsd_stub.so
	$(CC) $(LDFLAGS) -rdynamic -o $@ $(filter %.o,$^) \
	      -Wl,--whole-archive $(STLIB) -Wl,--no-whole-archive $(LDLIBS_LIB) -ldl

$(T)/libfaultkind.so: $(T)/fault/kind_lib.o
	$(CC) -shared $(LDFLAGS) -o $@ $^

$(T)/libleakykind.so: $(T)/fault/leaky_kind.o
	$(CC) -shared $(LDFLAGS) -o $@ $^

tests: $(T)/ckpt-fault $(T)/libfaultkind.so $(T)/libleakykind.so

FAULT_RUN = $(1)/tests/ckpt-fault --no-skip --kind-lib $(abspath $(1)/tests/libfaultkind.so) \
            --script $(abspath scripts/remus-netbuf-setup) --ckptdev $(abspath $(1)/ckptdev)

# The unit and xs sweeps of the fault points stay in check-unit and
# check-xs.
# First the harness's own test: a kind that leaks an fd must fail it.
check-fault: deps all $(T)/ckpt-fault $(T)/libfaultkind.so $(T)/libleakykind.so
	@if $(T)/ckpt-fault --kind-lib $(abspath $(T)/libleakykind.so) --only kind.setup \
	        --point dev.setup --no-external >$(BUILD)/fault-leaky.log 2>&1; then \
		cat $(BUILD)/fault-leaky.log; echo "ckpt-fault missed a kind that leaks an fd"; exit 1; \
	elif ! grep -q ': fds: ' $(BUILD)/fault-leaky.log; then \
		cat $(BUILD)/fault-leaky.log; echo "ckpt-fault failed, but not on the leaked fd"; exit 1; \
	else echo "ckpt-fault finds a kind that leaks an fd: ok"; fi
	$(call FAULT_RUN,$(BUILD))

# The same in the ASan build (LeakSanitizer judges every run's process).
# Not in make check: about 5 minutes on this machine.
check-fault-asan: deps
	$(MAKE) BUILD=$(BUILD)/asan SANITIZE=1 all $(BUILD)/asan/tests/ckpt-fault \
	        $(BUILD)/asan/tests/libfaultkind.so
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    $(call FAULT_RUN,$(BUILD)/asan)

# The NIC's operations and faults in the world where a NIC gets READY: in
# the test VM (sch_plug), where nl.buffer and nl.release are reached and
# the guest's packets are counted.  Not in make check: 4 to 13 minutes
# under TCG.
check-fault-vm: deps all $(T)/ckpt-fault
	tests/vm/run-in-vm --timeout 1800 -- $(abspath $(T)/ckpt-fault) --no-skip --only nic. \
	    --script $(abspath scripts/remus-netbuf-setup) --ckptdev $(abspath $(BUILD)/ckptdev)

.PHONY: check-fault check-fault-asan check-fault-vm
