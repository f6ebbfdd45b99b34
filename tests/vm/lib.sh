# shellcheck shell=bash
#
# Helpers shared by tests/vm/run-in-vm and tests/xen/run-in-xen: installing
# what the runners need, caching Debian's kernel, packing an initramfs and
# running qemu under a hard timeout. Sourced, never executed.
#
# Cache layout, below $CKPT_VM_CACHE (default /var/cache/ckptdev-vm):
#   kernel-<package>_<version>/   the kernel package unpacked, depmod done
#   initrd-<tag>-<hash>.cpio.gz   initramfs images; the hash covers every
#                                 input, so a changed script or module
#                                 list gives a new image (old ones go
#                                 after an hour unused)
#   xen-<version>/                (run-in-xen) the hypervisor package and
#                                 its ELF image, xen.elf
# Entries are built in a scratch folder (.tmp.*, *.part) and renamed into
# place, all under a lock, so an interrupted run never leaves a half-made
# entry behind; the next run to take the lock removes its scratch.

CACHE=${CKPT_VM_CACHE:-/var/cache/ckptdev-vm}
case $CACHE in /*) ;; *) CACHE=$PWD/$CACHE ;; esac
PROG=${PROG:-${0##*/}}

log()
{
	printf '%s: %s\n' "$PROG" "$*" >&2
}

die()
{
	log "error: $*"
	exit 125
}

now()
{
	date +%s.%N
}

# secs FROM [TO]: elapsed seconds with one decimal.
secs()
{
	awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.1f", b - a }'
}

# need_packages FILE...: every Debian package named in the FILEs (one per
# line) must be installed. As root, install what is missing; otherwise say
# which command would.
need_packages()
{
	local missing=() p

	for p in $(cat "$@"); do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		log "missing packages; run as root:"
		log "  apt-get install -y ${missing[*]}"
		exit 125
	fi
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y "${missing[@]}" >&2; then
		apt-get update >&2 || true
		apt-get install -y "${missing[@]}" >&2 ||
			die "apt-get install ${missing[*]} failed"
	fi
}

# cache_lock: hold an exclusive lock on the cache for the rest of the
# process (fd 9), so two runs never build the same entry at once.
cache_lock()
{
	mkdir -p "$CACHE" || die "cannot create cache folder $CACHE"
	exec 9>"$CACHE/.lock"
	flock 9
	rm -rf "$CACHE"/.tmp.* "$CACHE"/*.part
}

cache_unlock()
{
	exec 9>&-
}

# apt_lookup CMD...: run an apt-cache query; if it finds nothing and we are
# root, refresh the package lists once and ask again.
apt_lookup()
{
	local out

	out=$("$@" 2>/dev/null)
	if [ -z "$out" ] && [ "$(id -u)" -eq 0 ] && [ -z "${APT_UPDATED:-}" ]; then
		APT_UPDATED=1
		apt-get update >&2 || true
		out=$("$@" 2>/dev/null)
	fi
	printf '%s\n' "$out"
}

# deb_version PKG: the version apt would install.
deb_version()
{
	apt_lookup apt-cache show --no-all-versions "$1" |
		awk '/^Version:/ { print $2; exit }'
}

# deb_unpack PKG VERSION DEST: download one package and unpack it into
# DEST, which must not exist yet. Works in a scratch folder of the cache.
deb_unpack()
{
	local pkg=$1 ver=$2 dest=$3 tmp

	tmp=$(mktemp -d "$CACHE/.tmp.XXXXXX") || die "mktemp failed"
	log "downloading $pkg $ver"
	if ! (cd "$tmp" && apt-get download -o APT::Sandbox::User=root \
		"$pkg=$ver" >&2); then
		rm -rf "$tmp"
		die "apt-get download $pkg=$ver failed"
	fi
	if ! dpkg -x "$tmp"/*.deb "$tmp/root"; then
		rm -rf "$tmp"
		die "dpkg -x of $pkg failed"
	fi
	rm -f "$tmp"/*.deb
	mv "$tmp/root" "$dest.part" && rmdir "$tmp"
}

# kernel_prepare: make sure Debian's current kernel is unpacked in the
# cache. Sets KROOT (the unpacked package), KVER (its uname -r) and
# VMLINUZ. Stale kernels are removed once a newer one is in place.
kernel_prepare()
{
	local pkg ver dir d

	# The package linux-image-amd64 depends on, and its version: one
	# apt-cache call (each costs about a second here).
	set -- $(apt_lookup apt-cache show --no-all-versions linux-image-amd64 |
		sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*\) *\((= *\([^)]*\))\)\{0,1\}.*/\1 \3/p')
	pkg=${1:-} ver=${2:-}
	[ -n "$pkg" ] && [ -z "$ver" ] && ver=$(deb_version "$pkg")
	if [ -z "$pkg" ] || [ -z "$ver" ]; then
		# No package lists (offline?): fall back on what is cached.
		dir=$(ls -d "$CACHE"/kernel-*/ 2>/dev/null | tail -n 1)
		[ -n "$dir" ] || die "apt knows no linux-image-amd64 and the cache is empty"
		dir=${dir%/}
		log "apt knows no kernel package; using cached ${dir##*/}"
	else
		dir=$CACHE/kernel-${pkg}_$ver
	fi
	if [ ! -d "$dir" ]; then
		rm -rf "$dir.part"
		deb_unpack "$pkg" "$ver" "$dir"
		KVER=${pkg#linux-image-}
		depmod -b "$dir.part" "$KVER" || die "depmod failed"
		mv "$dir.part" "$dir" || die "cannot rename $dir.part"
		for d in "$CACHE"/kernel-*; do
			[ "$d" = "$dir" ] || rm -rf "$d"
		done
	fi
	KROOT=$dir
	KVER=$(ls "$KROOT/lib/modules" | head -n 1)
	VMLINUZ=$KROOT/boot/vmlinuz-$KVER
	[ -f "$VMLINUZ" ] || die "no kernel image in $KROOT"
}

# kernel_vmlinux: set VMLINUX to the uncompressed ELF kernel inside the
# cached bzImage (made once). qemu boots it through its PVH entry point and
# Xen loads it as dom0 or domU kernel, both faster than with the bzImage.
kernel_vmlinux()
{
	local off

	VMLINUX=$KROOT/vmlinux
	[ -f "$VMLINUX" ] && return 0
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$VMLINUZ" | head -n 1 | cut -d: -f1)
	[ -n "$off" ] || die "no xz stream in $VMLINUZ"
	tail -c +$((off + 1)) "$VMLINUZ" |
		xz -dc --single-stream >"$VMLINUX.part" 2>/dev/null
	[ "$(head -c 4 "$VMLINUX.part" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
		die "could not unpack an ELF vmlinux from $VMLINUZ"
	mv "$VMLINUX.part" "$VMLINUX"
}

# modules_resolve NAME...: print the .ko files that loading NAMEs needs,
# in load order (dependencies first), each once.
modules_resolve()
{
	local m out all=

	for m in "$@"; do
		out=$(modprobe -d "$KROOT" -S "$KVER" --show-depends "$m") ||
			die "kernel $KVER has no module $m"
		all+=$out$'\n'
	done
	printf '%s' "$all" | awk '$1 == "insmod" && !seen[$2]++ { print $2 }'
}

# initramfs_build TAG INIT MODLIST [EXTRA_DIR]: print the path of a cached
# initramfs holding busybox, INIT as /init, the modules named in the file
# MODLIST (loaded by /init in the order of /modules.order) and, when given,
# the contents of EXTRA_DIR. Rebuilt whenever any of these inputs change.
initramfs_build()
{
	local tag=$1 init=$2 modlist=$3 extra=${4:-} kos hash img tmp k b

	kos=$(modules_resolve $(cat "$modlist")) || exit 125
	hash=$({
		echo "$KROOT"
		echo "$kos"
		cat "$init" "${BASH_SOURCE[0]}" /bin/busybox
		[ -n "$extra" ] && tar -C "$extra" -cf - --sort=name \
			--mtime=@0 --owner=0 --group=0 .
	} | sha256sum | cut -c1-16)
	img=$CACHE/initrd-$tag-$hash.cpio.gz
	if [ ! -f "$img" ]; then
		log "building initramfs $tag"
		tmp=$(mktemp -d "$CACHE/.tmp.XXXXXX") || die "mktemp failed"
		mkdir -p "$tmp/bin" "$tmp/lib/modules" "$tmp/proc" "$tmp/sys" \
			"$tmp/dev" "$tmp/tmp"
		cp /bin/busybox "$tmp/bin/busybox"
		ln -s busybox "$tmp/bin/sh"
		cp "$init" "$tmp/init"
		chmod 755 "$tmp/init"
		for k in $kos; do
			b=${k##*/}
			case $b in
			*.xz) xz -dc "$k" >"$tmp/lib/modules/${b%.xz}" ;;
			*.zst) zstd -qdc "$k" >"$tmp/lib/modules/${b%.zst}" ;;
			*) cp "$k" "$tmp/lib/modules/$b" ;;
			esac
			b=${b%.xz}
			echo "${b%.zst}" >>"$tmp/modules.order"
		done
		[ -n "$extra" ] && cp -a "$extra/." "$tmp/"
		(cd "$tmp" && find . | LC_ALL=C sort | cpio --quiet -o -H newc |
			gzip -1) >"$img.part" || die "cpio failed"
		rm -rf "$tmp"
		mv "$img.part" "$img"
		# Older images may still be in use by a run that started from
		# other inputs: remove only those unused for an hour.
		find "$CACHE" -maxdepth 1 -name "initrd-$tag-*.cpio.gz" \
			! -name "${img##*/}" -mmin +60 -delete
	fi
	touch "$img"
	printf '%s\n' "$img"
}

# qemu_start TIMEOUT ARGS...: start qemu-system-x86_64 ARGS in the
# background under a hard timeout (SIGTERM, then SIGKILL 5 s later). Sets
# QEMU_PID to the pid of the timeout process that owns qemu.
qemu_start()
{
	local limit=$1

	shift
	timeout -k 5 "$limit" qemu-system-x86_64 "$@" </dev/null &
	QEMU_PID=$!
}

# qemu_wait: wait for qemu; returns its exit status, 124 on timeout.
qemu_wait()
{
	local rc=0

	wait "$QEMU_PID" || rc=$?
	QEMU_PID=
	return $rc
}

# qemu_stop: the cleanup path: kill qemu (by pid) if it still runs.
qemu_stop()
{
	[ -n "$QEMU_PID" ] || return 0
	kill -TERM "$QEMU_PID" 2>/dev/null
	wait "$QEMU_PID" 2>/dev/null
	QEMU_PID=
}

# run_dir: make this run's private folder (removed by run_cleanup) with the
# results share in it. Sets RUN.
run_dir()
{
	RUN=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-$1.XXXXXX") || die "mktemp failed"
	mkdir "$RUN/share"
}

# cmd_script FILE ARGV...: write the script the guest runs: ARGV in the
# current directory, with the caller's PATH and CKPT_* variables.
cmd_script()
{
	local file=$1 v

	shift
	{
		echo "cd $(printf '%q' "$PWD") || exit 125"
		echo "export PATH=$(printf '%q' "$PATH") HOME=/root"
		env | awk -F= '/^CKPT_[A-Za-z0-9_]*=/ { print $1 }' |
			while read -r v; do
				echo "export $v=$(printf '%q' "${!v}")"
			done
		printf 'exec'
		printf ' %q' "$@"
		echo
	} >"$file"
	# Host folders the guest must see even below its tmpfs folders.
	printf '%s\n' "$PWD" "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." &&
		pwd)" "$CACHE" >"${file%/*}/keep"
}

# holdback LAST: copy stdin to stdout as it comes, except the last line,
# which goes to the file LAST: the runner prints its timing line first, so
# the command's own last line (the test summary) stays last.
holdback()
{
	awk -v last="$1" 'NR > 1 { print prev; fflush() } { prev = $0 }
		END { if (NR) print prev >last }'
}

# run_status QEMU_RC CONSOLE TIMEOUT: the exit status of the run, from
# qemu's status and the status file the guest wrote; shows the end of the
# console when the run went wrong.
run_status()
{
	local rc=$1 console=$2 limit=$3

	if [ "$rc" -eq 124 ]; then
		log "timed out after $limit s; qemu killed"
	elif [ "$rc" -ne 0 ]; then
		log "qemu failed with status $rc"
		rc=125
	elif [ -s "$RUN/share/status" ]; then
		rc=$(cat "$RUN/share/status")
	else
		log "the machine stopped without reporting the command's status"
		rc=125
	fi
	if [ "$rc" -ge 124 ] && [ -s "$console" ]; then
		log "last lines of the console ($console):"
		tail -n 40 "$console" | tr -d '\r' >&2
	fi
	return "$rc"
}

# guest_times: "boot-to-init A s, setup B s, command C s, " from the
# uptimes the guest's /init wrote, or nothing.
guest_times()
{
	local i c e

	[ -s "$RUN/share/times" ] || return 0
	read -r i c e <"$RUN/share/times"
	awk -v i="$i" -v c="$c" -v e="$e" 'BEGIN {
		printf "boot-to-init %.1f s, setup %.1f s, command %.1f s, ",
			i, c - i, e - c }'
}

# run_cleanup: every exit path of a runner: stop qemu and the output
# readers by pid and remove the run's folder.
run_cleanup()
{
	local p

	qemu_stop
	for p in ${READER_PIDS:-}; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	READER_PIDS=
	[ -n "${RUN:-}" ] && [ -z "${CKPT_VM_KEEP:-}" ] && rm -rf "$RUN"
	[ -n "${RUN:-}" ] && [ -n "${CKPT_VM_KEEP:-}" ] &&
		log "kept the run's folder $RUN"
	return 0
}
