#!/usr/bin/env bash
# Test photographs for the operation tests: scikit-image's sample data from
# Debian's python3-skimage package. The package itself cannot be installed
# next to libboost1.81-dev (its scipy dependency pulls Boost 1.74), so its
# .deb is downloaded with apt and only the data folder is unpacked, outside
# the repository. Prints the folder. No-op when the photos are there.
set -euo pipefail
dest=${IMAGEN_TEST_PHOTOS:-${XDG_CACHE_HOME:-$HOME/.cache}/imagen/test-photos}
if [ -f "$dest/astronaut.png" ] && [ -f "$dest/rocket.jpg" ]; then
  echo "$dest"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download python3-skimage >/dev/null 2>&1) || {
  echo "cannot download python3-skimage with apt-get" >&2
  exit 1
}
dpkg-deb -x "$work"/python3-skimage_*.deb "$work/x"
mkdir -p "$dest"
cp "$work"/x/usr/lib/python3/dist-packages/skimage/data/*.{png,jpg} "$dest"/
echo "$dest"
