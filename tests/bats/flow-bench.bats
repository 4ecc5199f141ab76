#!/usr/bin/env bats
# ecom-bench runs the whole flow in one process: every order through
# every stage exactly once, and a report that adds up.

load helpers

setup() {
	require_stack mongodb
}

@test "ecom-bench stores exactly N documents per collection and every order is fulfilled" {
	run --separate-stderr ecom-bench -n 200 --floor-samples 5 --no-progress
	assert_success
	echo "$output" | jq -e '.orders == 200 and .end_to_end_latency.count == 200' >/dev/null
	run --separate-stderr ecom-reconcile --audit
	assert_success
	echo "$output" | jq -e '.ok == true and .fulfilled == 200' >/dev/null
	for t in ordercreated paymentcompleted inventoryupdated ordershipped orderfulfilled; do
		assert_equal "$(echo "$output" | jq ".counts.$t")" 200
	done
}

@test "ecom-bench with a window keeps several orders in flight and still stores exactly N" {
	run --separate-stderr ecom-bench -n 200 --window 8 --floor-samples 5 --no-progress
	assert_success
	echo "$output" | jq -e '.orders == 200 and .window == 8' >/dev/null
	run --separate-stderr ecom-reconcile --audit
	assert_success
	echo "$output" | jq -e '.ok and .counts.orderfulfilled == 200 and .counts.ordercreated == 200' >/dev/null
}

@test "ecom-bench reports the floor measured in the same run and the ratio to it" {
	run --separate-stderr ecom-bench -n 20 --floor-samples 5 --no-progress
	assert_success
	echo "$output" | jq -e '.floor.kafka_round_trip_ms > 0 and .floor.store_upsert_ms > 0
		and .elapsed_over_floor > 0 and .peak_rss_kib > 0
		and (.stage_latency | keys | length) == 5' >/dev/null
}
