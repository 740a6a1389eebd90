#!/usr/bin/env bash
# Builds the guest Linux 6.1 `Image` for the virt machine from Debian's linux-source-6.1 with
# Debian's gcc-riscv64-linux-gnu, into a cache outside the repo (built once per machine):
#   $HONK_CACHE (default ~/.cache/honk)/linux-6.1/arch/riscv/boot/Image
# The config is allnoconfig plus exactly what the virt machine needs (scripts/guest/linux.config):
# SBI console + ns16550, PLIC, CLINT timer, virtio-mmio blk/net/console/rng/9p, initramfs.
# `--variant display` builds the second guest kernel, in its own tree ($cache/linux-6.1-display),
# so the main guest's tree and its cache key (the hash of linux.config alone) are unchanged: the
# display guest (issue #16: virtio-gpu + fbcon + virtio-input, scripts/guest/linux-display.config)
# and, in the same kernel, Linux's own KVM on the H extension (issue #17,
# scripts/guest/linux-kvm.config). One kernel for both: KVM changes core structures, so a kernel
# of its own would be a third full build (minutes on a bare CI machine). `--variant kvm` names
# the same kernel.
# Prints the Image path on its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${HONK_CACHE:-$HOME/.cache/honk}"
variant=""
case "${1:-}" in
  "") ;;
  --variant) variant="${2:?--variant needs a name (display, kvm)}" ;;
  --variant=*) variant="${1#--variant=}" ;;
  *) echo "build-linux.sh: unknown argument '$1' (expected --variant display|kvm)" >&2; exit 2 ;;
esac
fragments=("$here/linux.config")
src="$cache/linux-6.1"
case "$variant" in
  "") ;;
  display|kvm) fragments+=("$here/linux-display.config" "$here/linux-kvm.config"); src="$cache/linux-6.1-display"; variant=display ;;
  *) echo "build-linux.sh: unknown variant '$variant' (expected display or kvm)" >&2; exit 2 ;;
esac
image="$src/arch/riscv/boot/Image"
stamp="$src/.honk-config-$(cat "${fragments[@]}" | sha256sum | cut -c1-16)"
if [ -f "$image" ] && [ -f "$stamp" ]; then echo "$image"; exit 0; fi

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
need=()
for p in linux-source-6.1 gcc-riscv64-linux-gnu make bc flex bison xz-utils cpio; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >&2
fi

mkdir -p "$cache"
if [ ! -f "$src/Makefile" ]; then
  tarball="$(ls /usr/src/linux-source-6.1.tar.xz)"
  echo "extracting $tarball" >&2
  rm -rf "$src.tmp" && mkdir -p "$src.tmp"
  tar -xf "$tarball" -C "$src.tmp" --strip-components=1
  mv "$src.tmp" "$src"
fi
cd "$src"
make_args=(ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu- -j"$(nproc)")
make "${make_args[@]}" allnoconfig >&2
# Apply the fragment, then let Kconfig resolve dependencies.
./scripts/kconfig/merge_config.sh -m .config "${fragments[@]}" >&2
make "${make_args[@]}" olddefconfig >&2
# Every option we asked for must have survived dependency resolution.
missing=0
while IFS= read -r line; do
  case "$line" in CONFIG_*=*) grep -qx "$line" .config || { echo "config lost: $line" >&2; missing=1; } ;; esac
done < <(cat "${fragments[@]}")
[ $missing -eq 0 ] || exit 1
# The build log goes to a file (tens of thousands of lines); its tail is shown on failure.
make "${make_args[@]}" Image > "$cache/linux-build${variant:+-$variant}.log" 2>&1 || { tail -60 "$cache/linux-build${variant:+-$variant}.log" >&2; exit 1; }
rm -f .honk-config-* && touch "$stamp"
echo "$image"
