#!/usr/bin/env bash
# Builds the guest initramfs (newc cpio) with the /init of scripts/guest/init.c, compiled against
# Linux's own nolibc from the kernel tree that build-linux.sh prepared. Prints the cpio path.
#   $HONK_CACHE/initramfs.cpio
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${HONK_CACHE:-$HOME/.cache/honk}"
src="$cache/linux-6.1"
out="$cache/initramfs.cpio"
[ -f "$src/tools/include/nolibc/nolibc.h" ] || bash "$here/build-linux.sh" >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# rv64imac: the init needs no FPU, so it runs whether or not the hart advertises F/D.
riscv64-linux-gnu-gcc -Os -static -nostdlib -ffreestanding -fno-stack-protector -fno-builtin \
  -march=rv64imac_zicsr_zifencei -mabi=lp64 -I "$src/tools/include/nolibc" \
  -include nolibc.h -o "$work/init" "$here/init.c" -lgcc
# gen_init_cpio makes /dev/console without root (the kernel opens it for init's stdio).
gcc -O2 -o "$work/gen_init_cpio" "$src/usr/gen_init_cpio.c"
cat > "$work/list" <<LIST
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0755 0 0
dir /sys 0755 0 0
dir /mnt 0755 0 0
file /init $work/init 0755 0 0
LIST
"$work/gen_init_cpio" "$work/list" > "$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
