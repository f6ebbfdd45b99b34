#!/bin/sh
#
# /init of the run-in-vm initramfs (busybox sh). Loads the modules, mounts
# the host's root read-only over 9p at /host, the run's results share at
# /host/run/ckpt, and runs /run/ckpt/cmd.sh (written by run-in-vm) in a
# chroot of the host root. The command's output goes to the second serial
# port, its exit status to /run/ckpt/status; then the machine powers off.
#
# Kernel parameters read: ckpt.shell=1 runs the command on the console,
# interactively (run-in-vm --shell makes it a shell); ckpt.out=file
# sends the command's output to /run/ckpt/output instead of the serial port
# (under Xen, whose dom0 has no serial port of its own).

/bin/busybox --install -s /bin
export PATH=/bin:/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
t_init=$(cut -d' ' -f1 /proc/uptime)

while read -r m; do
	insmod "/lib/modules/$m" || echo "init: insmod $m failed"
done </modules.order

halt()
{
	sync
	poweroff -f
	sleep 2
	reboot -f
}

mkdir -p /host /results /orig
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro \
	hostroot /host; then
	echo "init: cannot mount the host root"
	halt
fi
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 \
	results /results; then
	echo "init: cannot mount the results share"
	halt
fi
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts devpts /host/dev/pts
mount -t tmpfs tmpfs /host/dev/shm

# Fresh tmpfs folders, but the host folders the run needs (listed in
# /results/keep: the working directory, the cache) stay visible even when
# they lie below one of them.
for d in /tmp /run /var/tmp /root; do
	mkdir -p "/orig$d"
	mount --bind "/host$d" "/orig$d"
	mount -t tmpfs -o mode=1777 tmpfs "/host$d"
	[ -f /results/keep ] || continue
	while read -r p; do
		case $p in
		"$d"/*)
			mkdir -p "/host$p"
			mount --bind "/orig$p" "/host$p"
			;;
		esac
	done </results/keep
done
chmod 700 /host/root
mkdir -p /host/run/ckpt /host/run/netns /host/run/lock
mount --bind /results /host/run/ckpt

if grep -q 'ckpt.shell=1' /proc/cmdline; then
	setsid cttyhack chroot /host /bin/bash /run/ckpt/cmd.sh
	halt
fi

if grep -q 'ckpt.out=file' /proc/cmdline; then
	out=/host/run/ckpt/output
else
	out=/dev/ttyS1
	stty -F "$out" raw -echo 2>/dev/null
fi
t_cmd=$(cut -d' ' -f1 /proc/uptime)
chroot /host /bin/bash /run/ckpt/cmd.sh </dev/null >>"$out" 2>&1
rc=$?
t_end=$(cut -d' ' -f1 /proc/uptime)
echo "$t_init $t_cmd $t_end" >/host/run/ckpt/times
echo "$rc" >/host/run/ckpt/status
umount /host/run/ckpt
halt
