#!/usr/bin/env bats
# ecom-consume -L on the dev stack's broker: the brokers, then each topic's
# partitions with leader, replicas and ISR, as JSON lines; the replication
# factor ecom gives the topics it creates.  (Three brokers: cluster.bats.)

load helpers

setup() {
	require_stack
}

# stderr without the line mongo-c-driver prints when it cannot share its
# counters in /dev/shm ("Falling back to malloc for counters"): not ecom's.
ecom_stderr() {
	grep -v 'mongoc: Falling back to malloc for counters' <<<"$stderr" || true
}

# The brokers of the dev stack as kcat sees them, to check -L against.
kcat_broker_count() {
	"${KCAT[@]}" -L -J -m 10 | jq '.brokers | length'
}

@test "ecom-consume -L lists the brokers and the topics ecom created, replicated min(3, brokers) times" {
	run ecom-produce --generate 1
	assert_success
	brokers=$(kcat_broker_count)
	[[ $brokers =~ ^[1-9]$ ]] || fail "kcat saw no brokers: '$brokers'"
	want_rf=$((brokers < 3 ? brokers : 3))
	run --separate-stderr ecom-consume -L
	assert_success
	# First line: every broker, with the address ECOM_KAFKA_BROKERS names.
	head -n 1 <<<"$output" | jq -e --argjson n "$brokers" --arg list "$ECOM_KAFKA_BROKERS" '
		(.brokers | length) == $n and
		([.brokers[] | "\(.host):\(.port)"] - ($list | split(",")) | length) == 0' >/dev/null ||
		fail "brokers line: $(head -n 1 <<<"$output")"
	# The six topics of this test, each partition led by a replica, all in sync.
	jq -c --arg p "$ECOM_TOPIC_PREFIX" 'select(.topic // "" | startswith($p))' <<<"$output" \
		>"$BATS_TEST_TMPDIR/mine.jsonl"
	assert_equal "$(jq -r .topic "$BATS_TEST_TMPDIR/mine.jsonl" | sed "s/^$ECOM_TOPIC_PREFIX//" | tr '\n' ' ')" \
		"deadletter inventoryupdated ordercreated orderfulfilled ordershipped paymentcompleted "
	jq -e -s --argjson rf "$want_rf" 'all(.[];
		(.partitions | length) == 1 and
		all(.partitions[]; (.replicas | length) == $rf and (.isr | sort) == (.replicas | sort)
			and (.leader as $l | .replicas | index($l)) != null)
		and .min_insync_replicas >= 1)' "$BATS_TEST_TMPDIR/mine.jsonl" >/dev/null ||
		fail "want replication factor $want_rf: $(cat "$BATS_TEST_TMPDIR/mine.jsonl")"
	# kcat agrees on the replicas of one of them.
	run "${KCAT[@]}" -L -J -t "${ECOM_TOPIC_PREFIX}ordercreated" -m 10
	assert_success
	assert_equal "$(jq -c '[.topics[0].partitions[0].replicas[].id]' <<<"$output")" \
		"$(jq -c 'select(.topic | endswith("-ordercreated")) | .partitions[0].replicas' "$BATS_TEST_TMPDIR/mine.jsonl")"
}

@test "ecom-consume -L -t TOPIC lists the brokers and that topic only, with the configured partitions" {
	ECOM_PARTITIONS=3 run ecom-produce --generate 1
	assert_success
	run --separate-stderr ecom-consume -L -t "${ECOM_TOPIC_PREFIX}paymentcompleted"
	assert_success
	assert_equal "${#lines[@]}" 2
	jq -e -n --arg t "${ECOM_TOPIC_PREFIX}paymentcompleted" --argjson doc "${lines[1]}" '
		$doc.topic == $t and ([$doc.partitions[].partition] == [0, 1, 2])' >/dev/null ||
		fail "topic line: ${lines[1]}"
}

@test "ecom-consume -L -t a topic that does not exist: message and exit 1" {
	run --separate-stderr ecom-consume -L -t "${ECOM_TOPIC_PREFIX}nosuch"
	assert_failure 1
	assert_output ''
	assert_equal "$(ecom_stderr)" "ecom-consume: topic '${ECOM_TOPIC_PREFIX}nosuch' does not exist"
	# Asking did not create it.
	run ecom-consume -L
	refute_output --partial "${ECOM_TOPIC_PREFIX}nosuch"
}

@test "ecom-consume -L with an unreachable broker fails within the timeout, naming the broker" {
	started=$SECONDS
	ECOM_TIMEOUT_MS=2000 run --separate-stderr ecom-consume -L -b 127.0.0.1:1
	assert_failure 1
	assert_output ''
	assert_regex "$(ecom_stderr)" "^ecom-consume: cannot reach kafka broker '127\.0\.0\.1:1' within 2000 ms: .+$"
	((SECONDS - started < 10)) || fail "took $((SECONDS - started)) s"
}

@test "ecom-consume -L with --stage, -o, -e, -n or --envelope is a usage error" {
	for extra in "--stage payment" "-o end" "-e" "-n 1" "--envelope"; do
		# shellcheck disable=SC2086
		run --separate-stderr ecom-consume -L $extra
		assert_failure 2
		assert_equal "$(ecom_stderr)" "ecom-consume: -L goes with -t TOPIC only, not with --stage, -o, -e, -n or --envelope
try 'ecom-consume --help'"
	done
}

@test "a replication factor above the cluster's brokers fails topic creation with the broker's reason" {
	brokers=$(kcat_broker_count)
	ECOM_REPLICATION_FACTOR=$((brokers + 1)) run --separate-stderr ecom-produce --generate 1
	assert_failure 1
	assert_output ''
	assert_regex "$(ecom_stderr)" "^ecom-produce: cannot create topic '${ECOM_TOPIC_PREFIX}[a-z]+': .*replication factor of $((brokers + 1)) cannot be reached because only $brokers broker\(s\) are registered"
}

@test "replication_factor that is not 0 to 32767 is a configuration error" {
	for bad in -1 32768 three; do
		ECOM_REPLICATION_FACTOR=$bad run --separate-stderr ecom-produce --generate 1
		assert_failure 2
		assert_equal "$(ecom_stderr)" "ecom-produce: environment ECOM_REPLICATION_FACTOR: 'replication_factor' must be a whole number from 0 to 32767, not '$bad'
try 'ecom-produce --help'"
	done
}
