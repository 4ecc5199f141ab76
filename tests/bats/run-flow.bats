#!/usr/bin/env bats
# run-flow.sh supervises what it starts: a process that dies is reported
# and started again, a bounded number of times; K instances per stage
# share the partitions.

load helpers

setup() {
	require_stack postgresql
	export ECOM_RUN_DIR="$BATS_TEST_TMPDIR/run"
}

teardown() {
	stop_all_bg
}

# The pid of a process run-flow.sh started, by its name there (shipping-1).
started_pid() {
	awk -v name="$1" '$2 == name { pid = $1 } END { print pid }' "$ECOM_RUN_DIR/processes"
}

@test "run-flow.sh reports a killed stage, starts it again, and the run ends with exactly N" {
	start_bg flow "$ECOM_SRCDIR/scripts/run-flow.sh" -n 200
	wait_for_fulfilled 30
	pid=$(started_pid shipping-1)
	kill -KILL "$pid"
	status=0
	wait "$(<"$BATS_TEST_TMPDIR/flow.pid")" || status=$?
	rm -f "$BATS_TEST_TMPDIR/flow.pid"
	[[ $status -eq 0 ]] || fail "run-flow.sh exited $status: $(cat "$BATS_TEST_TMPDIR/flow.err")"
	run cat "$BATS_TEST_TMPDIR/flow.err"
	assert_output --partial "run-flow: shipping-1 (pid $pid) exited with status 137"
	assert_output --partial "run-flow: starting shipping-1 again (restart 1 of at most 5)"
	jq -e '.orders == 200 and .complete' "$BATS_TEST_TMPDIR/flow.out" >/dev/null
	assert_exactly_n_orders 200
}

@test "run-flow.sh gives up after --max-restarts, stops everything, exits 1 with the reason" {
	start_bg flow "$ECOM_SRCDIR/scripts/run-flow.sh" -n 100000 --max-restarts 0
	wait_for_fulfilled 10
	kill -KILL "$(started_pid inventory-1)"
	status=0
	wait "$(<"$BATS_TEST_TMPDIR/flow.pid")" || status=$?
	rm -f "$BATS_TEST_TMPDIR/flow.pid"
	assert_equal "$status" 1
	run cat "$BATS_TEST_TMPDIR/flow.err"
	assert_output --partial "run-flow: 0 restart(s) already, giving up (--max-restarts 0)"
	local pid name
	while read -r pid name; do
		kill -0 "$pid" 2>/dev/null && fail "$name (pid $pid) still runs"
	done <"$ECOM_RUN_DIR/processes"
	true
}

@test "run-flow.sh --instances 2 --partitions 4 shares the partitions and stores exactly N" {
	run --separate-stderr timeout 300 "$ECOM_SRCDIR/scripts/run-flow.sh" -n 100 -w 8 --instances 2 --partitions 4
	assert_success
	echo "$output" | jq -e '.orders == 100' >/dev/null
	# Each instance of each stage reports the partitions it was given.
	for stage in payment inventory shipping fulfillment; do
		for k in 1 2; do
			echo "$stderr" | grep -qE "^run-flow: $stage-$k: consumer group '[^']*': assigned [^ ]+ \[[0-9,]+\]$" ||
				fail "no assignment reported for $stage-$k: $stderr"
		done
	done
	assert_equal "$("${KCAT[@]}" -L -J -t "${ECOM_TOPIC_PREFIX}ordercreated" |
		jq '.topics[0].partitions | length')" 4
	assert_exactly_n_orders 100
}

@test "ecom-reconcile killed again and again with 4 partitions never sees a false count mismatch" {
	# Killed between storing a batch of fulfilments and marking it, a
	# reconcile leaves stored, unmarked events that come back only when
	# their partition is read again.  The count check compares marks, so
	# checking after every order (count_check_every 1) stays true.
	export ECOM_PARTITIONS=4 ECOM_COUNT_CHECK_EVERY=1
	ecom-reconcile -q --reset
	start_stages
	for round in 1 2 3 4 5; do
		start_bg reconcile ecom-reconcile --drive 400 -w 16
		wait_for_fulfilled $((round * 40))
		kill -KILL "$(<"$BATS_TEST_TMPDIR/reconcile.pid")"
		wait "$(<"$BATS_TEST_TMPDIR/reconcile.pid")" 2>/dev/null || true
		rm -f "$BATS_TEST_TMPDIR/reconcile.pid"
		grep -q "count mismatch" "$BATS_TEST_TMPDIR/reconcile.err" && fail "round $round: $(cat "$BATS_TEST_TMPDIR/reconcile.err")"
	done
	run --separate-stderr timeout 300 ecom-reconcile --drive 400 -w 16
	assert_success
	echo "$output" | jq -e '.orders == 400 and .complete' >/dev/null
	assert_exactly_n_orders 400
}
