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
	assert_equal "$(kcat -L -J -b "$ECOM_KAFKA_BROKERS" -t "${ECOM_TOPIC_PREFIX}ordercreated" |
		jq '.topics[0].partitions | length')" 4
	assert_exactly_n_orders 100
}
