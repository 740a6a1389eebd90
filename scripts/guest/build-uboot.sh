#!/usr/bin/env bash
# Builds U-Boot for the virt machine (qemu-riscv64_smode, S-mode under an SBI) from Debian's own
# source package with the NVMe PCI driver enabled (issue #19: Debian's binary u-boot-qemu has
# none, so `nvme scan` finds nothing), with Debian's gcc-riscv64-linux-gnu, into a cache outside
# the repo (built once per machine):
#   $HONK_CACHE (default ~/.cache/honk)/u-boot-<debian version>-nvme/u-boot.bin
# The source is Debian's `u-boot` source package of the installed u-boot-qemu's version (or
# UBOOT_DEB_VERSION),
# fetched with apt-get from deb.debian.org through a private sources list (the system's apt
# state is not touched), hash-checked by apt against the signed Sources index, unpacked with
# Debian's patches applied by dpkg-source. The config is qemu-riscv64_smode_defconfig, Debian's
# LOCALVERSION, plus scripts/guest/uboot-nvme.config. SOURCE_DATE_EPOCH is the changelog's date,
# as in Debian's build, so the same inputs give the same u-boot.bin.
# Prints the u-boot.bin path on its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${HONK_CACHE:-$HOME/.cache/honk}"
# The version of Debian's binary u-boot-qemu on this machine (installed by install-system-deps.sh):
# the mirror serves that source too, also after a point release replaced the one of this writing.
installed="$(dpkg-query -W -f='${Version}' u-boot-qemu 2>/dev/null || true)"
version="${UBOOT_DEB_VERSION:-${installed:-2023.01+dfsg-2+deb12u3}}"
[ $# -eq 0 ] || { echo "build-uboot.sh: takes no arguments (got '$1')" >&2; exit 2; }
fragment="$here/uboot-nvme.config"
dir="$cache/u-boot-$version-nvme"
out="$dir/u-boot.bin"
stamp="$dir/.honk-config-$(cat "$0" "$fragment" | sha256sum | cut -c1-16)"
if [ -f "$out" ] && [ -f "$stamp" ]; then echo "$out"; exit 0; fi

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
need=()
for p in gcc-riscv64-linux-gnu gcc libc6-dev make bison flex bc libssl-dev dpkg-dev xz-utils debian-archive-keyring; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >&2
fi

mkdir -p "$dir"
src="$dir/src"
bash "$here/debian-source.sh" u-boot "$version" "$dir"
cd "$src"
build="$dir/build"
epoch="$(dpkg-parsechangelog -STimestamp)"
make_args=(O="$build" CROSS_COMPILE=riscv64-linux-gnu- -j"$(nproc)" SOURCE_DATE_EPOCH="$epoch")
make "${make_args[@]}" qemu-riscv64_smode_defconfig >&2
# Debian's rules set LOCALVERSION to the Debian revision ("+dfsg-2+deb12u3"); so do we.
sed -i -e "s,^CONFIG_LOCALVERSION=.*,CONFIG_LOCALVERSION=\"+${version#*+}\"," "$build/.config"
./scripts/kconfig/merge_config.sh -m -O "$build" "$build/.config" "$fragment" >&2
make "${make_args[@]}" olddefconfig >&2
# Every option we asked for must have survived dependency resolution.
missing=0
while IFS= read -r line; do
  case "$line" in CONFIG_*=*) grep -qx "$line" "$build/.config" || { echo "config lost: $line" >&2; missing=1; } ;; esac
done < "$fragment"
[ $missing -eq 0 ] || exit 1
make "${make_args[@]}" u-boot.bin > "$dir/build.log" 2>&1 || { tail -60 "$dir/build.log" >&2; exit 1; }
cp "$build/u-boot.bin" "$out.tmp" && mv "$out.tmp" "$out"
rm -f "$dir"/.honk-config-* && touch "$stamp"
echo "$out"
