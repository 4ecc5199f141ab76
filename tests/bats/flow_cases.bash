# The flow's correctness cases, one function each, run against every
# store by flow-mongodb.bats and flow-postgresql.bats (same assertions).
# Each test has its own topics and database (helpers.bash).

case_bench_stores_exactly_n() {
	run --separate-stderr ecom-bench -n 200 --floor-samples 5 --no-progress
	assert_success
	echo "$output" | jq -e --arg store "$ECOM_STORE" \
		'.store == $store and .orders == 200 and .end_to_end_latency.count == 200' >/dev/null
	assert_server_named "$output" .server "$ECOM_STORE"
	local summary
	summary="$ECOM_STORE on $(server_says "$ECOM_STORE"): at_least_once: 200 orders in"
	[[ $stderr == *"$summary"* ]] || fail "no summary line '$summary' in: $stderr"
	assert_exactly_n_orders 200
}

case_bench_window_stores_exactly_n() {
	run --separate-stderr ecom-bench -n 200 --window 8 --floor-samples 5 --no-progress
	assert_success
	# Many in flight: the floor of a chain of waits means nothing; the ceiling does.
	echo "$output" | jq -e '.orders == 200 and .window == 8 and .elapsed_over_floor == null
		and .ceiling.kafka_s > 0 and .ceiling.store_s > 0
		and .ceiling.ceiling_s == ([.ceiling.kafka_s, .ceiling.store_s] | max)
		and .ceiling.slower == (if .ceiling.store_s > .ceiling.kafka_s then "store" else "kafka" end)
		and .elapsed_over_ceiling > 0
		and .floor.timed != "in the run" and .floor.order_in_run_ms == null
		and .floor.paused_s == 0' >/dev/null || fail "report: $output"
	assert_exactly_n_orders 200
}

# Messages in a topic, counted by kcat rather than by ecom.
topic_message_count() {
	"${KCAT[@]}" -C -t "${ECOM_TOPIC_PREFIX}$1" -e -q -f '%o\n' | wc -l
}

case_bench_reports_floor_and_ratio() {
	local t0 t1 stage topic counts=()
	t0=$(date +%s%3N)
	run --separate-stderr ecom-bench -n 20 --floor-samples 5 --no-progress
	t1=$(date +%s%3N)
	assert_success
	# Every order and every hop was timed.  The floor is the mean of 5
	# chains of one order's work timed between the run's orders, and the
	# flow's clock stood still meanwhile.  Checked against the test's own
	# clock: the run, its pauses and the 5 timed chains all fit between t0
	# and t1; and so does the floor scaled back to the 5 chains it is made of.
	echo "$output" | jq -e --argjson t0 "$t0" --argjson t1 "$t1" '
		def ms: (.[0:19] + "Z" | fromdate) * 1000 + (.[20:23] | tonumber);
		.floor.kafka_round_trip_ms > 0 and .floor.store_write_ms > 0
		and .floor.store_mark_ms > 0 and .end_to_end_latency.count == 20
		and (.stages | keys | length) == 5
		and .floor.timed == "in the run" and .floor.samples == 5
		and .floor.order_ms == .floor.order_in_run_ms
		and .floor.order_before_ms > 0 and .floor.order_after_ms > 0
		and .floor.order_median_ms > 0 and .floor.paused_s > 0
		and (.start | ms) >= $t0 and (.end | ms) <= $t1
		and 1000 * (.elapsed_s + .floor.paused_s) <= $t1 - $t0
		and .floor.samples * .floor.order_ms <= 1000 * .floor.paused_s
		and .floor.samples * 1000 * .floor.floor_s / .orders <= $t1 - $t0
		and .elapsed_over_floor > 0
		and .ceiling == null and .peak_rss_kib > 0' >/dev/null ||
		fail "report (test clock $t0 to $t1 ms): $output"
	# Each stage timed one hop per message of its input topic, as kcat counts them.
	for stage in payment:ordercreated inventory:paymentcompleted shipping:inventoryupdated \
		fulfillment:ordershipped reconcile:orderfulfilled; do
		topic=${stage#*:}
		stage=${stage%%:*}
		counts+=("$stage $(jq ".stages.$stage.hop.count" <<<"$output") $(topic_message_count "$topic")")
	done
	assert_equal "$(printf '%s\n' "${counts[@]}")" "$(printf '%s 20 20\n' payment inventory shipping fulfillment reconcile)"
	assert_exactly_n_orders 20
}

case_stage_processes_take_n_orders() {
	ecom-reconcile -q --reset
	start_stages
	run --separate-stderr timeout 300 ecom-reconcile --drive 200
	assert_success
	echo "$output" | jq -e '.orders == 200' >/dev/null
	assert_exactly_n_orders 200
}

case_stage_killed_and_restarted() {
	ecom-reconcile -q --reset
	start_stages
	start_bg reconcile timeout 300 ecom-reconcile --drive 200
	wait_for_fulfilled 40
	kill -KILL "$(<"$BATS_TEST_TMPDIR/shipping.pid")"
	sleep 1
	start_bg shipping ecom-consume --stage shipping
	local pid status=0
	pid=$(<"$BATS_TEST_TMPDIR/reconcile.pid")
	wait "$pid" || status=$?
	rm -f "$BATS_TEST_TMPDIR/reconcile.pid"
	[[ $status -eq 0 ]] || fail "ecom-reconcile exited $status: $(cat "$BATS_TEST_TMPDIR/reconcile.err")"
	assert_exactly_n_orders 200
}

case_reconcile_killed_and_restarted() {
	ecom-reconcile -q --reset
	start_stages
	start_bg reconcile ecom-reconcile --drive 100
	wait_for_fulfilled 30
	kill -KILL "$(<"$BATS_TEST_TMPDIR/reconcile.pid")"
	rm -f "$BATS_TEST_TMPDIR/reconcile.pid"
	run timeout 300 ecom-reconcile --drive 100
	assert_success
	assert_exactly_n_orders 100
}

case_repeated_fulfilment_starts_nothing() {
	ecom-reconcile -q --reset
	start_stages
	run timeout 300 ecom-reconcile --drive 5
	assert_success
	# Replay every fulfilment; the next run reads the five repeats first,
	# and none may count, so exactly one more order is created.
	ecom-consume -t "${ECOM_TOPIC_PREFIX}orderfulfilled" -e >"$BATS_TEST_TMPDIR/fulfilled.jsonl"
	run bash -c "ecom-produce -t '${ECOM_TOPIC_PREFIX}orderfulfilled' <'$BATS_TEST_TMPDIR/fulfilled.jsonl'"
	assert_success
	run timeout 60 ecom-reconcile --drive 6
	assert_success
	assert_exactly_n_orders 6
}

case_count_mismatch_stops_reconcile() {
	ecom-reconcile -q --reset
	# Orders in the store that the flow never created.
	ecom-produce --generate 3 --stdout | ecom-persist >/dev/null
	start_stages
	run timeout 120 ecom-reconcile --drive 5
	assert_failure 1
	assert_output --regexp "ecom-reconcile: count mismatch: [0-9]+ orders created, [0-9]+ fulfilled"
}

case_run_flow_script() {
	export ECOM_RUN_DIR="$BATS_TEST_TMPDIR/run"
	run --separate-stderr timeout 300 "$ECOM_SRCDIR/scripts/run-flow.sh" -n 100
	assert_success
	echo "$output" | jq -e '.orders == 100' >/dev/null
	assert_exactly_n_orders 100
	# It started four stage processes and the driver, and every one has stopped.
	assert_equal "$(wc -l <"$ECOM_RUN_DIR/processes")" 5
	local pid name
	while read -r pid name; do
		run kill -0 "$pid"
		assert_failure
	done <"$ECOM_RUN_DIR/processes"
}
