#!/usr/bin/env bash
# test.sh: the whole test suite, from nothing: bootstrap (packages, build),
# the dev stack (unless ECOM_* already point at one), `make check` with
# integration tests required (a skip is a failure here), then the
# counts.  Exit 0 only if every test passed.
#
# usage: scripts/test.sh [make check arguments, e.g. TESTS=tests/bats/pipes.bats]
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
cd "$ROOT" || exit 1

msg() { printf 'test: %s\n' "$*" >&2; }

scripts/bootstrap.sh || exit 1

if [[ -z "${ECOM_KAFKA_BROKERS:-}" || -z "${ECOM_MONGODB_URI:-}" || -z "${ECOM_POSTGRES_URI:-}" ]]; then
	stack_env=$(scripts/devstack.sh up) || { msg "the dev stack did not come up"; exit 1; }
	eval "$stack_env"
	trap 'scripts/devstack.sh down' EXIT
fi
export ECOM_REQUIRE_STACK=1

# Results of an earlier run must not be counted again.
find . -name '*.trs' -delete 2>/dev/null
make -s -j"$(nproc)" check "$@"
check_status=$?
if ((check_status != 0)); then
	for log in $(grep -l -E ':test-result: (FAIL|ERROR|XPASS)' $(find . -name '*.trs') 2>/dev/null); do
		msg "--- ${log%.trs}.log"
		cat "${log%.trs}.log" >&2
	done
fi

# Every TAP line is one result in a .trs file; a skip counts as a failure.
read -r passed failed skipped < <(find . -name '*.trs' -exec cat {} + 2>/dev/null | awk '
	/^:test-result: (PASS|XFAIL)/ { p++ }
	/^:test-result: (FAIL|XPASS|ERROR)/ { f++ }
	/^:test-result: SKIP/ { s++ }
	END { print p + 0, f + s, s + 0 }')
((skipped > 0)) && msg "$skipped test(s) skipped: with the dev stack up, nothing may skip"
echo "$passed passed, $failed failed"
((check_status == 0 && failed == 0))
