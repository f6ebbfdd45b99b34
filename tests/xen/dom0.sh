#!/bin/bash
#
# dom0.sh: the dom0 side of run-in-xen, run in the chroot of the host's
# root inside the emulated machine.
#
#   dom0.sh GUEST_CFG CMD [ARG...]
#
# Starts the Xen control plane (xenstored, xen-init-dom0, xenconsoled),
# makes the bridge xenbr0 (10.78.0.1/24), creates the test guest from the
# xl config GUEST_CFG, runs CMD while the guest lives, destroys the guest
# and exits with CMD's status (125 when dom0 or the guest could not be set
# up). CMD finds the guest through these variables:
#   CKPT_XEN_DOMID, CKPT_XEN_GUEST (its name), CKPT_XEN_VIF (its vif in
#   dom0), CKPT_XEN_BRIDGE, CKPT_XEN_DOM0_ADDR, CKPT_XEN_GUEST_ADDR,
#   CKPT_XEN_PORT (where the guest sends its numbered datagrams).
# Progress goes to /run/ckpt/dom0.log and the times of the steps (dom0's
# uptime) to /run/ckpt/marks; the guest's console is kept in
# /run/ckpt/console/. Nothing is printed after CMD ends, so CMD's last
# line stays the last line of the output.

set -u
RES=/run/ckpt
XENBIN=/usr/lib/xen-4.17/bin
GUEST=ckpt-guest
BRIDGE=xenbr0
BRIDGE_MAC=02:00:0a:4e:00:01
DOM0_ADDR=10.78.0.1
GUEST_ADDR=10.78.0.2
PORT=7778

exec 3>>"$RES/dom0.log"

# Both read dom0's uptime without forking: a fork costs 60 to 120 ms
# under emulation.
say()
{
	local up rest

	read -r up rest </proc/uptime
	echo "[$up] dom0: $*" >&3
}

mark()
{
	local up rest

	read -r up rest </proc/uptime
	echo "$1 $up" >>"$RES/marks"
}

fail()
{
	say "error: $*"
	echo "dom0: error: $*; see dom0.log and console/ in the results" >&2
	exit 125
}

# wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds.
wait_for()
{
	local end=$((SECONDS + $1))

	shift
	until "$@" 2>/dev/null; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

start_xen_tools()
{
	local d

	mount -t xenfs xenfs /proc/xen || fail "cannot mount xenfs"
	for d in /var/log /var/lib/xen; do
		mount -t tmpfs tmpfs "$d" || fail "cannot mount tmpfs on $d"
	done
	mkdir -p /var/log/xen /run/xen /run/xenstored "$RES/console"
	"$XENBIN/xenstored" --pid-file /run/xen/xenstored.pid >&3 2>&3 ||
		fail "xenstored did not start"
	wait_for 30 test -S /run/xenstored/socket ||
		fail "xenstored made no socket"
	mark xenstored
	"$XENBIN/xen-init-dom0" >&3 2>&3 || fail "xen-init-dom0 failed"
	"$XENBIN/xenconsoled" --pid-file=/run/xen/xenconsoled.pid \
		--log=guest --log-dir="$RES/console" >&3 2>&3 ||
		fail "xenconsoled did not start"
	mark tools
	say "xenstored, xen-init-dom0 and xenconsoled up"
}

make_bridge()
{
	echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
	ip link add "$BRIDGE" address "$BRIDGE_MAC" type bridge \
		forward_delay 0 >&3 2>&3 &&
		ip addr add "$DOM0_ADDR/24" dev "$BRIDGE" >&3 2>&3 &&
		ip link set "$BRIDGE" up >&3 2>&3 ||
		fail "cannot make bridge $BRIDGE"
}

create_guest()
{
	local domid

	say "creating the guest"
	timeout 120 "$XENBIN/xl" create -q "$1" >&3 2>&3 ||
		fail "xl create failed"
	domid=$("$XENBIN/xl" domid "$GUEST" 2>&3) ||
		fail "the guest vanished after xl create"
	wait_for 60 test -e "/sys/class/net/vif$domid.0/brport" ||
		fail "vif$domid.0 did not join $BRIDGE"
	mark guest
	say "guest $GUEST is domain $domid"
	export CKPT_XEN_DOMID=$domid CKPT_XEN_GUEST=$GUEST
	export CKPT_XEN_VIF=vif$domid.0 CKPT_XEN_BRIDGE=$BRIDGE
	export CKPT_XEN_DOM0_ADDR=$DOM0_ADDR CKPT_XEN_GUEST_ADDR=$GUEST_ADDR
	export CKPT_XEN_PORT=$PORT
}

[ $# -ge 2 ] || fail "usage: dom0.sh GUEST_CFG CMD [ARG...]"
cfg=$1
shift
start_xen_tools
make_bridge
create_guest "$cfg"

say "running: $*"
rc=0
"$@" || rc=$?
mark command
say "command exited with status $rc"

timeout 60 "$XENBIN/xl" destroy "$CKPT_XEN_DOMID" >&3 2>&3 ||
	say "xl destroy failed"
mark destroyed
exit $rc
