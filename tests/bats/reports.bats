#!/usr/bin/env bats
# What a drive reports when it does not run from the first order to the
# last: interrupted, resumed, or with nothing left to do.  No 1970
# dates, no negative or zero elapsed time for work that was done, and
# the exit status says whether the run completed.

load helpers

setup() {
	require_stack postgresql
	ecom-reconcile -q --reset
	start_stages
}

teardown() {
	stop_all_bg
}

@test "an interrupted drive reports how far it came and exits 1" {
	start_bg reconcile ecom-reconcile --drive 100000
	wait_for_fulfilled 20
	kill -TERM "$(<"$BATS_TEST_TMPDIR/reconcile.pid")"
	status=0
	wait "$(<"$BATS_TEST_TMPDIR/reconcile.pid")" || status=$?
	rm -f "$BATS_TEST_TMPDIR/reconcile.pid"
	assert_equal "$status" 1
	run jq -e '.complete == false and .orders >= 20 and .elapsed_s > 0 and .orders_per_s > 0
		and (.start | startswith("20")) and (.end | startswith("20")) and .end >= .start' \
		"$BATS_TEST_TMPDIR/reconcile.out"
	assert_success
	run cat "$BATS_TEST_TMPDIR/reconcile.err"
	assert_output --regexp "ecom-reconcile: stopped by a signal after [0-9]+ of 100000 orders"
}

@test "a resumed drive reports the orders before it and its own time" {
	start_bg reconcile ecom-reconcile --drive 100000
	wait_for_fulfilled 20
	kill -TERM "$(<"$BATS_TEST_TMPDIR/reconcile.pid")"
	wait "$(<"$BATS_TEST_TMPDIR/reconcile.pid")" || true
	rm -f "$BATS_TEST_TMPDIR/reconcile.pid"
	before=$(fulfilled_so_far)
	run --separate-stderr ecom-reconcile --drive $((before + 30))
	assert_success
	echo "$output" | jq -e --argjson before "$before" '.complete and .orders == $before + 30
		and .resumed_from == $before and .orders_this_run == 30
		and .elapsed_s > 0 and .orders_per_s > 0 and (.start | startswith("20"))' >/dev/null ||
		fail "report of the resumed drive: $output"
	assert_exactly_n_orders $((before + 30))
}

@test "a drive with nothing left to do says so, with no dates, and exits 0" {
	run --separate-stderr ecom-reconcile --drive 5
	assert_success
	run --separate-stderr ecom-reconcile --drive 5
	assert_success
	echo "$output" | jq -e '.complete and .orders == 5 and .orders_this_run == 0
		and .resumed_from == 5 and .start == null and .end == null and .elapsed_s == 0' >/dev/null ||
		fail "report: $output"
	assert_equal "$(echo "$stderr" | head -1)" "ecom-reconcile: all 5 orders were fulfilled already: nothing to do"
}

@test "an interrupted ecom-bench prints the report of what it ran and exits 1" {
	stop_all_bg
	start_bg bench ecom-bench -n 100000 --floor-samples 2 --no-progress
	for _ in $(seq 600); do
		n=$(fulfilled_so_far)
		[[ "$n" =~ ^[0-9]+$ && "$n" -ge 20 ]] && break
		sleep 0.1
	done
	kill -INT "$(<"$BATS_TEST_TMPDIR/bench.pid")"
	status=0
	wait "$(<"$BATS_TEST_TMPDIR/bench.pid")" || status=$?
	rm -f "$BATS_TEST_TMPDIR/bench.pid"
	assert_equal "$status" 1
	run jq -e '.complete == false and .orders >= 20 and .elapsed_s > 0 and (.start | startswith("20"))' \
		"$BATS_TEST_TMPDIR/bench.out"
	assert_success
	run cat "$BATS_TEST_TMPDIR/bench.err"
	assert_output --regexp "ecom-bench: interrupted after [0-9]+ of 100000 orders"
}
