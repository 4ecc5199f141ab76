#!/usr/bin/env bash
# bootstrap.sh: everything a fresh Debian 12 machine needs to build, test
# and run ecom, done once: Debian packages (build, tests, dev stack,
# packaging), then autoreconf, configure and make in the source tree.
# Each step runs only when needed, so a second run costs a few seconds.
#
# usage: scripts/bootstrap.sh [--no-build]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT

msg() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { msg "$*"; exit 1; }

BUILD_PACKAGES=(build-essential autoconf automake pkg-config
	librdkafka-dev libmongoc-dev libbson-dev libyaml-dev libpq-dev libssl-dev uuid-dev libcmocka-dev)
TEST_PACKAGES=(bats bats-assert bats-support jq mandoc groff-base gnuplot-nox librsvg2-bin file python3-yaml)
PACKAGE_PACKAGES=(debhelper dh-autoreconf lintian man-db fakeroot)

build=1
case "${1:-}" in
"") ;;
--no-build) build=0 ;;
-h | --help)
	echo "usage: scripts/bootstrap.sh [--no-build]"
	exit 0
	;;
*)
	msg "unknown option '$1'"
	echo "try 'scripts/bootstrap.sh --help'" >&2
	exit 2
	;;
esac

install_missing_packages() {
	local wanted=("$@") missing=() pkg
	for pkg in "${wanted[@]}"; do
		if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$pkg")
		fi
	done
	((${#missing[@]} == 0)) && return 0
	if [[ $(id -u) -ne 0 ]]; then
		die "missing Debian packages: ${missing[*]}; install them (as root: apt-get install ${missing[*]}) and run again"
	fi
	msg "installing ${missing[*]}"
	# The package lists of a fresh machine are empty until the first update.
	DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

mapfile -t DEVSTACK_PACKAGES < <("$ROOT/scripts/devstack.sh" packages)
install_missing_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${PACKAGE_PACKAGES[@]}" \
	"${DEVSTACK_PACKAGES[@]}"

((build)) || exit 0
cd "$ROOT"
# Build output is progress, not data: callers such as run-flow.sh keep
# their stdout for the report.
exec >&2
if [[ ! -x configure || configure.ac -nt configure || Makefile.am -nt Makefile.in ]]; then
	msg "autoreconf"
	autoreconf -fi >/dev/null
fi
if [[ ! -f Makefile || configure -nt config.status ]]; then
	msg "configure"
	./configure -q
fi
make -s -j"$(nproc)"
