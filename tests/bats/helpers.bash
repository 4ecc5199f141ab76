# Shared by the bats tests: assertions, the dev stack requirement, and
# names of topics and databases that belong to one test only.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
bats_require_minimum_version 1.5.0

ECOM_SRCDIR=${ECOM_SRCDIR:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
ECOM_BUILDDIR=${ECOM_BUILDDIR:-$ECOM_SRCDIR}
PATH="$ECOM_BUILDDIR:$PATH"
export ECOM_SRCDIR ECOM_BUILDDIR PATH
# No mongo-c-driver counters in /dev/shm (Makefile.am says why), also when
# a file is run with bats directly.
export MONGOC_DISABLE_SHM=1

# Integration tests need the dev stack.  Without it they skip, except
# under README's test command (ECOM_REQUIRE_STACK=1), where that fails.
require_stack() {
	local store=${1:-}
	if [[ -n "${ECOM_KAFKA_BROKERS:-}" && -n "${ECOM_MONGODB_URI:-}" && -n "${ECOM_POSTGRES_URI:-}" ]]; then
		isolate_test "$store"
		kcat_for_stack
		return 0
	fi
	if [[ "${ECOM_REQUIRE_STACK:-0}" == 1 ]]; then
		fail "integration test without the dev stack: run scripts/devstack.sh up (ECOM_* unset)"
	fi
	skip "no dev stack (ECOM_KAFKA_BROKERS, ECOM_MONGODB_URI, ECOM_POSTGRES_URI unset)"
}

# Topics, consumer groups and the database or schema of this test alone,
# so tests can run in parallel and leave each other alone.
isolate_test() {
	local id
	id="t$$x${BATS_TEST_NUMBER}x${RANDOM}"
	export ECOM_TOPIC_PREFIX="${id}-"
	export ECOM_DATABASE="$id"
	export ECOM_GROUP="$id"
	export ECOM_STORE="${1:-${ECOM_STORE:-mongodb}}"
	export ECOM_TIMEOUT_MS=${ECOM_TIMEOUT_MS:-15000}
}

# The kafka: settings of ECOM_CONFIG as key=value lines (none without
# it): the librdkafka properties every ecom command gets from it.
kafka_settings() {
	[[ -n ${ECOM_CONFIG:-} ]] || return 0
	python3 - "$ECOM_CONFIG" <<'PY'
import sys, yaml
with open(sys.argv[1]) as f:
    doc = yaml.safe_load(f) or {}
for key, value in (doc.get("kafka") or {}).items():
    if isinstance(value, bool):
        value = "true" if value else "false"
    print(f"{key}={value}")
PY
}

# kcat as ecom reaches the stack's Kafka: its brokers and, as a kcat -F
# file, kafka_settings (a secure stack's SASL_SSL login and CA; nothing
# on the plain stack).  Tests call "${KCAT[@]}" (also after timeout),
# never kcat -b alone, so that they run on both stacks.  Set by
# require_stack; the file is 0600 (it holds the password).
KCAT=()
kcat_for_stack() {
	local conf=$BATS_TEST_TMPDIR/kcat.conf
	KCAT=(kcat -b "$ECOM_KAFKA_BROKERS")
	(umask 077 && kafka_settings >"$conf") ||
		fail "cannot read the kafka: settings of ECOM_CONFIG=${ECOM_CONFIG:-}"
	if [[ -s $conf ]]; then
		# -q first: no "% Reading configuration from file" in the output
		KCAT+=(-q -F "$conf")
	fi
}

# The stack's Kafka speaks TLS, as a secure stack's does (devstack.sh up
# --secure, scripts/test.sh --secure).
stack_is_secure() {
	kafka_settings | grep -qiE '^security\.protocol=(SSL|SASL_SSL)$'
}

# A test that by its nature needs a plain stack skips on a secure one,
# saying why.  scripts/test.sh --secure counts and lists these skips by
# their first words, "needs a plain stack:", and fails on any other skip.
skip_on_secure_stack() { # why
	if stack_is_secure; then skip "needs a plain stack: $1"; fi
}

# A URI with its password as ecom prints it: ***
redact_uri() {
	sed -E 's|^([a-z+]+://[^:/@]*):[^@/]*@|\1:***@|' <<<"$1"
}

# The server behind a store as the server itself says, asked by another
# client than ecom's: buildInfo through scripts/mongo-ping.py, or psql's
# SHOW server_version.  What the reports' "server" must say.
server_says() {
	case $1 in
	mongodb) python3 "$ECOM_SRCDIR/scripts/mongo-ping.py" --server "$ECOM_MONGODB_URI" ;;
	postgresql)
		local v
		v=$(psql "$ECOM_POSTGRES_URI" -XAtc 'SHOW server_version') || return 1
		echo "PostgreSQL ${v%% *}"
		;;
	esac
}

# The shape a server's name has, per kind of server.
readonly SERVER_NAME_RE='^(mongo-java-server [0-9.]+ \((memory|H2)\)|FerretDB [0-9.]+ \(SQLite\)|MongoDB [0-9]+\.[0-9]+\.[0-9]+.*|PostgreSQL [0-9]+\.[0-9]+)$'

# The report's "server" (jq path $2 of the JSON in $1) is what the server
# of store $3 says, and has a server name's shape.
assert_server_named() {
	local got want
	got=$(jq -r "$2" <<<"$1")
	want=$(server_says "$3") || fail "cannot ask the $3 server its name"
	[[ $got =~ $SERVER_NAME_RE ]] || fail "server '$got' is no server name"
	assert_equal "$got" "$want"
}

# Count of one event type in the store, from the auditor's report.
store_count() {
	ecom-reconcile --audit -q 2>/dev/null | jq -r ".counts.$1"
}

# Start a command in the background with its output in a file; remember its pid.
start_bg() {
	local name=$1
	shift
	# fd 3 is bats's own: a child that keeps it open makes bats wait forever.
	"$@" >"$BATS_TEST_TMPDIR/$name.out" 2>"$BATS_TEST_TMPDIR/$name.err" 3>&- &
	echo $! >"$BATS_TEST_TMPDIR/$name.pid"
}

# Stop every background command this test started (by pid, never by name).
stop_all_bg() {
	local pidfile pid
	for pidfile in "$BATS_TEST_TMPDIR"/*.pid; do
		[[ -e "$pidfile" ]] || continue
		pid=$(<"$pidfile")
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pidfile in "$BATS_TEST_TMPDIR"/*.pid; do
		[[ -e "$pidfile" ]] || continue
		pid=$(<"$pidfile")
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		rm -f "$pidfile"
	done
}

# ---- the flow as separate processes ----

start_stages() {
	local stage
	for stage in payment inventory shipping fulfillment; do
		start_bg "$stage" ecom-consume --stage "$stage"
	done
}

fulfilled_so_far() {
	ecom-reconcile --audit -q 2>/dev/null | jq -r .fulfilled
}

wait_for_fulfilled() {
	local want=$1 n=0
	for _ in $(seq 600); do
		n=$(fulfilled_so_far)
		[[ "$n" =~ ^[0-9]+$ && "$n" -ge "$want" ]] && return 0
		sleep 0.1
	done
	# what each process of this test said last, to see where the flow stands
	local f tails=''
	for f in "$BATS_TEST_TMPDIR"/*.err; do
		[[ -e $f ]] && tails+=$'\n'"${f##*/}: $(tail -n 3 "$f")"
	done
	fail "only $n orders fulfilled after 60 s, waited for $want$tails"
}

# Exactly N documents in each of the five collections/tables, every
# order fulfilled with its orderShippedDate, audit clean.
assert_exactly_n_orders() {
	run --separate-stderr ecom-reconcile --audit
	assert_success
	assert_server_named "$output" .server "$ECOM_STORE"
	echo "$output" | jq -e --argjson n "$1" \
		'.ok and .fulfilled == $n and ([.counts[]] | length == 5 and all(. == $n))
		 and (.unfinished | length) == 0' >/dev/null ||
		fail "audit after $1 orders: $output"
}

# Two orders in the store and one message on the ordercreated topic: what a
# command refused before it starts would change if it ran after all (a
# run resets both; a driver creates orders).
put_marker() {
	ecom-produce --generate 2 --stdout | ecom-persist -q >/dev/null
	ecom-produce --generate 1 -q
	assert_marker_untouched
}

assert_marker_untouched() {
	assert_equal "$(store_count ordercreated)" 2
	assert_equal "$(store_count orderfulfilled)" 0
	run bash -c "ecom-consume -t '${ECOM_TOPIC_PREFIX}ordercreated' -e -q | wc -l"
	assert_output 1
}
