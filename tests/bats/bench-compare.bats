#!/usr/bin/env bats
# ecom-bench --compare: the same flow on the same Kafka against each store
# in turn, one JSON line per run, and a picture of it.

load helpers

setup() {
	require_stack
}

@test "ecom-bench --compare runs each store in turn and reports both" {
	run --separate-stderr ecom-bench --compare mongodb,postgresql -n 30 --floor-samples 5 --no-progress
	assert_success
	assert_equal "$(echo "$output" | wc -l)" 2
	echo "$output" | jq -se '[.[].store] == ["mongodb", "postgresql"]
		and all(.[]; .orders == 30 and .complete and .elapsed_over_floor > 0
		        and (.stages | keys | length) == 5)' >/dev/null
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
		and .elapsed_over_floor > 0' >/dev/null || fail "report: $output"
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
