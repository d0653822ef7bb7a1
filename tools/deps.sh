#!/bin/sh
# tools/deps.sh - installs the Debian packages cinefilter builds, tests and
# runs with, if any are missing.  Run by `make deps` (README's set-up
# commands) and by .ci/run.  Needs root, or sudo.
set -eu
# libmicrohttpd-dev: serve's HTTP; curl, procps, chromium: its tests (the
# web page in headless Chromium); wrk: its load benchmark (make bench-serve);
# openssh-server, openssh-client, rsync: tune's trials on a second host (an
# sshd on 127.0.0.1 that the tests start); python3-numpy: the Python
# reader (python/cinefilter.py) and the independent references of ease
# and rp3b (tests/tools/itemnn_check.py); help2man: the man pages, made from --help.
PKGS="make gcc clang pkg-config zlib1g-dev check libopenblas-dev libjansson-dev
      parallel python3 python3-numpy help2man time bc gnuplot-nox libmicrohttpd-dev curl procps chromium wrk
      openssh-server openssh-client rsync"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
