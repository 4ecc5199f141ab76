#!/usr/bin/env bats
# ecom beside the Spring Boot application it reimplements (issue 23): the
# application's own messages, as kcat captured them from its topics
# (tests/data/spring-wire: null keys, one __TypeId__ header, no
# eventType), are read by ecom-persist and by the stages; --wire spring
# writes the application's form; its bad conversions are dead-lettered
# with the field they fail on.

load helpers

setup() {
	require_stack "${STORE:-mongodb}"
	ecom-reconcile -q --reset
	DATA=$ECOM_SRCDIR/tests/data/spring-wire
}

teardown() {
	stop_all_bg
}

topic() { printf '%s%s' "$ECOM_TOPIC_PREFIX" "$1"; }

# Messages on a topic, read to its end.
topic_count() { ecom-consume -t "$(topic "$1")" -e 2>/dev/null | wc -l; }

# Wait until topic holds n messages (60 s at most).
wait_for_topic() {
	local name=$1 want=$2 n=0
	for _ in $(seq 600); do
		n=$(topic_count "$name")
		((n >= want)) && return 0
		sleep 0.1
	done
	fail "'$name' holds $n messages after 60 s, waited for $want$(tail -n 3 "$BATS_TEST_TMPDIR"/*.err 2>/dev/null)"
}

# The captured messages of one topic, as the application sent them: the
# bare values, a null key (kcat -P without -K), its __TypeId__ header.
# $2, a jq filter, may edit each value.
produce_captured() {
	local name=$1 filter=${2:-.} type_id
	type_id=$(head -n 1 "$DATA/$name.jsonl" | jq -r '.headers[1]')
	jq -r '.payload' "$DATA/$name.jsonl" | jq -c "$filter" |
		"${KCAT[@]}" -P -t "$(topic "$name")" -H "__TypeId__=$type_id"
}

@test "ecom-persist stores the application's 25 messages, read from its topics" {
	local name
	for name in ordercreated paymentcompleted inventoryupdated ordershipped orderfulfilled; do
		produce_captured "$name"
		run --separate-stderr ecom-persist -t "$(topic "$name")" -e
		assert_success
		assert_equal "$output" '{"read":5,"written":5,"duplicates":0,"rejected":0}'
	done
	run --separate-stderr ecom-reconcile --audit
	echo "$output" | jq -e '[.counts[]] | length == 5 and all(. == 5)' >/dev/null ||
		fail "audit: $output"
}

@test "ecom-persist refuses an application's event with a sub-cent amount, naming the field" {
	produce_captured paymentcompleted '.payload.paymentAmount = 371.585'
	run --separate-stderr ecom-persist -t "$(topic paymentcompleted)" -e
	assert_failure 1
	assert_equal "$output" '{"read":5,"written":0,"duplicates":0,"rejected":5}'
	assert_regex "$stderr" "ecom-persist: $(topic paymentcompleted)\[0\]:0: field 'payload.paymentAmount': expected an amount in whole cents, got 371.585 \(skipped\)"
}

@test "ecom-persist on PostgreSQL: the application's doubles are exact cents, its ids numbers" {
	STORE=postgresql setup
	produce_captured ordercreated
	run --separate-stderr ecom-persist -t "$(topic ordercreated)" -e
	assert_success
	assert_equal "$output" '{"read":5,"written":5,"duplicates":0,"rejected":0}'
	# 371.58000000000004 is stored as the numeric 371.58, the ids as the numbers 1 to 4.
	run psql "$ECOM_POSTGRES_URI" -XAtc "SELECT DISTINCT order_price,
		jsonb_path_query_array(doc, '\$.payload.lineItems[*].itemInventoryId')
		FROM $ECOM_DATABASE.ordercreated"
	assert_success
	assert_output '371.58|[1, 2, 3, 4]'
	run --separate-stderr ecom-reconcile --audit
	echo "$output" | jq -e '.counts.ordercreated == 5' >/dev/null || fail "audit: $output"
}

# The first mixed pipeline of ecom(7) with the application's ends played
# by its captured orders and by a check of what its fulfilment listener
# would read: every order through ecom's four middle stages, stored by
# each, and orderfulfilled in the application's form.
@test "ecom's four middle stages take the application's orders and hand on its form" {
	local stage
	produce_captured ordercreated
	for stage in payment inventory shipping fulfillment; do
		start_bg "$stage" ecom-consume --stage "$stage" --wire spring
	done
	wait_for_topic orderfulfilled 5
	run --separate-stderr ecom-reconcile --audit
	echo "$output" | jq -e '.counts == {ordercreated: 5, paymentcompleted: 5,
		inventoryupdated: 5, ordershipped: 5, orderfulfilled: 0}' >/dev/null || fail "audit: $output"
	run --separate-stderr ecom-consume -t "$(topic orderfulfilled)" -e --envelope
	echo "$output" | jq -se 'length == 5 and all(.[];
		.headers.__TypeId__ == "com.dbm.main.mongo.model.OrderFulfillmentEvent"
		and (.value.payload | keys) == ["orderFulfillmentDate"])' >/dev/null ||
		fail "orderfulfilled: $output"
	run --separate-stderr ecom-consume -t "$(topic ordershipped)" -e
	echo "$output" | jq -se 'all(.[]; .payload.shippingDays == 2)' >/dev/null || fail "ordershipped: $output"
	assert_equal "$(topic_count deadletter)" 0
}

@test "a stage with --wire spring writes the application's form, header included" {
	produce_captured ordercreated
	start_bg payment ecom-consume --stage payment --wire spring
	wait_for_topic paymentcompleted 5
	run --separate-stderr ecom-consume -t "$(topic paymentcompleted)" -e --envelope
	assert_success
	# The captured eventIds, each the key, each value the application's shape.
	diff <(jq -r '.payload | fromjson | .eventId' "$DATA/ordercreated.jsonl" | sort) \
		<(echo "$output" | jq -r .key | sort)
	echo "$output" | jq -se 'all(.[];
		.headers.__TypeId__ == "com.dbm.main.mongo.model.PaymentCompletedEvent"
		and (.value | keys) == ["eventCreatedDate", "eventId", "id", "payload"]
		and .value.id == null and (.value.eventCreatedDate | type) == "number"
		and .value.payload.paymentAmount == 371.58
		and (.value.payload.paymentCompletedDate | type) == "number")' >/dev/null ||
		fail "paymentcompleted: $output"
	# Byte for byte as Jackson writes it: compact, the shortest doubles.
	run --separate-stderr ecom-consume -t "$(topic paymentcompleted)" -e
	assert_line --regexp '^\{"id":null,"eventId":"[0-9a-f-]{36}","eventCreatedDate":[0-9]+,"payload":\{"paymentCompletedDate":[0-9]+,"paymentAmount":371\.58\}\}$'
}

@test "ecom-produce --wire spring writes the application's order" {
	run --separate-stderr ecom-produce --generate 3 --wire spring
	assert_success
	run --separate-stderr ecom-consume -t "$(topic ordercreated)" -e --envelope
	assert_success
	echo "$output" | jq -se 'length == 3 and all(.[];
		.headers.__TypeId__ == "com.dbm.main.mongo.model.OrderCreatedEvent"
		and .key == .value.eventId
		and ([.value.payload.lineItems[].itemInventoryId] == [1, 2, 3, 4])
		and .value.payload.lineItems[0].itemDescription == "Super awesome widget that does I know not what"
		and .value.payload.orderPrice == 371.58 and .value.payload.orderIsFullfilled == false
		and (.value | has("eventType") | not))' >/dev/null || fail "ordercreated: $output"
	# The other way round: ecom-produce -t reads the application's lines, typed by the topic.
	jq -r '.payload' "$DATA/paymentcompleted.jsonl" >"$BATS_TEST_TMPDIR/payments.jsonl"
	ECOM_WIRE=ecom run --separate-stderr ecom-produce -t "$(topic paymentcompleted)" \
		<"$BATS_TEST_TMPDIR/payments.jsonl"
	assert_success
	assert_equal "$stderr" "ecom-produce: produced 5 events to '$(topic paymentcompleted)'"
	run --separate-stderr ecom-consume -t "$(topic paymentcompleted)" -e
	echo "$output" | jq -se 'length == 5 and all(.[]; .eventType == "paymentcompleted"
		and .payload.paymentAmount == "371.58")' >/dev/null || fail "paymentcompleted: $output"
	# In the form asked for, a line goes byte for byte, with its header.
	jq -r '.payload' "$DATA/inventoryupdated.jsonl" >"$BATS_TEST_TMPDIR/inventory.jsonl"
	run --separate-stderr ecom-produce -t "$(topic inventoryupdated)" --wire spring \
		<"$BATS_TEST_TMPDIR/inventory.jsonl"
	assert_success
	run --separate-stderr ecom-consume -t "$(topic inventoryupdated)" -e
	assert_equal "$output" "$(jq -r '.payload' "$DATA/inventoryupdated.jsonl")"
	run --separate-stderr ecom-consume -t "$(topic inventoryupdated)" -e --envelope
	echo "$output" | jq -se 'length == 5 and all(.[];
		.headers.__TypeId__ == "com.dbm.main.mongo.model.InventoryUpdatedEvent"
		and .key == .value.eventId)' >/dev/null || fail "inventoryupdated: $output"
}

# One captured order edited by $1 (a jq filter on the value) with header
# $2, produced between two good ones; the stage dead-letters it alone
# with a reason containing $3.
assert_dead_lettered() {
	local filter=$1 type_id=$2 reason=$3 good
	good=$(head -n 1 "$DATA/ordercreated.jsonl" | jq -r .payload)
	{
		printf '%s\n' "$good" | "${KCAT[@]}" -P -t "$(topic ordercreated)" \
			-H "__TypeId__=com.dbm.main.mongo.model.OrderCreatedEvent"
		printf '%s\n' "$good" | jq -c "$filter" |
			"${KCAT[@]}" -P -t "$(topic ordercreated)" -H "__TypeId__=$type_id"
		sed -n 2p "$DATA/ordercreated.jsonl" | jq -r .payload |
			"${KCAT[@]}" -P -t "$(topic ordercreated)" \
				-H "__TypeId__=com.dbm.main.mongo.model.OrderCreatedEvent"
	}
	start_bg payment ecom-consume --stage payment
	wait_for_topic paymentcompleted 2
	wait_for_topic deadletter 1
	run --separate-stderr ecom-consume -t "$(topic deadletter)" -e --envelope
	assert_success
	assert_equal "$(echo "$output" | wc -l)" 1
	echo "$output" | jq -e --arg reason "$reason" '.headers["ecom-error"] | contains($reason)' \
		>/dev/null || fail "dead letter: $output; expected a reason containing: $reason"
	assert_equal "$(store_count ordercreated)" 2
}

@test "an orderPrice with a sub-cent digit is dead-lettered, naming the field" {
	assert_dead_lettered '.payload.orderPrice = 371.585' com.dbm.main.mongo.model.OrderCreatedEvent \
		"field 'payload.orderPrice': expected an amount in whole cents, got 371.585"
}

@test "an unknown __TypeId__ is dead-lettered, naming the header" {
	assert_dead_lettered '.' com.dbm.main.mongo.model.OrderCancelledEvent \
		"header '__TypeId__': unknown class 'com.dbm.main.mongo.model.OrderCancelledEvent'"
}

@test "a date past the year 9999 is dead-lettered, naming the field" {
	assert_dead_lettered '.eventCreatedDate = 253402300800000' com.dbm.main.mongo.model.OrderCreatedEvent \
		"field 'eventCreatedDate': expected epoch milliseconds in the years 0001 to 9999, got 253402300800000"
}

@test "ecom-bench -n 200 --wire spring on MongoDB: the flow and the store in the application's form, audit clean" {
	export ECOM_WIRE=spring
	run --separate-stderr ecom-bench -n 200 --floor-samples 1 --no-progress
	assert_success
	assert_exactly_n_orders 200
	run --separate-stderr ecom-reconcile --audit
	echo "$output" | jq -e '.form == "spring" and (.form_differences | length) == 3' >/dev/null ||
		fail "audit: $output"
}

@test "ecom-bench -n 200 --wire spring on PostgreSQL: the flow in the application's form, audit clean" {
	STORE=postgresql setup
	export ECOM_WIRE=spring
	run --separate-stderr ecom-bench -n 200 --floor-samples 1 --no-progress
	assert_success
	# PostgreSQL keeps ecom's own store form whatever the wire.
	assert_exactly_n_orders 200
	run --separate-stderr ecom-reconcile --audit
	echo "$output" | jq -e 'has("form") | not' >/dev/null || fail "audit: $output"
}
