#!/usr/bin/env bash
# Builds the WebAssembly test and example programs of @honk/proc (scripts/guest/wasm/*.c) with
# Debian's clang + wasi-libc, into $HONK_CACHE/wasm/<name>.wasm (default ~/.cache/honk/wasm),
# reproducibly: fixed flags, no debug info, and a stamp of the sources' and this script's hash
# (a rebuild happens only when one changes). Prints the output directory.
#   hello.wasm loop.wasm      the honk examples (as the Go honk shipped)
#   textool.wasm             a small text tool working on files in its preopen
#   fileio, args_env, clockpoll  the conformance programs (run under ours and node:wasi)
#   iobench, syscalls        the benchmark programs
#   httpd                    a file server on a socket the host hands in (sock_accept, recv, send)
# Needs (Debian): clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 (installed here when missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${HONK_CACHE:-$HOME/.cache/honk}"
out="$cache/wasm"
hash="$(cat "$here"/wasm/*.c "$0" | sha256sum | cut -c1-16)"
stamp="$out/.stamp-$hash"
if [ -f "$stamp" ]; then echo "$out"; exit 0; fi
PKGS=(clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32)
need=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >&2
fi
mkdir -p "$out"
for src in "$here"/wasm/*.c; do
  name="$(basename "$src" .c)"
  clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Werror -Wl,--strip-all \
    -ffile-prefix-map="$here"=. -o "$out/$name.wasm.tmp" "$src"
  mv "$out/$name.wasm.tmp" "$out/$name.wasm"
done
rm -f "$out"/.stamp-* && touch "$stamp"
echo "$out"
