#!/usr/bin/env bash
# Installs the Debian packages the system tests and benchmarks use (idempotent; needs root).
#   qemu-system-misc     qemu-system-riscv64: the reference hart and the speed baseline
#   gcc-riscv64-linux-gnu  cross compiler for hart test programs and the guest Linux
#   libc6-dev-riscv64-cross  glibc for the static user-space check program (usercheck.c)
#   e2fsprogs            mkfs.ext4, for the foreign-disk tests (a real ext4 image is never formatted)
#   opensbi, u-boot-qemu   real firmware and an S-mode guest for the machine
#   diod                 a real 9P2000.L server
#   cryptsetup-bin       veritysetup, to check the image Merkle tree
#   device-tree-compiler dtc, to check the FDT writer byte for byte
#   clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32  C → WebAssembly (WASI) programs, run
#                        under ours and node:wasi (scripts/guest/build-wasm-examples.sh)
#   python3              the WASI test-suite adapter's test
#   curl                 a real HTTP client for honk's server; tcpdump reads our pcap files back
#   chromium             a real browser for the web display (driven by playwright-core)
#   linux-source-6.1 make bc flex bison xz-utils cpio gcc libc6-dev dpkg-dev bzip2
#   debian-archive-keyring libssl-dev   what scripts/guest/build-*.sh need to build the guests
#                        from Debian's source (here, so their own apt step finds nothing to do:
#                        .ci/run builds them in the background, beside other work)
set -euo pipefail
PKGS=(qemu-system-misc gcc-riscv64-linux-gnu libc6-dev-riscv64-cross e2fsprogs binutils-riscv64-linux-gnu opensbi u-boot-qemu diod cryptsetup-bin device-tree-compiler clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 python3 curl tcpdump chromium linux-source-6.1 make bc flex bison xz-utils cpio gcc libc6-dev dpkg-dev bzip2 debian-archive-keyring libssl-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then echo "all present: ${PKGS[*]}"; exit 0; fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
