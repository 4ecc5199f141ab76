#!/usr/bin/env bash
# sanitize.sh: the sanitizer pass.  Two builds of their own beside the
# source tree (configured in place, so no VPATH build from it): a copy
# made by `make distdir`, built in asan/ with --enable-sanitizers=
# address,undefined and in tsan/ with --enable-sanitizers=thread.
#  - asan/: every unit test, then a short flow on the dev stack
#    (ecom-bench -n 50 on each store, ecom-produce --generate 5 --stdout
#    | ecom-persist), with leaks detected and the first report fatal;
#  - tsan/: the tests that run stages on librdkafka's mock cluster.
# Each check is one TAP line; the last line counts them, "N passed, N
# failed", and the exit status is 0 only if all passed.  The flow needs
# the dev stack's ECOM_* variables (scripts/devstack.sh up); --no-flow
# leaves it out.  Builds are kept in ECOM_SANITIZE_DIR (default
# build-sanitize/ in the source tree), so a second run rebuilds only
# what changed.
#
# usage: scripts/sanitize.sh [--no-flow]
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
WORK=${ECOM_SANITIZE_DIR:-$ROOT/build-sanitize}
readonly WORK
# What each build is configured with; replaced only to show that
# tests/unit/test-sanitizer fails a build that is not instrumented.
ASAN_CONFIGURE=${ECOM_SANITIZE_ASAN_CONFIGURE---enable-sanitizers=address,undefined}
TSAN_CONFIGURE=${ECOM_SANITIZE_TSAN_CONFIGURE---enable-sanitizers=thread}

msg() { printf 'sanitize: %s\n' "$*" >&2; }

flow=1
case "${1:-}" in
"") ;;
--no-flow) flow=0 ;;
-h | --help)
	echo "usage: scripts/sanitize.sh [--no-flow]"
	exit 0
	;;
*)
	msg "unknown option '$1'"
	echo "try 'scripts/sanitize.sh --help'" >&2
	exit 2
	;;
esac

passed=0
failed=0
n=0
ok() {
	n=$((n + 1)) passed=$((passed + 1))
	echo "ok $n - $*"
}
not_ok() {
	n=$((n + 1)) failed=$((failed + 1))
	echo "not ok $n - $*"
}
finish() {
	echo "1..$n"
	echo "$passed passed, $failed failed"
	((failed == 0))
	exit
}

# halt_on_error: the first report ends the process, so no test passes
# past one.  allocator_may_return_null: ecom's allocation policy is tested
# by asking malloc for SIZE_MAX (test-alloc); AddressSanitizer would
# otherwise abort there instead of returning NULL as malloc does.
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:allocator_may_return_null=1
export LSAN_OPTIONS=suppressions=$ROOT/scripts/sanitize/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS="halt_on_error=1:suppressions=$ROOT/scripts/sanitize/tsan.supp"
export MONGOC_DISABLE_SHM=1 # Makefile.am says why

# A copy of the distributed sources: the source tree is configured in
# place, and Automake refuses a VPATH build from such a tree.  distdir
# keeps the files' times, so the builds below redo only what changed.
started=$(date +%s)
[[ -f $ROOT/Makefile ]] || "$ROOT/scripts/bootstrap.sh" || exit 1
mkdir -p "$WORK/logs" || exit 1
make -s -C "$ROOT" distdir distdir="$WORK/src" >"$WORK/logs/distdir.log" 2>&1 || {
	cat "$WORK/logs/distdir.log" >&2
	msg "make distdir failed"
	exit 1
}

# build NAME CONFIGURE-ARG [TARGET...]: configure (once) and make in $WORK/NAME.
build() {
	local name=$1 arg=$2 log="$WORK/logs/$1-build.log"
	shift 2
	mkdir -p "$WORK/$name"
	(
		cd "$WORK/$name" || exit 1
		if [[ ! -f config.status || ../src/configure -nt config.status ||
			$(cat configure-arg 2>/dev/null) != "$arg" ]]; then
			# shellcheck disable=SC2086 # the argument may be several words, or none
			../src/configure -q $arg && echo "$arg" >configure-arg || exit 1
		fi
		make -s -j"$(nproc)" "$@"
	) >"$log" 2>&1 && return 0
	tail -30 "$log" >&2
	return 1
}

# Tests of a build's make file, by variable: UNIT_TESTS for one.
make_var() {
	make -s --no-print-directory -C "$WORK/$1" -f Makefile -f - print-var <<<"print-var: ; @echo \$($2)"
}

# every_object_calls BUILD SYMBOL FILE...: each object file (or archive
# member) refers to the runtime's SYMBOL, so the code was instrumented,
# not just linked with the runtime.
every_object_calls() {
	local build=$1 symbol=$2 file bare
	shift 2
	for file in "$@"; do
		# nm prints "member.o:" before each archive member's symbols.
		if bare=$(cd "$WORK/$build" && nm "$file" | awk -v s="$symbol" -v f="$file" '
			BEGIN { cur = f; seen[cur] = 1 }
			/^[^ ]*:$/ { cur = substr($0, 1, length($0) - 1); delete seen[f]; seen[cur] = 1; next }
			NF && $NF == s { has[cur] = 1 }
			END { for (o in seen) if (!has[o]) print o }') && [[ -z $bare ]]; then
			ok "$build: every object of $file calls $symbol"
		else
			bare=${bare:-(cannot read it)}
			not_ok "$build: objects of $file without $symbol: ${bare//$'\n'/ }"
		fi
	done
}

# run_tap BUILD EXPECT TEST...: each test program's TAP lines counted;
# a program that exits non-zero with no failure of its own counts one.
run_tap() {
	local build=$1 expect=$2 test log line status bad
	shift 2
	for test in "$@"; do
		log="$WORK/logs/$build-${test##*/}.log"
		(cd "$WORK/$build" && ECOM_EXPECT_SANITIZERS=$expect CMOCKA_MESSAGE_OUTPUT=TAP \
			ECOM_BUILDDIR="$WORK/$build" ECOM_SRCDIR="$WORK/src" PATH="$WORK/$build:$PATH" \
			"./$test") >"$log" 2>&1
		status=$?
		bad=0
		while IFS= read -r line; do
			case $line in
			"ok "*) ok "$build: ${test##*/}: ${line#ok }" ;;
			"not ok "*) not_ok "$build: ${test##*/}: ${line#not ok }"; bad=1 ;;
			esac
		done < <(grep -E '^(not )?ok ' "$log")
		if ((status != 0)); then
			((bad)) || not_ok "$build: ${test##*/} exited $status"
			msg "--- $log"
			tail -60 "$log" >&2
		fi
	done
}

# flow_step NAME EXPECTED-STDOUT-REGEX COMMAND...: runs the command line
# (a shell string) with the asan build first in PATH; passes on exit 0,
# stdout matching, and no sanitizer report on stderr.
flow_step() {
	local name=$1 want=$2 cmd=$3 out="$WORK/logs/flow-$1.out" err="$WORK/logs/flow-$1.err" status
	PATH="$WORK/asan:$PATH" timeout 300 bash -c "set -o pipefail; $cmd" >"$out" 2>"$err"
	status=$?
	if ((status == 0)) && grep -qE "$want" "$out" &&
		! grep -qE 'Sanitizer|runtime error' "$err"; then
		ok "asan: flow: $name"
		return
	fi
	not_ok "asan: flow: $name (exit $status)"
	msg "--- $cmd"
	tail -60 "$out" "$err" >&2
}

# ---- AddressSanitizer and UndefinedBehaviorSanitizer --------------------
asan_started=$(date +%s)
# shellcheck disable=SC2046 # a list of words
if ! build asan "$ASAN_CONFIGURE" all || ! build asan "$ASAN_CONFIGURE" $(make_var asan UNIT_TESTS); then
	not_ok "asan: build ($ASAN_CONFIGURE)"
	finish
fi
ok "asan: build ($ASAN_CONFIGURE)"
every_object_calls asan __asan_init src/lib/libecomutil.a src/ecom-bench.o src/ecom-persist.o src/ecom-produce.o
# shellcheck disable=SC2046 # a list of words
run_tap asan address,undefined $(make_var asan UNIT_TESTS)
if ((flow)); then
	if [[ -z ${ECOM_KAFKA_BROKERS:-} || -z ${ECOM_MONGODB_URI:-} || -z ${ECOM_POSTGRES_URI:-} ]]; then
		not_ok "asan: flow: no dev stack (ECOM_* unset): run scripts/devstack.sh up, or --no-flow"
	else
		# Topics, group and database of this run alone (as tests/bats/helpers.bash does).
		id="san$$x$RANDOM"
		export ECOM_TOPIC_PREFIX="$id-" ECOM_DATABASE=$id ECOM_GROUP=$id ECOM_TIMEOUT_MS=${ECOM_TIMEOUT_MS:-15000}
		for store in mongodb postgresql; do
			flow_step "bench-$store" '"orders":50,"complete":true' \
				"ECOM_STORE=$store ecom-bench -n 50 --floor-samples 5 --no-progress"
		done
		flow_step produce-persist '^\{"read":5,"written":5,"duplicates":0,"rejected":0\}$' \
			"ECOM_STORE=mongodb ecom-produce --generate 5 --stdout | ECOM_STORE=mongodb ecom-persist"
	fi
fi
msg "AddressSanitizer and UndefinedBehaviorSanitizer: $(($(date +%s) - asan_started)) s"

# ---- ThreadSanitizer -----------------------------------------------------
# The stage loop's threads and librdkafka's on the mock cluster; nothing
# else here runs threads of ecom's own.
tsan_started=$(date +%s)
tsan_tests=(tests/unit/test-sanitizer tests/unit/test-stage tests/unit/test-open-loop tests/unit/test-kafka-mock)
if ! build tsan "$TSAN_CONFIGURE" "${tsan_tests[@]}"; then
	not_ok "tsan: build ($TSAN_CONFIGURE)"
	finish
fi
ok "tsan: build ($TSAN_CONFIGURE)"
every_object_calls tsan __tsan_init src/lib/libecomutil.a
run_tap tsan thread "${tsan_tests[@]}"
msg "ThreadSanitizer: $(($(date +%s) - tsan_started)) s"

msg "finished in $(($(date +%s) - started)) s"
finish
