#!/usr/bin/env bash
# Builds the CPU benchmark guest (packages/rv64/bench/guest/bench.c) as a Linux user program
# (-DLINUX_USER: a static glibc binary, U-mode with the MMU on) with ROUNDS rounds of work
# (default 10000), packed alone in a newc cpio as /cpu-user, to boot with `rdinit=/cpu-user`.
# It prints "start", works, prints "done", its checksum and instret, and powers off.
# Prints the cpio path:
#   $HONK_CACHE/cpu-user-<ROUNDS>.cpio
# Needs gen_init_cpio from the kernel tree build-linux.sh prepared, and glibc for riscv64
# (Debian: libc6-dev-riscv64-cross, installed here when missing).
set -euo pipefail
rounds="${1:-10000}"
case "$rounds" in ''|*[!0-9]*) echo "build-cpu-user.sh: ROUNDS must be a number, got '$rounds'" >&2; exit 2;; esac
here="$(cd "$(dirname "$0")" && pwd)"
bench="$here/../../packages/rv64/bench/guest/bench.c"
cache="${HONK_CACHE:-$HOME/.cache/honk}"
src="$cache/linux-6.1"
out="$cache/cpu-user-$rounds.cpio"
stamp="$out.$( (cat "$bench" "$0"; echo "$rounds") | sha256sum | cut -c1-16)"
if [ -f "$out" ] && [ -f "$stamp" ]; then echo "$out"; exit 0; fi
[ -f "$src/usr/gen_init_cpio.c" ] || bash "$here/build-linux.sh" >/dev/null
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
need=()
for p in gcc-riscv64-linux-gnu libc6-dev-riscv64-cross; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >&2
fi
mkdir -p "$cache"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
riscv64-linux-gnu-gcc -O2 -static -march=rv64gc -mabi=lp64d -Wall -Werror -DLINUX_USER -DROUNDS="$rounds" \
  -fno-builtin-putc -fno-builtin-puts \
  -o "$work/cpu-user" "$bench"
gcc -O2 -o "$work/gen_init_cpio" "$src/usr/gen_init_cpio.c"
cat > "$work/list" <<LIST
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
file /cpu-user $work/cpu-user 0755 0 0
LIST
"$work/gen_init_cpio" "$work/list" > "$out.tmp"
mv "$out.tmp" "$out"
rm -f "$out".????????????????* && touch "$stamp"
echo "$out"
