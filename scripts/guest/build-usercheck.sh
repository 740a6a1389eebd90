#!/usr/bin/env bash
# Builds the user-space check of issue #12 case 13 (scripts/guest/usercheck.c): a static glibc
# program that reads the clock (vDSO, rdtime, rdcycle, rdinstret), does misaligned loads and
# stores of every width and a little floating point, and prints one line per check. It is packed
# alone in a newc cpio, to boot as /init with `rdinit=/usercheck`. Prints the cpio path.
#   $HONK_CACHE/usercheck.cpio
# Needs gen_init_cpio from the kernel tree build-linux.sh prepared, and glibc for riscv64
# (Debian: libc6-dev-riscv64-cross, installed here when missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${HONK_CACHE:-$HOME/.cache/honk}"
src="$cache/linux-6.1"
out="$cache/usercheck.cpio"
stamp="$out.$(cat "$here/usercheck.c" "$0" | sha256sum | cut -c1-16)"
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
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
riscv64-linux-gnu-gcc -O2 -static -march=rv64gc -mabi=lp64d -Wall -Wextra -Werror \
  -o "$work/usercheck" "$here/usercheck.c" -lm
gcc -O2 -o "$work/gen_init_cpio" "$src/usr/gen_init_cpio.c"
cat > "$work/list" <<LIST
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
file /usercheck $work/usercheck 0755 0 0
LIST
"$work/gen_init_cpio" "$work/list" > "$out.tmp"
mv "$out.tmp" "$out"
rm -f "$out".????????????????* && touch "$stamp"
echo "$out"
