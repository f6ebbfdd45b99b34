# tests/tests.mk - test binaries and tiers (included by the top Makefile).
#
#   check-unit      ao primitives and (later) the device layer, every loop
#   check-xs        the same core against the real xenstored
#   check-asan      unit + xs built with ASan/UBSan (build/asan)
#   check-tsan      unit + xs built with ThreadSanitizer (build/tsan)
#   check-valgrind  unit under valgrind
# A tier run by `make check` passes --no-skip: a skip there is a failure.

T := $(BUILD)/tests
TEST_CPPFLAGS := $(CPPFLAGS) -Itests
HARNESS_SRC := tests/harness/runner.c tests/harness/tloop.c tests/ops/top.c tests/ops/tkind.c
UNIT_SRC    := $(HARNESS_SRC) $(wildcard tests/unit/*.c)
XS_SRC      := $(HARNESS_SRC) tests/xs/test_xs.c tests/xs/xsd.c tests/xs/xsd_fixture.c
TEST_LIBS   := $(STLIB) $(LDLIBS_LIB)

$(T)/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(T)/unit-tests: $(UNIT_SRC:tests/%.c=$(T)/%.o) $(STLIB)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(TEST_LIBS)

$(T)/xs-tests: $(XS_SRC:tests/%.c=$(T)/%.o) $(STLIB) $(T)/libxsd_stub.so
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(TEST_LIBS)

# The stand-in for the hypervisor is preloaded into xenstored, which is
# not built with sanitizers: never instrument it.
$(T)/libxsd_stub.so: tests/xs/xsd_stub.c
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -std=c11 -Wall -Wextra -Werror -g -O2 -D_GNU_SOURCE \
	      -o $@ $< -ldl

tests: $(T)/unit-tests $(T)/xs-tests

check-unit: deps $(T)/unit-tests
	$(T)/unit-tests --no-skip

check-xs: deps $(T)/xs-tests
	$(T)/xs-tests --no-skip

check-asan: deps
	$(MAKE) BUILD=$(BUILD)/asan SANITIZE=1 $(BUILD)/asan/tests/unit-tests $(BUILD)/asan/tests/xs-tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    CKPT_TEST_TIMEOUT_SCALE=3 $(BUILD)/asan/tests/unit-tests --no-skip
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    CKPT_TEST_TIMEOUT_SCALE=3 $(BUILD)/asan/tests/xs-tests --no-skip

# Any report fails its test: TSan prints every report of the test, then
# the test exits with status 66 instead of 0.  Both binaries always run;
# the tier fails if either did.
TSAN_ENV := TSAN_OPTIONS='halt_on_error=0 exitcode=66 second_deadlock_stack=1 \
            suppressions=$(abspath tests/tsan.supp)' CKPT_TEST_TIMEOUT_SCALE=5

check-tsan: deps
	$(MAKE) BUILD=$(BUILD)/tsan SANITIZE=tsan $(BUILD)/tsan/tests/unit-tests $(BUILD)/tsan/tests/xs-tests
	$(TSAN_ENV) $(BUILD)/tsan/tests/unit-tests --no-skip; unit=$$?; \
	$(TSAN_ENV) $(BUILD)/tsan/tests/xs-tests --no-skip && [ $$unit -eq 0 ]

VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
            --show-leak-kinds=definite --track-fds=no

check-valgrind: deps $(T)/unit-tests
	CKPT_TEST_TIMEOUT_SCALE=10 $(VALGRIND) $(T)/unit-tests --no-skip

check: deps all
	@scripts/check-tiers $(CHECK_TIERS)

.PHONY: tests check check-unit check-xs check-asan check-tsan check-valgrind

# + : the tier runs make install (twice), in this make's jobserver.
check-install: deps all
	+BUILD=$(BUILD) MAKE="$(MAKE)" tests/install/run

.PHONY: check-install

# The NIC kind end to end (tests/nic): the no-plug half runs here
# (check-net), the sch_plug half inside the test VM (check-vm).
NIC_SRC := $(HARNESS_SRC) tests/nic/test_nic.c tests/nic/guestnet.c tests/xs/xsd.c \
           tests/xs/xsd_fixture.c
# nic_nl_*: the libnl backend's own translations (not in a NETBUF=no build)
ifneq ($(NETBUF),no)
NIC_SRC += tests/nic/test_nl_errors.c
endif

$(T)/nic-tests: $(NIC_SRC:tests/%.c=$(T)/%.o) $(STLIB) $(T)/libxsd_stub.so
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(TEST_LIBS)

tests: $(T)/nic-tests

check-tools: deps all
	BUILD=$(BUILD) tests/tools/run-tool-tests
	tests/tools/demo-verdict-tests

.PHONY: check-tools

# The fault sweeps of unit and xs, and the harness (tests/fault).
include tests/fault/fault.mk

# Benchmarks (bench/, docs/performance.md): ratios against baselines
# measured in the same run, printed with PASS or MISS against the targets
# (timings are never assertions).  `make bench` runs the host part, then
# the NIC bench where sch_plug is (the test VM when this kernel lacks it).
# bench-quick: the same with tiny counts; check-net runs its host part and
# check-vm its VM part, so the benches cannot rot: they fail only if a
# step fails or a checkpoint allocates.
BENCH_UTIL := bench/bench_util.c
$(BUILD)/bench/bench: bench/bench.c $(BENCH_UTIL) bench/bench_util.h bench/mini_loop.c \
                      bench/mini_loop.h bench/spawn_ways.c bench/spawn_ways.h tests/ops/top.c \
                      tests/harness/tloop.c $(STLIB)
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ bench/bench.c $(BENCH_UTIL) \
	      bench/mini_loop.c bench/spawn_ways.c tests/ops/top.c tests/harness/tloop.c $(TEST_LIBS)

NIC_BENCH_SRC := bench/nic_bench.c $(BENCH_UTIL) tests/xs/xsd.c tests/xs/xsd_fixture.c
$(BUILD)/bench/nic-bench: $(NIC_BENCH_SRC) bench/bench_util.h $(STLIB) $(T)/libxsd_stub.so
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CPPFLAGS) $(NL_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(NIC_BENCH_SRC) \
	      $(TEST_LIBS)

BENCH_BINS := $(BUILD)/bench/bench $(BUILD)/bench/nic-bench
BENCH_VM = tests/vm/run-in-vm --timeout 3600 -- env BENCH_QUICK=$(BENCH_QUICK) \
           $(abspath $(BUILD))/bench/nic-bench

BENCH_MACHINE = echo "== $$(nproc) CPUs,$$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)," \
                     "kernel $$(uname -r), $$(date -u '+%F %T') UTC, load average" \
                     "$$(cut -d' ' -f1-3 /proc/loadavg)"

bench: $(BENCH_BINS)
	@$(BENCH_MACHINE)
	BENCH_QUICK=$(BENCH_QUICK) $(BUILD)/bench/bench
	BENCH_QUICK=$(BENCH_QUICK) $(BUILD)/bench/nic-bench
	@$(BENCH_MACHINE)
	@if $(HAVE_PLUG); then echo "(this kernel has sch_plug: no VM run)"; \
	else $(BENCH_VM); fi
	@$(BENCH_MACHINE)

bench-quick:
	$(MAKE) --no-print-directory BENCH_QUICK=1 bench

.PHONY: bench bench-quick
