#!/usr/bin/env bats
# The commands in shell pipes: generated events into the store, twice,
# and a topic read into jq.

load helpers

setup() {
	require_stack
}

# The output checked here is standard output alone: a warning the Kafka
# client passes on (a coordinator moving on a loaded machine, say) goes to
# stderr and is not what these tests are about.

@test "generated orders piped into ecom-persist are stored" {
	run --separate-stderr bash -c 'ecom-produce --generate 5 --stdout | ecom-persist'
	assert_success
	assert_output '{"read":5,"written":5,"duplicates":0,"rejected":0}'
	assert_equal "$(store_count ordercreated)" 5
}

@test "persisting the same events again stores nothing new" {
	ecom-produce --generate 5 --stdout >"$BATS_TEST_TMPDIR/orders.jsonl"
	run --separate-stderr ecom-persist <"$BATS_TEST_TMPDIR/orders.jsonl"
	assert_success
	assert_output '{"read":5,"written":5,"duplicates":0,"rejected":0}'
	run --separate-stderr ecom-persist <"$BATS_TEST_TMPDIR/orders.jsonl"
	assert_success
	assert_output '{"read":5,"written":0,"duplicates":5,"rejected":0}'
	assert_equal "$(store_count ordercreated)" 5
}

@test "ecom-consume -e reads a topic to its end as JSON lines jq can read" {
	run --separate-stderr ecom-produce --generate 3
	assert_success
	run --separate-stderr bash -c "ecom-consume -t '${ECOM_TOPIC_PREFIX}ordercreated' -e | jq -r .eventType"
	assert_success
	assert_output $'ordercreated\nordercreated\nordercreated'
}

@test "ecom-consume --envelope gives topic, partition, offset and key" {
	ecom-produce --generate 1 --stdout >"$BATS_TEST_TMPDIR/one.jsonl"
	id=$(jq -r .eventId "$BATS_TEST_TMPDIR/one.jsonl")
	run --separate-stderr bash -c "ecom-produce -t '${ECOM_TOPIC_PREFIX}ordercreated' <'$BATS_TEST_TMPDIR/one.jsonl'"
	assert_success
	run --separate-stderr bash -c "ecom-consume -t '${ECOM_TOPIC_PREFIX}ordercreated' -e --envelope | jq -c '[.topic, .partition, .offset, .key == .value.eventId, .key]'"
	assert_success
	assert_output "[\"${ECOM_TOPIC_PREFIX}ordercreated\",0,0,true,\"$id\"]"
}

@test "ecom-consume -n stops after that many messages" {
	ecom-produce --generate 4 >/dev/null 2>&1
	run --separate-stderr bash -c "timeout 30 ecom-consume -t '${ECOM_TOPIC_PREFIX}ordercreated' -n 2 | wc -l; echo \"exit \${PIPESTATUS[0]}\""
	assert_success
	assert_output $'2\nexit 0'
}

@test "events read from one topic can be persisted from the topic" {
	ecom-produce --generate 3 2>/dev/null
	run --separate-stderr ecom-persist -t "${ECOM_TOPIC_PREFIX}ordercreated" -e
	assert_success
	assert_output '{"read":3,"written":3,"duplicates":0,"rejected":0}'
	# The group remembers where it stopped: nothing is read twice.
	run --separate-stderr ecom-persist -t "${ECOM_TOPIC_PREFIX}ordercreated" -e
	assert_success
	assert_output '{"read":0,"written":0,"duplicates":0,"rejected":0}'
}

# Closed pipes (ecom.7, "STANDARD OUTPUT"): a command whose reader went
# away stops early, says nothing and exits 0, like a command killed by
# SIGPIPE but without losing its clean-up.  Generating 200,000 orders
# takes the better part of a minute: `timeout 30` catches a command
# that runs on to the end.
@test "ecom-produce --stdout stops when its reader closes the pipe" {
	run bash -c 'timeout 30 ecom-produce --generate 200000 --stdout | head -1 | jq -r .eventType;
		echo "exit ${PIPESTATUS[0]}"'
	assert_output $'ordercreated\nexit 0'
}

@test "ecom-consume stops when its reader closes the pipe, also while it waits for messages" {
	ecom-produce -q --generate 3
	run bash -c "timeout 30 ecom-consume -t '${ECOM_TOPIC_PREFIX}ordercreated' | head -1 | jq -r .eventType;
		echo \"exit \${PIPESTATUS[0]}\""
	assert_output $'ordercreated\nexit 0'
	run bash -c "timeout 30 ecom-consume -t '${ECOM_TOPIC_PREFIX}ordercreated' --envelope | head -c 1;
		echo; echo \"exit \${PIPESTATUS[0]}\""
	assert_output $'{\nexit 0'
}

@test "ecom-persist, ecom-reconcile and ecom-bench take a closed stdout quietly" {
	# The audit of an empty store is clean: its status is 0 unless stdout fails it.
	run bash -c 'ecom-reconcile --audit | head -c 1 >/dev/null; echo "exit ${PIPESTATUS[0]}"'
	assert_output "exit 0"
	ecom-produce --generate 3 --stdout >"$BATS_TEST_TMPDIR/orders.jsonl"
	run bash -c "ecom-persist <'$BATS_TEST_TMPDIR/orders.jsonl' | true; echo \"exit \${PIPESTATUS[0]}\""
	assert_output "exit 0"
	assert_equal "$(store_count ordercreated)" 3
	run bash -c 'ecom-bench -n 2 --floor-samples 1 --no-progress 2>/dev/null | true; echo "exit ${PIPESTATUS[0]}"'
	assert_output "exit 0"
}

@test "a full disk on stdout is a failure with a message" {
	run bash -c 'ecom-produce --generate 10 --stdout >/dev/full'
	assert_failure 1
	assert_output "ecom-produce: cannot write to standard output: No space left on device"
}
