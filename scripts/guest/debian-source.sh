#!/usr/bin/env bash
# debian-source.sh PACKAGE VERSION DIR: Debian's own source package PACKAGE=VERSION, unpacked with
# Debian's patches into DIR/src (nothing is done when DIR/src/Makefile exists). Fetched with
# apt-get from deb.debian.org through a private sources list (the system's apt state is not
# touched); apt checks the files against the signed Sources index, and dpkg-source checks the
# tarballs against the .dsc and applies debian/patches. Used by build-uboot.sh and build-busybox.sh.
set -euo pipefail
package="${1:?package}"
version="${2:?version}"
dir="${3:?dir}"
src="$dir/src"
[ -f "$src/Makefile" ] && exit 0
mkdir -p "$dir"
apt_dir="$dir/apt"
rm -rf "$apt_dir" "$dir/dl" && mkdir -p "$apt_dir/sources" "$apt_dir/lists/partial" "$dir/dl"
cat > "$apt_dir/sources/debian-src.sources" <<SOURCES
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
apt_opts=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$apt_dir/sources"
  -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
  -o APT::Sandbox::User=root)
echo "fetching Debian's $package $version source package" >&2
apt-get "${apt_opts[@]}" -qq update >&2
(cd "$dir/dl" && apt-get "${apt_opts[@]}" -qq --download-only source "$package=$version" >&2) || {
  echo "debian-source.sh: Debian's mirror has no $package $version source ('apt-cache showsrc $package' lists what it has)" >&2
  exit 1
}
# dpkg-source links the tarballs beside the tree it makes, so the tree is made in dl/ and moved.
rm -rf "$dir/dl/src.tmp"
(cd "$dir/dl" && dpkg-source -x "${package}_${version#*:}.dsc" src.tmp >&2)
mv "$dir/dl/src.tmp" "$src"
