#!/usr/bin/env bats
# The commands in shell pipes: generated events into the store, twice,
# and a topic read into jq.

load helpers

setup() {
	require_stack
}

@test "generated orders piped into ecom-persist are stored" {
	run bash -c 'ecom-produce --generate 5 --stdout | ecom-persist'
	assert_success
	assert_output '{"read":5,"written":5,"duplicates":0,"rejected":0}'
	assert_equal "$(store_count ordercreated)" 5
}

@test "persisting the same events again stores nothing new" {
	ecom-produce --generate 5 --stdout >"$BATS_TEST_TMPDIR/orders.jsonl"
	run ecom-persist <"$BATS_TEST_TMPDIR/orders.jsonl"
	assert_success
	assert_output '{"read":5,"written":5,"duplicates":0,"rejected":0}'
	run ecom-persist <"$BATS_TEST_TMPDIR/orders.jsonl"
	assert_success
	assert_output '{"read":5,"written":0,"duplicates":5,"rejected":0}'
	assert_equal "$(store_count ordercreated)" 5
}

@test "ecom-consume -e reads a topic to its end as JSON lines jq can read" {
	run ecom-produce --generate 3
	assert_success
	run bash -c "ecom-consume -t '${ECOM_TOPIC_PREFIX}ordercreated' -e | jq -r .eventType"
	assert_success
	assert_output $'ordercreated\nordercreated\nordercreated'
}

@test "ecom-consume --envelope gives topic, partition, offset and key" {
	ecom-produce --generate 1 --stdout >"$BATS_TEST_TMPDIR/one.jsonl"
	id=$(jq -r .eventId "$BATS_TEST_TMPDIR/one.jsonl")
	run bash -c "ecom-produce -t '${ECOM_TOPIC_PREFIX}ordercreated' <'$BATS_TEST_TMPDIR/one.jsonl'"
	assert_success
	run bash -c "ecom-consume -t '${ECOM_TOPIC_PREFIX}ordercreated' -e --envelope | jq -c '[.topic, .partition, .offset, .key == .value.eventId, .key]'"
	assert_success
	assert_output "[\"${ECOM_TOPIC_PREFIX}ordercreated\",0,0,true,\"$id\"]"
}

@test "ecom-consume -n stops after that many messages" {
	ecom-produce --generate 4 >/dev/null 2>&1
	run bash -c "ecom-consume -t '${ECOM_TOPIC_PREFIX}ordercreated' -n 2 | wc -l"
	assert_success
	assert_output 2
}

@test "events read from one topic can be persisted from the topic" {
	ecom-produce --generate 3 2>/dev/null
	run ecom-persist -t "${ECOM_TOPIC_PREFIX}ordercreated" -e
	assert_success
	assert_output '{"read":3,"written":3,"duplicates":0,"rejected":0}'
	# The group remembers where it stopped: nothing is read twice.
	run ecom-persist -t "${ECOM_TOPIC_PREFIX}ordercreated" -e
	assert_success
	assert_output '{"read":0,"written":0,"duplicates":0,"rejected":0}'
}
