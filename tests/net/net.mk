# tests/net/net.mk - the "net" tier, on this host's kernel:
#   - scripts/remus-netbuf-setup inside network namespaces, against a
#     private xenstored (tests/net/run-net-tests);
#   - the NIC kind end to end where the kernel has no sch_plug
#     (nic-tests nic_noplug_*: a clear failure that leaves nothing), and
#     what a refused plug request returns (nic-tests nic_nl_*);
#   - the benches' host half with tiny counts (bench/, about 3 s).
# Included by the top Makefile, which defines BUILD and the test rules.
#
#   make check-net                      as run by `make check`: a skip fails
#   make check-net NET_TEST_FLAGS=      a skip (not root, ...) exits 4

NET_TEST_FLAGS ?= --no-skip

.PHONY: check-net
check-net: deps $(BUILD)/tests/libxsd_stub.so $(BUILD)/tests/nic-tests $(BENCH_BINS)
	BUILD=$(BUILD) tests/net/run-net-tests $(NET_TEST_FLAGS)
	@if $(HAVE_PLUG); then \
		echo "this kernel has sch_plug: the no-plug NIC checks do not apply"; \
		$(BUILD)/tests/nic-tests nic_noplug nic_nl_ nic_owner; \
	else \
		$(BUILD)/tests/nic-tests $(NET_TEST_FLAGS) nic_noplug nic_nl_ nic_owner; \
	fi
	@# the benches' host half with tiny counts (a few seconds): fails only
	@# if a step fails or a checkpoint allocates, never on a ratio
	BENCH_QUICK=1 $(BUILD)/bench/bench
	BENCH_QUICK=1 $(BUILD)/bench/nic-bench
