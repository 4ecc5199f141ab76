#!/usr/bin/env bats
# The flow as separate processes, as run-flow.sh runs it, including a
# stage killed with SIGKILL in the middle of the run and started again.

load helpers

setup() {
	require_stack mongodb
	ecom-reconcile -q --reset
}

teardown() {
	stop_all_bg
}

start_stages() {
	local stage
	for stage in payment inventory shipping fulfillment; do
		start_bg "$stage" ecom-consume --stage "$stage"
	done
}

fulfilled_so_far() {
	ecom-reconcile --audit -q 2>/dev/null | jq -r .fulfilled
}

@test "separate stage processes take N orders through and the audit is clean" {
	start_stages
	run --separate-stderr timeout 300 ecom-reconcile --drive 200
	assert_success
	echo "$output" | jq -e '.orders == 200' >/dev/null
	run --separate-stderr ecom-reconcile --audit
	assert_success
	echo "$output" | jq -e '.ok and .fulfilled == 200 and ([.counts[]] | all(. == 200))' >/dev/null
}

@test "a stage killed with SIGKILL mid-run and restarted loses and duplicates nothing" {
	start_stages
	start_bg reconcile timeout 300 ecom-reconcile --drive 200
	# Wait until the run is well under way.
	for _ in $(seq 600); do
		n=$(fulfilled_so_far)
		[[ "$n" =~ ^[0-9]+$ && "$n" -ge 40 ]] && break
		sleep 0.1
	done
	assert [ "$n" -ge 40 ]
	kill -KILL "$(<"$BATS_TEST_TMPDIR/shipping.pid")"
	sleep 1
	start_bg shipping ecom-consume --stage shipping
	# reconcile ends by itself when the 200th order is fulfilled
	pid=$(<"$BATS_TEST_TMPDIR/reconcile.pid")
	status=0
	wait "$pid" || status=$?
	rm -f "$BATS_TEST_TMPDIR/reconcile.pid"
	[[ $status -eq 0 ]] || fail "ecom-reconcile exited $status: $(cat "$BATS_TEST_TMPDIR/reconcile.err")"
	run --separate-stderr ecom-reconcile --audit
	assert_success
	echo "$output" | jq -e '.ok and .fulfilled == 200 and ([.counts[]] | all(. == 200))' >/dev/null
}

@test "ecom-reconcile killed with SIGKILL and restarted creates no extra order" {
	start_stages
	start_bg reconcile ecom-reconcile --drive 100
	for _ in $(seq 600); do
		n=$(fulfilled_so_far)
		[[ "$n" =~ ^[0-9]+$ && "$n" -ge 30 ]] && break
		sleep 0.1
	done
	kill -KILL "$(<"$BATS_TEST_TMPDIR/reconcile.pid")"
	rm -f "$BATS_TEST_TMPDIR/reconcile.pid"
	run timeout 300 ecom-reconcile --drive 100
	assert_success
	run --separate-stderr ecom-reconcile --audit
	assert_success
	echo "$output" | jq -e '.ok and .fulfilled == 100 and ([.counts[]] | all(. == 100))' >/dev/null
}

@test "a repeated orderfulfilled event starts no extra order" {
	start_stages
	run timeout 300 ecom-reconcile --drive 5
	assert_success
	# Replay every fulfilment to the topic.
	ecom-consume -t "${ECOM_TOPIC_PREFIX}orderfulfilled" -e >"$BATS_TEST_TMPDIR/fulfilled.jsonl"
	run bash -c "ecom-produce -t '${ECOM_TOPIC_PREFIX}orderfulfilled' <'$BATS_TEST_TMPDIR/fulfilled.jsonl'"
	assert_success
	# The next run reads the five repeats first: none may count as a new
	# fulfilment, so exactly one more order is created.
	run timeout 60 ecom-reconcile --drive 6
	assert_success
	run --separate-stderr ecom-reconcile --audit
	assert_success
	echo "$output" | jq -e '.ok and .counts.ordercreated == 6 and .counts.orderfulfilled == 6' >/dev/null
}

@test "a count mismatch stops reconcile with both counts and exit 1" {
	# An order in the store that the flow never created.
	ecom-produce --generate 3 --stdout | ecom-persist >/dev/null
	start_stages
	run timeout 120 ecom-reconcile --drive 5
	assert_failure 1
	assert_output --regexp "ecom-reconcile: count mismatch: [0-9]+ orders created, [0-9]+ fulfilled"
}
