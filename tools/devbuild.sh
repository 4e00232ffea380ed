#!/usr/bin/env bash
# Developer build in a private copy, so people building at once never share
# build files: copies the working tree to /tmp/fcdev-NAME, builds the
# extension in place there and prints that directory.
#   usage: tools/devbuild.sh NAME   then: cd /tmp/fcdev-NAME && python -m pytest tests
set -euo pipefail
name=${1:?usage: devbuild.sh NAME}
src=$(cd "$(dirname "$0")/.." && pwd)
dest=/tmp/fcdev-$name
# keep the copy's build/ (object cache) but replace the sources
mkdir -p "$dest"
find "$dest" -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +
tar -C "$src" --exclude=./.git --exclude=./build --exclude='*.so' --exclude=./fastconv/_core.c \
    --exclude=.hypothesis --exclude=__pycache__ -cf - . | tar -C "$dest" -xf -
cd "$dest"
python3 setup.py -q build_ext --inplace -j 2 >"$dest/build.log" 2>&1 || { tail -40 "$dest/build.log"; exit 1; }
echo "$dest"
