# tests/fuzz/fuzz.mk - coverage-guided fuzz targets (libFuzzer, clang) for
# everything the library parses from outside the process: the kernel's
# netlink answers, xenstore values the hotplug script writes, device
# parameters and the sample driver's command line.  See docs/testing.md.
# Included by the top Makefile.
#
#   make check-fuzz     every target for FUZZ_CHECK_SECONDS (default 5)
#                       after replaying its seed corpus and its regression
#                       inputs; part of check-fault and of `make check`
#   make fuzz           the long run: FUZZ_SECONDS (default 600) per
#                       target, FUZZ_TARGETS="nl_reply cli" for some only
#   make fuzz-merge     fold what the long runs found that adds coverage
#                       into the seed corpus (tests/fuzz/corpus)
#
# The targets and the library's sources are compiled by clang with
# -fsanitize=fuzzer-no-link,address,undefined into $(BUILD)/fuzz (a make
# of its own, as for build/asan); what a run finds goes to
# $(BUILD)/fuzz/found/TARGET, a crash to $(BUILD)/fuzz/crashes/TARGET.

FUZZ_TARGETS       ?= nl_reply xs_values dev_params cli
FUZZ_SECONDS       ?= 600
FUZZ_CHECK_SECONDS ?= 5
FUZZ_DIR           := $(BUILD)/fuzz
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer -Wno-string-concatenation

# Inside the make of $(BUILD)/fuzz (BUILD is that folder there).
FUZZ_BINS := $(FUZZ_TARGETS:%=$(T)/fuzz/fuzz_%)
$(T)/fuzz/%.o: TEST_CPPFLAGS += -Isrc
$(FUZZ_BINS): $(T)/fuzz/fuzz_%: $(T)/fuzz/fuzz_%.o $(STLIB)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(TEST_LIBS)

fuzz-targets: $(FUZZ_BINS)

# From the top: build them with clang and the sanitizers.
fuzz-build: deps
	+$(MAKE) --no-print-directory BUILD=$(FUZZ_DIR) CC=clang SANITIZE_FLAGS='$(FUZZ_SAN)' \
	    FUZZ_TARGETS='$(FUZZ_TARGETS)' fuzz-targets

check-fuzz: fuzz-build
	BUILD=$(FUZZ_DIR) tests/fuzz/run-fuzz --seconds $(FUZZ_CHECK_SECONDS) $(FUZZ_TARGETS)

fuzz: fuzz-build
	BUILD=$(FUZZ_DIR) tests/fuzz/run-fuzz --seconds $(FUZZ_SECONDS) --keep $(FUZZ_TARGETS)

fuzz-merge: fuzz-build
	BUILD=$(FUZZ_DIR) tests/fuzz/run-fuzz --merge $(FUZZ_TARGETS)

# The fault tier runs the short fuzz runs too.
check-fault: check-fuzz

.PHONY: fuzz-targets fuzz-build check-fuzz fuzz fuzz-merge

# The recorder of the kernel's answers for the nl_reply seeds (a plain
# build: tests/fuzz/capture-nl runs it).
$(T)/fuzz/nl_capture: tests/fuzz/nl_capture.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $<
