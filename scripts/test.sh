#!/usr/bin/env bash
# test.sh: the whole test suite, from nothing: bootstrap (packages, build),
# the dev stack (unless ECOM_* already point at one), `make check` with
# integration tests required (a skip is a failure here), then the
# counts.  Exit 0 only if every test passed.
#
# --mongo-server KIND runs the tests against another MongoDB-protocol
# server (mongod, memory, h2 or ferretdb; see scripts/devstack.sh), started
# here beside the dev stack's Kafka and PostgreSQL in a state dir of its
# own and stopped afterwards.  .ci/run uses it to run the MongoDB store
# tests and flow cases on FerretDB too.
#
# --secure runs them against a secure stack (devstack.sh up --secure:
# Kafka SASL_SSL only, PostgreSQL hostssl and scram-sha-256,
# mongo-java-server with TLS) started here in a state dir of its own
# (ECOM_DEVSTACK_DIR with -secure appended) and stopped afterwards; ECOM_*
# point at it, whatever stack they named before.  With --mongo-server
# memory, h2 or ferretdb as well, that stack runs that server (FerretDB:
# TLS and SCRAM, the user and password in ECOM_MONGODB_URI), and
# tests/bats/secure.bats's own secure stack runs it too
# (ECOM_SECURE_MONGO_SERVER); mongod is refused (exit 2): the secure stack
# cannot run it.  A test that by its nature
# needs a plain stack skips there with a reason that begins "needs a plain
# stack:" (helpers.bash, skip_on_secure_stack); those skips are counted
# and listed, not failed; any other skip still fails.  .ci/run uses it to
# run the flow cases on the secure stack.
#
# usage: scripts/test.sh [--secure] [--mongo-server KIND] [make check arguments, e.g. TESTS=tests/bats/pipes.bats]
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
cd "$ROOT" || exit 1

msg() { printf 'test: %s\n' "$*" >&2; }

mongo_server=
secure=0
while (($# > 0)); do
	case $1 in
	--mongo-server)
		[[ -n ${2:-} ]] || { msg "--mongo-server needs a kind: mongod, memory, h2 or ferretdb"; exit 2; }
		mongo_server=$2
		shift 2
		;;
	--secure)
		secure=1
		shift
		;;
	*) break ;;
	esac
done
secure_mongo=memory
if ((secure)) && [[ -n $mongo_server ]]; then
	case $mongo_server in
	memory | h2 | ferretdb) secure_mongo=$mongo_server mongo_server= ;;
	mongod)
		msg "--secure runs --mongo-server memory, h2 or ferretdb, not mongod: the secure stack cannot give it TLS"
		exit 2
		;;
	*)
		msg "--mongo-server '$mongo_server' is not one of: mongod, memory, h2, ferretdb"
		exit 2
		;;
	esac
fi

scripts/bootstrap.sh || exit 1

stops=()
stop_stacks() {
	local dir
	for dir in "${stops[@]}"; do ECOM_DEVSTACK_DIR=$dir scripts/devstack.sh down; done
}
trap stop_stacks EXIT
if ((secure)); then
	secure_dir=${ECOM_DEVSTACK_DIR:-/tmp/ecom-devstack-$(id -u)}-secure
	stops+=("$secure_dir")
	stack_env=$(ECOM_DEVSTACK_DIR=$secure_dir ECOM_MONGO_SERVER=$secure_mongo scripts/devstack.sh up --secure) ||
		{ msg "the secure stack did not come up"; exit 1; }
	eval "$stack_env"
	# secure.bats starts a secure stack of its own: the same server
	export ECOM_SECURE_MONGO_SERVER=$secure_mongo
	# ecom's CPU figures find the stack's servers by their pid files here
	export ECOM_DEVSTACK_DIR=$secure_dir
	# That one line only: the others carry the stack's passwords.
	summary=$(sed -n 's/^# secure: //p' <<<"$stack_env")
	[[ -z $summary ]] || msg "secure stack: $summary"
	msg "MongoDB-protocol server: $(sed -n 's/^# mongodb: //p' <<<"$stack_env")"
elif [[ -z "${ECOM_KAFKA_BROKERS:-}" || -z "${ECOM_MONGODB_URI:-}" || -z "${ECOM_POSTGRES_URI:-}" ]]; then
	stack_env=$(scripts/devstack.sh up) || { msg "the dev stack did not come up"; exit 1; }
	eval "$stack_env"
	stops+=("${ECOM_DEVSTACK_DIR:-}")
fi
if [[ -n $mongo_server ]]; then
	side_dir=${ECOM_DEVSTACK_DIR:-/tmp/ecom-devstack-$(id -u)}-$mongo_server
	stack_env=$(ECOM_DEVSTACK_DIR=$side_dir ECOM_MONGO_SERVER=$mongo_server scripts/devstack.sh up mongodb)
	status=$?
	((status == 0)) || { msg "the $mongo_server server did not come up"; exit "$status"; }
	stops+=("$side_dir")
	eval "$stack_env"
	msg "MongoDB-protocol server: ${stack_env#*# mongodb: }"
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

# Every TAP line is one result in a .trs file; a skip counts as a failure,
# except, on the secure stack, one that says it needs a plain stack.
read -r passed failed skipped < <(find . -name '*.trs' -exec cat {} + 2>/dev/null | awk '
	/^:test-result: (PASS|XFAIL)/ { p++ }
	/^:test-result: (FAIL|XPASS|ERROR)/ { f++ }
	/^:test-result: SKIP/ { s++ }
	END { print p + 0, f + s, s + 0 }')
plain_only=()
if ((secure && skipped > 0)); then
	# the driver's line in the log of each test run now (a .trs file):
	# "SKIP: FILE N NAME # SKIP REASON"
	mapfile -t plain_only < <(find . -name '*.trs' | while read -r trs; do
		grep -h -E '^SKIP: .* # SKIP needs a plain stack: ' "${trs%.trs}.log"
	done 2>/dev/null | sort)
	failed=$((failed - ${#plain_only[@]}))
	skipped=$((skipped - ${#plain_only[@]}))
	msg "${#plain_only[@]} test(s) skipped on the secure stack because they need a plain one:"
	for line in "${plain_only[@]}"; do msg "  ${line#SKIP: }"; done
fi
((skipped > 0)) && msg "$skipped test(s) skipped: with the dev stack up, nothing may skip"
echo "$passed passed, $failed failed"
((check_status == 0 && failed == 0))
