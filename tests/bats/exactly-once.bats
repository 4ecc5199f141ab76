#!/usr/bin/env bats
# processing_guarantee: exactly_once on the real broker: each topic,
# read with read_committed, holds exactly one event per order, after a
# clean run and after a stage killed with kill -9; what an aborted
# transaction wrote stays in the log, visible only to a
# read_uncommitted reader; a stage whose transactional.id a successor
# took over ends, saying it was fenced.

load helpers

readonly TOPICS=(ordercreated paymentcompleted inventoryupdated ordershipped orderfulfilled)

setup() {
	require_stack
}

teardown() {
	stop_all_bg
}

# Each of the five topics, read with read_committed (the default), holds
# exactly $1 events with $1 distinct eventIds.
assert_topics_hold_exactly() {
	local topic events distinct
	for topic in "${TOPICS[@]}"; do
		events=$(ecom-consume -q -t "$ECOM_TOPIC_PREFIX$topic" -e | jq -r .eventId)
		distinct=$(sort -u <<<"$events" | grep -c . || true)
		assert_equal "$topic: $(grep -c . <<<"$events") events, $distinct distinct" \
			"$topic: $1 events, $1 distinct"
		assert_equal "$topic duplicates: $(sort <<<"$events" | uniq -d | head -3)" "$topic duplicates: "
	done
}

bench_exactly_once() { # store
	export ECOM_STORE=$1
	run --separate-stderr timeout 300 ecom-bench -n 200 --exactly-once
	assert_success
	echo "$output" | jq -e '.orders == 200 and .complete and .processing_guarantee == "exactly_once"
		and (.stages.payment.phases | has("transaction"))' >/dev/null ||
		fail "report: $output"
	# The summary line names the guarantee, and times the transactions.
	[[ $stderr =~ ": exactly_once: 200 orders in ".*" transaction "[0-9]+\.[0-9]{2}" ms" ]] ||
		fail "summary: $stderr"
	assert_exactly_n_orders 200
	assert_topics_hold_exactly 200
}

@test "ecom-bench -n 200 --exactly-once on mongodb: exactly 200 per topic, read committed, and in the store" {
	bench_exactly_once mongodb
}

@test "ecom-bench -n 200 --exactly-once on postgresql: exactly 200 per topic, read committed, and in the store" {
	bench_exactly_once postgresql
}

@test "ecom-bench --compare both stores under both guarantees: each run's figures, and exactly_once's cost as their ratio" {
	run --separate-stderr timeout 600 ecom-bench -n 50 -w 4 --floor-samples 3 --no-progress \
		--compare mongodb,postgresql,at_least_once,exactly_once
	assert_success
	# Each store in turn, each guarantee in turn on it, in the order named.
	echo "$output" | jq -se '[.[] | [.store, .processing_guarantee]] == [
			["mongodb", "at_least_once"], ["mongodb", "exactly_once"],
			["postgresql", "at_least_once"], ["postgresql", "exactly_once"]]
		and all(.[]; .orders == 50 and .complete and .window == 4)' >/dev/null ||
		fail "reports: $output"
	# The later run of each store carries both runs' figures, as those runs reported
	# them, and their ratios; the earlier carries none.
	echo "$output" | jq -se '[.[0], .[2]] | all(.guarantee_cost == null)' >/dev/null ||
		fail "reports: $output"
	echo "$output" | jq -se 'def close(a; b): (a - b | fabs) <= 0.0011 * (if b > 1 then b else 1 end);
		[[.[0], .[1]], [.[2], .[3]]] | all(.[0] as $alo | .[1] as $eos | $eos.guarantee_cost as $c |
			$c.at_least_once == {elapsed_s: $alo.elapsed_s, orders_per_s: $alo.orders_per_s}
			and $c.exactly_once == {elapsed_s: $eos.elapsed_s, orders_per_s: $eos.orders_per_s}
			and $eos.elapsed_s > 0 and $alo.elapsed_s > 0
			and close($c.exactly_once_over_at_least_once.elapsed; $eos.elapsed_s / $alo.elapsed_s)
			and close($c.exactly_once_over_at_least_once.orders_per_s;
				$eos.orders_per_s / $alo.orders_per_s))' >/dev/null || fail "reports: $output"
	# The summary says it per store, in words.
	for store in mongodb postgresql; do
		[[ $stderr =~ "$store: exactly_once over at_least_once, in this run: elapsed "[0-9.]+" s / "[0-9.]+" s = "[0-9.]+", orders/s "[0-9.]+" / "[0-9.]+" = "[0-9.]+ ]] ||
			fail "no cost line for $store: $stderr"
	done
	# Each store holds what its last run (exactly_once) left: exactly 50 orders; the topics,
	# reset by every run, what postgresql's left: 50 events each, none twice, read committed.
	ECOM_STORE=mongodb assert_exactly_n_orders 50
	ECOM_STORE=postgresql assert_exactly_n_orders 50
	assert_topics_hold_exactly 50
}

@test "the report names the guarantee in force: at_least_once by default" {
	run --separate-stderr timeout 300 ecom-bench -n 5
	assert_success
	echo "$output" | jq -e '.processing_guarantee == "at_least_once"
		and ([.stages[].phases | has("transaction")] | any | not)' >/dev/null || fail "report: $output"
	# So does the summary line, with no transaction time where there is no transaction.
	[[ $stderr == *": at_least_once: 5 orders in "* ]] || fail "summary: $stderr"
	[[ $stderr != *transaction* && $stderr != *commit* ]] || fail "summary: $stderr"
}

@test "-X dump shows exactly_once's settings: no auto-commit, read_committed, the transaction timeout and id" {
	run --separate-stderr env ECOM_INSTANCE_ID=7 ECOM_TIMEOUT_MS=10000 ecom-consume --exactly-once -X dump
	assert_success
	assert_line 'processing_guarantee: exactly_once'
	assert_line --partial 'enable.auto.commit: "false"'
	assert_line --partial 'isolation.level: "read_committed"'
	assert_line --partial 'transaction.timeout.ms: "140000"'
	assert_line --partial "transactional.id: \"${ECOM_TOPIC_PREFIX}${ECOM_GROUP}-STAGE-7\""
	run --separate-stderr ecom-consume -X dump
	assert_line --partial 'enable.auto.commit: "true"'
	refute_line --partial 'transactional.id'
}

@test "a bad processing_guarantee is a usage error naming the two" {
	run --separate-stderr env ECOM_PROCESSING_GUARANTEE=exactly-once ecom-produce --generate 1 --stdout
	assert_equal "$status" 2
	[[ "$stderr" == *"'processing_guarantee' must be at_least_once or exactly_once, not 'exactly-once'"* ]] ||
		fail "stderr: $stderr"
}

@test "ecom-produce --exactly-once killed mid-chunk: readers of committed data see whole chunks only" {
	local topic=${ECOM_TOPIC_PREFIX}ordercreated pid seen committed
	ecom-reconcile -q --reset
	mkfifo "$BATS_TEST_TMPDIR/in"
	# 2,500 lines in chunks of 1,000: two committed, the third open while
	# the input stays open, until kill -9 (no abort sent).
	ECOM_BATCH_SIZE=1000 ecom-produce --exactly-once -t "$topic" <"$BATS_TEST_TMPDIR/in" \
		2>"$BATS_TEST_TMPDIR/produce.err" 3>&- &
	pid=$!
	echo "$pid" >"$BATS_TEST_TMPDIR/produce.pid"
	exec 4>"$BATS_TEST_TMPDIR/in"
	ecom-produce --generate 2500 --stdout >&4
	for _ in $(seq 300); do
		seen=$(ecom-consume -q -t "$topic" -e -X isolation.level=read_uncommitted | grep -c . || true)
		((seen == 2500)) && break
		sleep 0.1
	done
	assert_equal "written, uncommitted included: $seen" "written, uncommitted included: 2500"
	assert_equal "read committed: $(ecom-consume -q -t "$topic" -e | grep -c .)" "read committed: 2000"
	kill -KILL "$pid"
	exec 4>&-
	rm -f "$BATS_TEST_TMPDIR/produce.pid"
	# Its successor (the same transactional.id) aborts the open transaction at once.
	run --separate-stderr ecom-produce --exactly-once -t "$topic" </dev/null
	assert_success
	committed=$(ecom-consume -q -t "$topic" -e | grep -c . || true)
	assert_equal "read committed: $committed" "read committed: 2000"
	# The aborted 500 stay in the log, for a read_uncommitted reader only.
	seen=$(ecom-consume -q -t "$topic" -e -X isolation.level=read_uncommitted | grep -c . || true)
	assert_equal "read uncommitted: $seen" "read uncommitted: 2500"
}

@test "run-flow.sh --exactly-once with a stage killed by kill -9: no duplicate on any topic" {
	export ECOM_RUN_DIR="$BATS_TEST_TMPDIR/run"
	start_bg flow "$ECOM_SRCDIR/scripts/run-flow.sh" -n 200 -w 4 --exactly-once
	wait_for_fulfilled 30
	kill -KILL "$(awk '$2 == "shipping-1" { pid = $1 } END { print pid }' "$ECOM_RUN_DIR/processes")"
	status=0
	wait "$(<"$BATS_TEST_TMPDIR/flow.pid")" || status=$?
	rm -f "$BATS_TEST_TMPDIR/flow.pid"
	[[ $status -eq 0 ]] || fail "run-flow.sh exited $status: $(cat "$BATS_TEST_TMPDIR/flow.err")"
	grep -q 'starting shipping-1 again' "$BATS_TEST_TMPDIR/flow.err" || fail "no restart: $(cat "$BATS_TEST_TMPDIR/flow.err")"
	jq -e '.orders == 200 and .complete and .processing_guarantee == "exactly_once"' \
		"$BATS_TEST_TMPDIR/flow.out" >/dev/null || fail "report: $(cat "$BATS_TEST_TMPDIR/flow.out")"
	assert_exactly_n_orders 200
	assert_topics_hold_exactly 200
}

@test "a zombie stage (SIGSTOP past the session timeout, its id restarted) adds no event and says it was fenced" {
	local topic=${ECOM_TOPIC_PREFIX}paymentcompleted n zombie
	export ECOM_PARTITIONS=2 ECOM_PROCESSING_GUARANTEE=exactly_once ECOM_INSTANCE_ID=1
	ecom-reconcile -q --reset
	start_bg zombie ecom-consume --stage payment
	zombie=$(<"$BATS_TEST_TMPDIR/zombie.pid")
	for _ in $(seq 300); do grep -q ': assigned ' "$BATS_TEST_TMPDIR/zombie.err" && break; sleep 0.1; done
	kill -STOP "$zombie"
	# Its successor, as run-flow.sh would start it: the same instance id.
	start_bg successor ecom-consume --stage payment
	ecom-produce -q --generate 10
	for _ in $(seq 600); do
		n=$(ecom-consume -q -t "$topic" -e | grep -c . || true)
		((n == 10)) && break
		sleep 0.1
	done
	assert_equal "forwarded by the successor: $n" "forwarded by the successor: 10"
	# Back: it rejoins the group and gets a partition, whose next order
	# it cannot forward.
	kill -CONT "$zombie"
	for _ in $(seq 300); do
		(($(grep -c ': assigned ' "$BATS_TEST_TMPDIR/zombie.err") >= 2)) && break
		sleep 0.1
	done
	ecom-produce -q --generate 20
	status=0
	for _ in $(seq 600); do kill -0 "$zombie" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$zombie" 2>/dev/null && fail "the zombie still runs: $(cat "$BATS_TEST_TMPDIR/zombie.err")"
	wait "$zombie" || status=$?
	rm -f "$BATS_TEST_TMPDIR/zombie.pid"
	assert_equal "$status" 1
	grep -q "fenced: another instance with transactional.id '${ECOM_TOPIC_PREFIX}${ECOM_GROUP}-payment-1' took over" \
		"$BATS_TEST_TMPDIR/zombie.err" || fail "the zombie said: $(cat "$BATS_TEST_TMPDIR/zombie.err")"
	for _ in $(seq 600); do
		n=$(ecom-consume -q -t "$topic" -e | jq -r .eventId | sort -u | grep -c . || true)
		((n == 30)) && break
		sleep 0.1
	done
	assert_equal "distinct: $n" "distinct: 30"
	assert_equal "events: $(ecom-consume -q -t "$topic" -e | grep -c .)" "events: 30"
}
