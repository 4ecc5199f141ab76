#!/usr/bin/env bats
# The reports split each Kafka hop with librdkafka's own statistics
# (statistics.interval.ms): the producer's queue, send buffer and the
# broker's round trip, the consumer's fetches and local queue.  The
# oracles are the run's own measures taken apart from librdkafka: the
# orders counted, the hop each stage timed with its own clock.

load helpers

setup() {
	require_stack postgresql
}

teardown() {
	stop_all_bg
}

# A run's report has the split for each stage and for the floor, with
# figures no larger than the hop the stage timed itself.
@test "ecom-bench's report splits every stage's hop and the floor's round trip" {
	run --separate-stderr ecom-bench -n 40 -w 1 --floor-samples 5 --no-progress \
		-X statistics.interval.ms=100
	assert_success
	echo "$output" | jq -e '.complete and .orders == 40' >/dev/null || fail "report: $output"
	# Every stage: documents taken, the producer's three times counted and
	# positive, each mean within its max; the local queue, timed by ecom,
	# within the hop it is part of.
	echo "$output" | jq -e 'all(.stages[];
		.kafka.producer.documents > 0 and .kafka.consumer.documents > 0
		and ([.kafka.producer.client_queue_int_latency, .kafka.producer.send_buffer_outbuf_latency,
		      .kafka.producer.broker_round_trip_rtt][] | .count > 0 and .mean_ms > 0
		      and .max_ms >= .mean_ms)
		and .kafka.consumer.fetch_round_trip_rtt.count > 0
		and .kafka.consumer.local_queue_ecom.count > 0
		and .kafka.consumer.local_queue_ecom.count <= .hop.count
		and .kafka.consumer.local_queue_ecom.max_ms <= .hop.max_ms
		and .kafka.consumer.fetch_queue_messages >= 0)' >/dev/null ||
		fail "stages: $(echo "$output" | jq -c '.stages | map_values({hop, kafka})')"
	# The floor's meter: its produce requests counted (librdkafka's last
	# interval before the end is in no document, so not all of them), and
	# ecom's own timing of the local queue, one per hop of each chain timed.
	echo "$output" | jq -e '.floor.kafka.producer.broker_round_trip_rtt.count > 0
		and .floor.kafka.producer.broker_round_trip_rtt.mean_ms > 0
		and .floor.kafka.consumer.local_queue_ecom.count >= .floor.samples * 5' >/dev/null ||
		fail "floor: $(echo "$output" | jq -c .floor)"
}

@test "statistics.interval.ms=0 turns librdkafka's statistics off; the local queue is still timed" {
	run --separate-stderr ecom-bench -n 10 -w 1 --floor-samples 2 --no-progress \
		-X statistics.interval.ms=0
	assert_success
	echo "$output" | jq -e 'all(.stages[] | .kafka;
		.producer.documents == 0 and .consumer.documents == 0
		and .producer.broker_round_trip_rtt == {count: 0, mean_ms: null, p99_ms: null, max_ms: null}
		and .consumer.fetch_queue_messages == null and .consumer.consumer_lag_messages == null
		and .consumer.local_queue_ecom.count > 0)' >/dev/null ||
		fail "stages: $(echo "$output" | jq -c '.stages | map_values(.kafka)')"
}

@test "ecom-reconcile --drive reports its stage's split" {
	ecom-reconcile -q --reset
	start_stages
	run --separate-stderr ecom-reconcile --drive 30 -X statistics.interval.ms=100
	assert_success
	echo "$output" | jq -e '.complete and .orders == 30
		and .kafka.producer.documents > 0 and .kafka.producer.broker_round_trip_rtt.count > 0
		and .kafka.producer.broker_round_trip_rtt.mean_ms > 0
		and .kafka.consumer.local_queue_ecom.count > 0' >/dev/null || fail "report: $output"
	assert_exactly_n_orders 30
}

@test "-X dump shows the statistics interval, and a value given wins" {
	run --separate-stderr ecom-bench -X dump
	assert_success
	assert_line '  statistics.interval.ms: "1000"  # ecom-produce: 0 unless given'
	run --separate-stderr ecom-bench -X statistics.interval.ms=250 -X dump
	assert_success
	assert_line '  statistics.interval.ms: "250"  # given'
	refute_line '  statistics.interval.ms: "1000"  # ecom-produce: 0 unless given'
}

@test "a bad statistics interval is a config error, before anything is produced" {
	local before
	ecom-produce -q --generate 2
	before=$(ecom-consume -q -t "${ECOM_TOPIC_PREFIX}ordercreated" -e | wc -l)
	assert_equal "$before" 2 # the read itself works
	run --separate-stderr ecom-bench -n 5 --no-progress -X statistics.interval.ms=-1
	assert_failure 2
	assert_output ""
	[[ $stderr == "ecom-bench: kafka property 'statistics.interval.ms=-1': "*"outside allowed range"* ]] ||
		fail "stderr: $stderr"
	assert_equal "$(ecom-consume -q -t "${ECOM_TOPIC_PREFIX}ordercreated" -e | wc -l)" "$before"
}
