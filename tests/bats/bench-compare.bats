#!/usr/bin/env bats
# ecom-bench --compare: the same flow on the same Kafka against each store
# in turn, one JSON line per run, and a picture of it.

load helpers

setup() {
	require_stack
}

@test "ecom-bench --compare runs each store in turn and reports both" {
	local t0 t1
	t0=$(date +%s%N)
	run --separate-stderr ecom-bench --compare mongodb,postgresql -n 30 --floor-samples 5 --no-progress
	t1=$(date +%s%N)
	assert_success
	assert_equal "$(echo "$output" | wc -l)" 2
	# The test's own clock bounds the two runs' elapsed times from above.
	echo "$output" | jq -se --argjson wall "$(((t1 - t0) / 1000000))" '[.[].store] == ["mongodb", "postgresql"]
		and all(.[]; .orders == 30 and .complete and (.stages | keys | length) == 5)
		and ([.[].elapsed_s] | add) * 1000 < $wall' >/dev/null
	# Each run names the server it measured, as that server names itself.
	assert_server_named "$(sed -n 1p <<<"$output")" .server mongodb
	assert_server_named "$(sed -n 2p <<<"$output")" .server postgresql
	# One order in flight: the floor is the chains timed between the run's orders.
	echo "$output" | jq -se 'all(.[].floor;
		.timed == "in the run" and .samples == 5 and .order_ms == .order_in_run_ms
		and .order_before_ms > 0 and .order_after_ms > 0)' >/dev/null
	# The store was reset before each run: the last one holds exactly N.
	ECOM_STORE=postgresql run --separate-stderr ecom-reconcile --audit
	assert_success
	echo "$output" | jq -e '.ok and .fulfilled == 30' >/dev/null
}

@test "ecom-bench --plot draws an SVG that renders to a picture" {
	run --separate-stderr ecom-bench --compare mongodb,postgresql -n 20 --floor-samples 3 --no-progress \
		--plot "$BATS_TEST_TMPDIR/latency.svg"
	assert_success
	echo "$output" | jq -se 'length == 2' >/dev/null
	run rsvg-convert -o "$BATS_TEST_TMPDIR/latency.png" "$BATS_TEST_TMPDIR/latency.svg"
	assert_success
	run file "$BATS_TEST_TMPDIR/latency.png"
	assert_output --partial "PNG image data, 1280 x 560"
	# A blank picture compresses to almost nothing; axes, curves and labels do not.
	assert [ "$(stat -c %s "$BATS_TEST_TMPDIR/latency.png")" -gt 20000 ]
	# The legend names each store and the server it measured.
	grep -qF "mongodb on $(server_says mongodb)" "$BATS_TEST_TMPDIR/latency.svg"
	grep -qF "postgresql on $(server_says postgresql)" "$BATS_TEST_TMPDIR/latency.svg"
}

@test "ecom-bench --compare with an unknown store fails before any run" {
	run ecom-bench --compare mongodb,oracle -n 5
	assert_failure 2
	assert_output --partial "ecom-bench: --compare: store 'oracle'"
}

# helpers.bash's marker, in a postgresql store reset first.
put_postgresql_marker() {
	export ECOM_STORE=postgresql
	ecom-reconcile -q --reset
	put_marker
}

# $1: the message; the rest: ecom-bench's arguments.  Exit 2, the message and the hint,
# nothing on standard output, nothing reset.
assert_compare_refused() {
	local message=$1
	shift
	run --separate-stderr ecom-bench -n 5 --no-progress "$@"
	[[ $status -eq 2 ]] || fail "'ecom-bench $*' exited $status, not 2: $stderr"
	assert_equal "$stderr" "ecom-bench: $message
try 'ecom-bench --help'"
	assert_equal "$output" ""
	assert_marker_untouched
}

@test "ecom-bench --compare with a bad guarantee or too many runs fails before anything is touched" {
	put_postgresql_marker
	assert_compare_refused "--compare: exactly_once named twice" \
		--compare postgresql,exactly_once --compare exactly_once
	assert_compare_refused "--compare: store 'exactly-once': expected mongodb, postgresql, or a mongodb:// or postgresql:// URI; or a guarantee, at_least_once or exactly_once" \
		--compare postgresql,exactly-once
	assert_compare_refused "--compare: at most 8 runs (stores x guarantees), not 10" \
		--compare mongodb,postgresql,mongodb,postgresql,mongodb,at_least_once,exactly_once
	run --separate-stderr ecom-bench --sweep --compare postgresql,at_least_once,exactly_once
	assert_equal "$status" 2
	assert_equal "$stderr" "ecom-bench: --sweep compares stores, not guarantees: take at_least_once out of --compare (--exactly-once sweeps under exactly_once)
try 'ecom-bench --help'"
	run --separate-stderr ecom-bench --rate 50 --duration 1 --compare postgresql,at_least_once,exactly_once
	assert_equal "$status" 2
	assert_equal "$stderr" "ecom-bench: --rate compares stores, not guarantees: take at_least_once out of --compare (an open loop's cost is in its latency: run it once more with --exactly-once)
try 'ecom-bench --help'"
	assert_marker_untouched
}

@test "scripts/bench.sh refuses a guarantee in its --compare, and a bad --cost-rounds, before any run" {
	put_postgresql_marker
	run --separate-stderr "$ECOM_SRCDIR/scripts/bench.sh" --cost --compare postgresql,exactly_once
	assert_equal "$status" 2
	[[ $stderr == *"bench: --compare postgresql,exactly_once: stores only; the cost compares the guarantees by itself"* ]] ||
		fail "stderr: $stderr"
	run --separate-stderr "$ECOM_SRCDIR/scripts/bench.sh" --cost --cost-rounds 0
	assert_equal "$status" 2
	[[ $stderr == *"bench: '0': expected a whole number from 1"* ]] || fail "stderr: $stderr"
	assert_marker_untouched
}

@test "ecom-bench --plot to a file that cannot be written fails before any run" {
	run ecom-bench -n 5 --plot /nonexistent/dir/x.svg
	assert_failure 1
	assert_output --partial "cannot write plot file '/nonexistent/dir/x.svg'"
}

@test "ecom-bench's floor for a run with no gap between orders is the lower of before and after" {
	# One order: no moment between two orders to time a chain in.
	run --separate-stderr ecom-bench -n 1 --floor-samples 2 --store postgresql --no-progress
	assert_success
	echo "$output" | jq -e '.floor.timed != "in the run" and .floor.samples == 2
		and .floor.order_in_run_ms == null and .floor.paused_s == 0
		and .floor.order_ms == ([.floor.order_before_ms, .floor.order_after_ms] | min)
		and .floor.order_p10_ms <= .floor.order_ms and .floor.order_ms <= .floor.order_p90_ms' \
		>/dev/null || fail "report: $output"
	[[ $stderr == *"(mean of 2 chains "*"the run; round trip"* ]] || fail "summary: $stderr"
	ECOM_STORE=postgresql assert_exactly_n_orders 1
}

@test "ecom-bench draws a progress line only when stderr is a terminal" {
	# script(1) gives the command a terminal.
	run script -qfec "ecom-bench -n 5 --floor-samples 2 --store postgresql >/dev/null" /dev/null
	assert_success
	assert_output --partial "ecom-bench: 5/5 orders (100%)"
	run --separate-stderr ecom-bench -n 5 --floor-samples 2 --store postgresql
	assert_success
	[[ "$stderr" != *"orders (100%)"* ]] || fail "progress line on a stderr that is not a terminal: $stderr"
}

# PostgreSQL's orderfulfilled table of this test locked for $1 seconds once the run now
# starting has fulfilled $2 orders (under way, whatever the machine's pace): a known stall
# of the terminal stage's writes, and nobody else's.
lock_fulfilments_later() {
	(
		local q="\"$ECOM_DATABASE\".orderfulfilled" n=$2 tries
		# An earlier run's orders go first: the run empties the store when it begins.
		for ((tries = 0; tries < 1200 && n >= $2; tries++)); do
			n=$(psql "$ECOM_POSTGRES_URI" -XAtc "SELECT count(*) FROM $q" 2>/dev/null || echo 0)
			sleep 0.05
		done
		for ((tries = 0; tries < 1200 && n < $2; tries++)); do
			sleep 0.05
			n=$(psql "$ECOM_POSTGRES_URI" -XAtc "SELECT count(*) FROM $q" 2>/dev/null || echo 0)
		done
		psql "$ECOM_POSTGRES_URI" -Xq -c "BEGIN; LOCK TABLE $q IN ACCESS EXCLUSIVE MODE;
			SELECT pg_sleep($1); COMMIT;" >/dev/null 2>&1
	) &
	LOCKER=$!
}

@test "a known 1 s stall: a closed loop counts it once, an open loop for every order it delays" {
	local t0 t1
	export ECOM_STORE=postgresql
	# Closed loop, one order in flight; the one floor chain comes after order 300, the stall
	# well before it.
	lock_fulfilments_later 1 60
	t0=$(date +%s%N)
	run --separate-stderr ecom-bench -n 600 -w 1 --floor-samples 1 --no-progress
	t1=$(date +%s%N)
	wait "$LOCKER"
	assert_success
	# Against the test's own clock and the stall it injected: the run held the stall and
	# fitted in the command; one order waited the second, the rest did not.
	echo "$output" | jq -e --argjson wall "$(((t1 - t0) / 1000000))" '
		.loop == "closed" and .complete and .elapsed_s >= 1.0 and .elapsed_s * 1000 < $wall
		and .end_to_end_latency.max_ms >= 950 and .end_to_end_latency.p99_ms < 500' >/dev/null ||
		fail "closed loop report: $output"
	assert_exactly_n_orders 600
	# Open loop at 100 orders/s for 4 s, the same stall: the orders meant to start in that
	# second (about 100 of 400) all wait, so more than one in ten is over 100 ms.
	lock_fulfilments_later 1 100
	run --separate-stderr ecom-bench --rate 100 --duration 4 --floor-samples 1 --no-progress
	wait "$LOCKER"
	assert_success
	echo "$output" | jq -e '.loop == "open" and .orders == 400 and .complete
		and .end_to_end_latency.max_ms >= 900 and .end_to_end_latency.p90_ms >= 100' >/dev/null ||
		fail "open loop report: $output"
	assert_exactly_n_orders 400
}
