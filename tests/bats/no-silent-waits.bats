#!/usr/bin/env bats
# Nothing waits in silence: a stalled flow says where its orders wait,
# and the waits that used to hang end with a message.

load helpers

setup() {
	require_stack postgresql
}

teardown() {
	stop_all_bg
}

# The drive waits for its second order: the fulfillment stage is not running.
drive_without_fulfillment() {
	ecom-reconcile -q --reset
	for stage in payment inventory shipping; do
		start_bg "$stage" ecom-consume --stage "$stage"
	done
	ECOM_STALL_WARN_MS=2000 start_bg reconcile ecom-reconcile --drive 2
	for _ in $(seq 300); do
		grep -q "no order completed" "$BATS_TEST_TMPDIR/reconcile.err" && break
		sleep 0.1
	done
	# Nothing but the one order, on the one topic nobody reads: the stages that are
	# running have read everything there is to read.
	run grep -m1 "no order completed" "$BATS_TEST_TMPDIR/reconcile.err"
	assert_output --regexp "no order completed for [0-9]+ s \(0 of 2 fulfilled, 1 in flight\); messages waiting: 1 on '${ECOM_TOPIC_PREFIX}ordershipped' \(is the fulfillment stage running\?\)$"
	# With the stage back, the drive ends by itself.
	start_bg fulfillment ecom-consume --stage fulfillment
	status=0
	wait "$(<"$BATS_TEST_TMPDIR/reconcile.pid")" || status=$?
	rm -f "$BATS_TEST_TMPDIR/reconcile.pid"
	assert_equal "$status" 0
	assert_exactly_n_orders 2
}

@test "a drive whose fulfillment stage is missing names the topic where the order waits" {
	drive_without_fulfillment
}

@test "under exactly_once the stall warning counts events, not the transactions' commit markers" {
	# Each committed transaction leaves a marker after the offsets its reader commits.
	export ECOM_PROCESSING_GUARANTEE=exactly_once
	drive_without_fulfillment
}

@test "ecom-persist -t -e after a store failure exits 1 with the reason, never hangs" {
	ecom-reconcile -q --reset
	# A trigger that refuses every write: a failure of the store, not of the data.
	psql -qAt "$ECOM_POSTGRES_URI" -c "
		create function $ECOM_DATABASE.refuse() returns trigger language plpgsql as
			\$\$ begin raise exception 'writes are off today'; end \$\$;
		create trigger refuse before insert on $ECOM_DATABASE.ordercreated
			for each statement execute function $ECOM_DATABASE.refuse()"
	ecom-produce -q --generate 3
	run --separate-stderr timeout 60 ecom-persist -t "${ECOM_TOPIC_PREFIX}ordercreated" -e
	assert_equal "$status" 1
	assert_equal "$stderr" "ecom-persist: cannot store ordercreated events in '$(redact_uri "$ECOM_POSTGRES_URI")': writes are off today"
}

@test "ecom-persist -t on a topic that does not exist says so at once" {
	run --separate-stderr timeout 30 ecom-persist -t "${ECOM_TOPIC_PREFIX}nosuch" -e
	assert_equal "$status" 1
	assert_equal "$stderr" "ecom-persist: topic '${ECOM_TOPIC_PREFIX}nosuch' does not exist"
}

@test "ecom-persist -t stops on SIGTERM and commits what it stored" {
	ecom-reconcile -q --reset
	ecom-produce -q --generate 3
	start_bg persist ecom-persist -t "${ECOM_TOPIC_PREFIX}ordercreated"
	for _ in $(seq 300); do
		[[ "$(store_count ordercreated)" == 3 ]] && break
		sleep 0.1
	done
	kill -TERM "$(<"$BATS_TEST_TMPDIR/persist.pid")"
	status=0
	timeout 30 tail --pid="$(<"$BATS_TEST_TMPDIR/persist.pid")" -f /dev/null || status=$?
	assert_equal "$status" 0
	assert_equal "$(cat "$BATS_TEST_TMPDIR/persist.out")" '{"read":3,"written":3,"duplicates":0,"rejected":0}'
	# The committed offsets, read back by another client: kcat in
	# ecom-persist's group starts where the group committed, so with two
	# more orders produced it must print exactly offsets 3 and 4 (a group
	# with nothing committed starts at 0: auto.offset.reset=earliest).
	ecom-produce -q --generate 2
	run --separate-stderr timeout 60 "${KCAT[@]}" \
		-G "${ECOM_TOPIC_PREFIX}${ECOM_GROUP}-persist" -X auto.offset.reset=earliest \
		-X enable.auto.commit=false -e -q -f '%p:%o\n' "${ECOM_TOPIC_PREFIX}ordercreated"
	assert_success
	assert_output "0:3
0:4"
}

@test "ecom-bench's floor measurement never hangs (ten runs in a row)" {
	for i in $(seq 10); do
		run --separate-stderr timeout 60 ecom-bench -n 1 --floor-samples 1 --no-progress
		[[ $status -eq 0 ]] || fail "run $i: exit $status: $stderr"
	done
}
