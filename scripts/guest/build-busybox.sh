#!/usr/bin/env bash
# Builds a static riscv64 BusyBox for the guest initramfs (issue #16: a shell on the display
# guest's fbcon console) from Debian's own `busybox` source package, with Debian's
# gcc-riscv64-linux-gnu and libc6-dev-riscv64-cross (glibc, linked -static), into a cache
# outside the repo (built once per machine):
#   $HONK_CACHE (default ~/.cache/honk)/busybox-<debian version>/busybox
#   ... and busybox.links beside it (one applet path a line, e.g. /bin/ls).
# Debian's bookworm archive has no riscv64 binaries, so the source is fetched with apt-get from
# deb.debian.org through a private sources list (the system's apt state is not touched),
# hash-checked by apt against the signed Sources index, and unpacked with Debian's patches by
# dpkg-source. The config is allnoconfig plus the applets below (a shell and what a person tries
# first), not Debian's 600-applet one: the build stays short. As in Debian's rules,
# KCONFIG_NOTIMESTAMP and BB_EXTRA_VERSION keep the date out of the binary, and
# SOURCE_DATE_EPOCH is the changelog's date, so the same inputs give the same binary.
# Prints the busybox path on its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${HONK_CACHE:-$HOME/.cache/honk}"
version="${BUSYBOX_DEB_VERSION:-1:1.35.0-4+deb12u1}"
[ $# -eq 0 ] || { echo "build-busybox.sh: takes no arguments (got '$1')" >&2; exit 2; }
# The options turned on over allnoconfig (Kconfig then adds each one's default sub-features).
options=(
  STATIC BUSYBOX FEATURE_SH_MATH FEATURE_EDITING FEATURE_TAB_COMPLETION
  # ash as /bin/sh, with job control (it gets tty1 as its controlling terminal) and builtins
  SH_IS_ASH ASH ASH_JOB_CONTROL ASH_ECHO ASH_PRINTF ASH_TEST ASH_ALIAS ASH_GETOPTS ASH_CMDCMD
  # coreutils and friends
  ECHO PRINTF TEST TEST1 TEST2 TRUE FALSE CAT LS UNAME PWD MKDIR RMDIR RM CP MV LN TOUCH HEAD TAIL
  WC SLEEP DATE ENV ID DF DU SEQ EXPR BASENAME DIRNAME TTY STTY NPROC SYNC WHICH GREP SED MORE
  CLEAR HEXDUMP VI
  # the system
  PS FREE UPTIME TOP KILL DMESG MOUNT UMOUNT HOSTNAME HALT POWEROFF REBOOT
)
dir="$cache/busybox-${version#*:}"
out="$dir/busybox"
stamp="$dir/.honk-config-$(cat "$0" | sha256sum | cut -c1-16)"
if [ -f "$out" ] && [ -f "$dir/busybox.links" ] && [ -f "$stamp" ]; then echo "$out"; exit 0; fi

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
need=()
for p in gcc-riscv64-linux-gnu libc6-dev-riscv64-cross gcc libc6-dev make dpkg-dev xz-utils bzip2 debian-archive-keyring; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >&2
fi

mkdir -p "$dir"
src="$dir/src"
bash "$here/debian-source.sh" busybox "$version" "$dir"
cd "$src"
build="$dir/build"
rm -rf "$build" && mkdir -p "$build"
export KCONFIG_NOTIMESTAMP=1 SOURCE_DATE_EPOCH="$(dpkg-parsechangelog -STimestamp)"
make_args=(-C "$src" O="$build" CROSS_COMPILE=riscv64-linux-gnu- -j"$(nproc)")
make "${make_args[@]}" allnoconfig >/dev/null
for o in "${options[@]}"; do
  sed -i -e "/^# CONFIG_$o is not set\$/d" -e "/^CONFIG_$o=/d" "$build/.config"
  echo "CONFIG_$o=y" >> "$build/.config"
done
# Newly visible sub-options take their Kconfig defaults (as Debian's rules do: yes "" | oldconfig).
make "${make_args[@]}" oldconfig < <(yes "") >/dev/null
# Every option we asked for must have survived dependency resolution.
missing=0
for o in "${options[@]}"; do grep -qx "CONFIG_$o=y" "$build/.config" || { echo "config lost: CONFIG_$o" >&2; missing=1; }; done
[ $missing -eq 0 ] || exit 1
# Debian's version string (its rules pass the same), instead of the build date.
debian_args=(BB_EXTRA_VERSION="Debian $version" SKIP_STRIP=n)
make "${make_args[@]}" "${debian_args[@]}" busybox > "$dir/build.log" 2>&1 || { tail -60 "$dir/build.log" >&2; exit 1; }
make "${make_args[@]}" busybox.links >> "$dir/build.log" 2>&1 || { tail -20 "$dir/build.log" >&2; exit 1; }
# A static RISC-V executable, or nothing: the guest has no dynamic loader.
if ! riscv64-linux-gnu-readelf -h "$build/busybox" | grep -q "Machine: *RISC-V" ||
  riscv64-linux-gnu-readelf -l "$build/busybox" | grep -q INTERP; then
  echo "build-busybox.sh: $build/busybox is not a static RISC-V executable" >&2; exit 1
fi
cp "$build/busybox" "$out.tmp" && mv "$out.tmp" "$out"
cp "$build/busybox.links" "$dir/busybox.links.tmp" && mv "$dir/busybox.links.tmp" "$dir/busybox.links"
rm -f "$dir"/.honk-config-* && touch "$stamp"
echo "$out"
