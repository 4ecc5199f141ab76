#!/usr/bin/env bats
# scripts/run-flow.sh: reset, stage processes, N orders, a jq report, and
# nothing left running afterwards.

load helpers

setup() {
	require_stack mongodb
}

@test "run-flow.sh drives N orders through separate processes and reports them" {
	export ECOM_RUN_DIR="$BATS_TEST_TMPDIR/run"
	run timeout 300 "$ECOM_SRCDIR/scripts/run-flow.sh" -n 100
	assert_success
	assert_output --partial '"orders": 100'
	run --separate-stderr ecom-reconcile --audit
	assert_success
	echo "$output" | jq -e '.ok and .fulfilled == 100 and ([.counts[]] | all(. == 100))' >/dev/null
	# It started four stage processes and every one of them has stopped.
	assert_equal "$(wc -l <"$ECOM_RUN_DIR/stage.pids")" 4
	while read -r pid; do
		run kill -0 "$pid"
		assert_failure
	done <"$ECOM_RUN_DIR/stage.pids"
}

@test "run-flow.sh rejects an unknown option with exit 2" {
	run "$ECOM_SRCDIR/scripts/run-flow.sh" --frobnicate
	assert_failure 2
	assert_output --partial "run-flow: unknown option '--frobnicate'"
}
