#!/bin/sh
# nic_xen.sh - the NIC kind on a real Xen: the sample driver protects the
# test guest's vif in dom0, suspending the guest with `xl pause` at every
# checkpoint, and the guest's datagrams pass through the buffer epoch by
# epoch.  Run in dom0 by tests/xen/run-in-xen (which sets CKPT_XEN_DOMID
# and CKPT_XEN_VIF).  TAP output, ending with "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$top/build}
n=0 passed=0 failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

ok() { # ok DESCRIPTION STATUS
	n=$((n + 1))
	if [ "$2" = 0 ]; then
		passed=$((passed + 1))
		echo "ok $n - $1"
	else
		failed=$((failed + 1))
		echo "not ok $n - $1"
		sed 's/^/# /' "$out"
	fi
}

if [ -z "${CKPT_XEN_DOMID:-}" ] || [ -z "${CKPT_XEN_VIF:-}" ]; then
	echo "skipped: run me in dom0 through tests/xen/run-in-xen"
	exit 4
fi
dom=$CKPT_XEN_DOMID
vif=$CKPT_XEN_VIF

# the guest sends a datagram every 100 ms; let it get going
i=0
while [ "$(cat "/sys/class/net/$vif/statistics/rx_packets" 2>/dev/null || echo 0)" -lt 5 ] &&
	[ $i -lt 600 ]; do
	sleep 0.2
	i=$((i + 1))
done

"$build/ckptdev" run --domid "$dom" --nic "$vif" \
	--script "$top/scripts/remus-netbuf-setup" --timeout 60000 \
	--interval 500 --count 8 --transfer-ms 5 --ack-ms 2 \
	--suspend-cmd "xl pause $dom" --resume-cmd "xl unpause $dom" >"$out" 2>&1
ok "ckptdev protects $vif of domain $dom for 8 checkpoints and exits 0" $?

grep -q "buffered through ifb-" "$out"
ok "the guest's vif is buffered through its own IFB" $?

released=$(grep '^epoch' "$out" | sed -n 's/.*released *\([0-9]*\).*/\1/p' |
	awk '$1 > 0 {n++} END {print n + 0}')
[ "$released" -ge 4 ]
ok "the guest's output was released epoch by epoch ($released of 8 epochs)" $?

! grep '^epoch' "$out" | grep -qv 'dropped 0'
ok "nothing was dropped" $?

{
	echo "after teardown:"
	ip -o link show type ifb
	tc qdisc show dev "$vif"
	xenstore-ls "/libxl/$dom" 2>&1
} >"$out"
# (ifb0 and ifb1 come with the ifb module; ours are named ifb-<crc>)
! ip -o link show type ifb | grep -q ': ifb-' &&
	! tc qdisc show dev "$vif" | grep -q clsact &&
	! xenstore-ls "/libxl/$dom" 2>/dev/null | grep -q netbuf
ok "teardown left no IFB, no qdisc on the vif, no xenstore node" $?

sed 's/^/# /' "$out" | grep -E '^# (epoch +[18]:|[0-9]+ checkpoint)'
echo "1..$n"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
