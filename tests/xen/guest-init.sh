#!/bin/sh
#
# /init of the run-in-xen test guest (a PV domU; busybox sh). Brings up
# eth0 (xen-netfront) with a fixed address and a permanent neighbour entry
# for dom0's bridge, so the guest never sends ARP, then runs guest_sender
# towards dom0 until the domain is destroyed. The addresses must match
# dom0.sh.

/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

while read -r m; do
	insmod "/lib/modules/$m" || echo "guest: insmod $m failed"
done </modules.order

for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 \
	/proc/sys/net/ipv6/conf/default/disable_ipv6; do
	[ -w "$f" ] && echo 1 >"$f"
done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
ip link set lo up
ip link set eth0 up
ip addr add 10.78.0.2/24 dev eth0
ip neigh replace 10.78.0.1 lladdr 02:00:0a:4e:00:01 dev eth0 nud permanent
echo "guest: eth0 up, sending to 10.78.0.1:7778"
exec /bin/guest_sender 10.78.0.1 7778 100
