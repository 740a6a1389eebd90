#!/usr/bin/env bash
# Builds the guest initramfs (newc cpio) with the /init of scripts/guest/init.c, compiled against
# Linux's own nolibc from the kernel tree that build-linux.sh prepared, and the display guest's
# initramfs: the same, plus a static BusyBox (scripts/guest/build-busybox.sh) as /bin/busybox
# with a symlink per applet (/bin/sh among them) for the shell on fbcon (init's honk.shell=1).
# The other guests' initramfs stays without it (no extra bytes to load on every boot).
# And the KVM guest's (issue #17): the same plus /kvmcheck (scripts/guest/kvmcheck.c, run as
# rdinit=/kvmcheck), which runs a tiny guest through /dev/kvm. And the nested-Linux benchmark's
# (issue #17): initramfs-kvmlinux.cpio, the same plus /kvmlinux (scripts/guest/kvmlinux.c, run as
# rdinit=/kvmlinux), /guest/Image (the main guest kernel) and /guest/initramfs.cpio, the guest's
# own: /init is kvmlinux again, in its guest role (the marker line, then power-off), also written
# alone as initramfs-kvmlinux-guest.cpio for the same guest booted bare.
# Prints the cpio paths, one a line:
#   $HONK_CACHE/initramfs.cpio
#   $HONK_CACHE/initramfs-display.cpio
#   $HONK_CACHE/initramfs-kvm.cpio
#   $HONK_CACHE/initramfs-kvmlinux.cpio
#   $HONK_CACHE/initramfs-kvmlinux-guest.cpio
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${HONK_CACHE:-$HOME/.cache/honk}"
src="$cache/linux-6.1"
out="$cache/initramfs.cpio"
out_display="$cache/initramfs-display.cpio"
out_kvm="$cache/initramfs-kvm.cpio"
out_kvmlinux="$cache/initramfs-kvmlinux.cpio"
out_kvmlinux_guest="$cache/initramfs-kvmlinux-guest.cpio"
[ -f "$src/tools/include/nolibc/nolibc.h" ] && [ -f "$src/arch/riscv/boot/Image" ] || bash "$here/build-linux.sh" >/dev/null
busybox="$(bash "$here/build-busybox.sh" | tail -1)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# rv64imac: the init needs no FPU, so it runs whether or not the hart advertises F/D.
riscv64-linux-gnu-gcc -Os -static -nostdlib -ffreestanding -fno-stack-protector -fno-builtin \
  -march=rv64imac_zicsr_zifencei -mabi=lp64 -I "$src/tools/include/nolibc" \
  -include nolibc.h -o "$work/init" "$here/init.c" -lgcc
# kvmcheck: the same way; its KVM uapi (linux/kvm.h, asm/kvm.h) is the 6.1 one of the cross
# toolchain's linux-libc-dev-riscv64-cross.
riscv64-linux-gnu-gcc -Os -static -nostdlib -ffreestanding -fno-stack-protector -fno-builtin \
  -march=rv64imac_zicsr_zifencei -mabi=lp64 -I "$src/tools/include/nolibc" \
  -include nolibc.h -o "$work/kvmcheck" "$here/kvmcheck.c" -lgcc
riscv64-linux-gnu-gcc -Os -static -nostdlib -ffreestanding -fno-stack-protector -fno-builtin \
  -march=rv64imac_zicsr_zifencei -mabi=lp64 -I "$src/tools/include/nolibc" \
  -include nolibc.h -o "$work/kvmlinux" "$here/kvmlinux.c" -lgcc
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
cp "$work/list" "$work/list-kvm"
echo "file /kvmcheck $work/kvmcheck 0755 0 0" >> "$work/list-kvm"
"$work/gen_init_cpio" "$work/list-kvm" > "$out_kvm.tmp"
mv "$out_kvm.tmp" "$out_kvm"
# kvmlinux: the guest's initramfs (kvmlinux as /init: its guest role), then the host's, which
# carries it and the main guest kernel under /guest.
cat > "$work/list-kvmlinux-guest" <<LIST
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
file /init $work/kvmlinux 0755 0 0
LIST
"$work/gen_init_cpio" "$work/list-kvmlinux-guest" > "$out_kvmlinux_guest.tmp"
mv "$out_kvmlinux_guest.tmp" "$out_kvmlinux_guest"
cp "$work/list" "$work/list-kvmlinux"
cat >> "$work/list-kvmlinux" <<LIST
file /kvmlinux $work/kvmlinux 0755 0 0
dir /guest 0755 0 0
file /guest/Image $src/arch/riscv/boot/Image 0644 0 0
file /guest/initramfs.cpio $out_kvmlinux_guest 0644 0 0
LIST
"$work/gen_init_cpio" "$work/list-kvmlinux" > "$out_kvmlinux.tmp"
mv "$out_kvmlinux.tmp" "$out_kvmlinux"
# The display guest's: BusyBox and its applets' links (busybox.links: /bin/ls, /usr/bin/clear, ...).
cp "$work/list" "$work/list-display"
cat >> "$work/list-display" <<LIST
dir /bin 0755 0 0
dir /sbin 0755 0 0
dir /usr 0755 0 0
dir /usr/bin 0755 0 0
dir /usr/sbin 0755 0 0
dir /root 0700 0 0
dir /tmp 01777 0 0
file /bin/busybox $busybox 0755 0 0
LIST
while IFS= read -r applet; do
  [ "$applet" = /bin/busybox ] || echo "slink $applet /bin/busybox 0777 0 0"
done < "$(dirname "$busybox")/busybox.links" >> "$work/list-display"
"$work/gen_init_cpio" "$work/list-display" > "$out_display.tmp"
mv "$out_display.tmp" "$out_display"
echo "$out"
echo "$out_display"
echo "$out_kvm"
echo "$out_kvmlinux"
echo "$out_kvmlinux_guest"
