#!/usr/bin/env bats
# Poison events cost only themselves: an event a store cannot hold is
# dead-lettered with the reason, the good events around it in the same
# batch are stored and forwarded, and the stage goes on.

load helpers

setup() {
	require_stack postgresql
	ecom-reconcile -q --reset
}

teardown() {
	stop_all_bg
}

topic() { printf '%s%s' "$ECOM_TOPIC_PREFIX" "$1"; }

# Messages on a topic, read to its end.
topic_count() { ecom-consume -t "$(topic "$1")" -e 2>/dev/null | wc -l; }

# One good order, as JSON, optionally edited by a jq filter.
order() { ecom-produce --generate 1 --stdout | jq -c "${1:-.}"; }

# Wait until topic holds n messages (60 s at most).
wait_for_topic() {
	local name=$1 want=$2 n=0
	for _ in $(seq 600); do
		n=$(topic_count "$name")
		((n >= want)) && return 0
		sleep 0.1
	done
	fail "'$name' holds $n messages after 60 s, waited for $want"
}

# good, poison, good as raw messages (kcat: no validation on the way in)
# into ordercreated, in one batch for the payment stage; then: exactly
# one dead letter naming the reason, both good orders stored and
# forwarded, the stage alive.
assert_poison_costs_only_itself() {
	local poison=$1 reason=$2
	{ order; printf '%s\n' "$poison"; order; } >"$BATS_TEST_TMPDIR/batch.jsonl"
	"${KCAT[@]}" -P -t "$(topic ordercreated)" <"$BATS_TEST_TMPDIR/batch.jsonl"
	start_bg payment ecom-consume --stage payment
	wait_for_topic paymentcompleted 2
	wait_for_topic deadletter 1
	kill -0 "$(<"$BATS_TEST_TMPDIR/payment.pid")" || fail "the stage died: $(cat "$BATS_TEST_TMPDIR/payment.err")"
	run --separate-stderr ecom-consume -t "$(topic deadletter)" -e --envelope
	assert_success
	assert_equal "$(echo "$output" | wc -l)" 1
	echo "$output" | jq -e --arg reason "$reason" --arg source "$(topic ordercreated)" \
		'(.headers["ecom-error"] | contains($reason)) and .headers["ecom-source-topic"] == $source' \
		>/dev/null || fail "dead letter: $output; expected a reason containing: $reason"
	assert_equal "$(store_count ordercreated)" 2
	assert_equal "$(topic_count paymentcompleted)" 2
}

@test "an orderPrice of 10^10 is dead-lettered alone" {
	assert_poison_costs_only_itself "$(order '.payload.lineItems = [.payload.lineItems[0] + {quantity: 2, itemPrice: "5000000000.00"}] | .payload.orderPrice = "10000000000.00"')" \
		"field 'payload.orderPrice': expected an amount below 10000000000.00"
}

@test "a date in the year 0000 is dead-lettered alone" {
	assert_poison_costs_only_itself "$(order '.eventCreatedDate = "0000-06-01T00:00:00.000Z"')" \
		"field 'eventCreatedDate': expected an ISO-8601 UTC date"
}

@test "a NUL character in a string is dead-lettered alone" {
	assert_poison_costs_only_itself "$(order '.payload.lineItems[0].itemName = "wid\u0000get"')" \
		"field 'payload.lineItems.0.itemName': expected a string without NUL characters"
}

@test "a top-level key \$where is dead-lettered alone" {
	assert_poison_costs_only_itself "$(order '. + {"$where": "1"}')" \
		"field '\$where': key starts with '\$' (MongoDB refuses it)"
}

@test "a key with a dot is dead-lettered alone" {
	assert_poison_costs_only_itself "$(order '. + {"a.b": 1}')" \
		"field 'a.b': key contains '.' (MongoDB refuses it)"
}

@test "an empty key is dead-lettered alone" {
	assert_poison_costs_only_itself "$(order '. + {"": 1}')" "field '': empty key (MongoDB refuses it)"
}

@test "an extra _id is dead-lettered alone" {
	assert_poison_costs_only_itself "$(order '. + {"_id": "mine"}')" \
		"field '_id': reserved (the store sets it to eventId)"
}

@test "NaN in an unknown field is dead-lettered alone" {
	assert_poison_costs_only_itself "$(order '. + {"score": {"$numberDouble": "NaN"}}')" \
		"field 'score': expected a finite number, got nan"
}

@test "an event the database refuses (a CHECK constraint) is dead-lettered with the server's reason" {
	psql -qAt "$ECOM_POSTGRES_URI" -c "alter table $ECOM_DATABASE.ordercreated
		add constraint refuse_flagged check (doc->>'refuse' is null)"
	assert_poison_costs_only_itself "$(order '. + {"refuse": "yes"}')" \
		'the store refused it: cannot store ordercreated events in'
	run --separate-stderr ecom-consume -t "$(topic deadletter)" -e --envelope
	echo "$output" | jq -e '.headers["ecom-error"] | contains("violates check constraint \"refuse_flagged\"")' >/dev/null ||
		fail "the server's reason is not in the dead letter: $output"
}

@test "a message near the size limit is dead-lettered cut to fit, with its length, and the stage goes on" {
	# 999,900 bytes: it fits the limit (message.max.bytes, 1,000,000), its
	# copy with the reason headers would not.
	head -c 999900 /dev/zero | tr '\0' 'x' >"$BATS_TEST_TMPDIR/big"
	{ order; } >"$BATS_TEST_TMPDIR/good.jsonl"
	"${KCAT[@]}" -P -t "$(topic ordercreated)" "$BATS_TEST_TMPDIR/big"
	"${KCAT[@]}" -P -t "$(topic ordercreated)" <"$BATS_TEST_TMPDIR/good.jsonl"
	start_bg payment ecom-consume --stage payment
	wait_for_topic paymentcompleted 1
	wait_for_topic deadletter 1
	kill -0 "$(<"$BATS_TEST_TMPDIR/payment.pid")" || fail "the stage died: $(cat "$BATS_TEST_TMPDIR/payment.err")"
	run --separate-stderr ecom-consume -t "$(topic deadletter)" -e --envelope
	echo "$output" | jq -e '.headers["ecom-truncated"] == "999900" and (.value | length) < 999900
		and (.headers["ecom-error"] | startswith("not a JSON object"))' >/dev/null ||
		fail "dead letter: $(echo "$output" | jq -c '.headers')"
	run cat "$BATS_TEST_TMPDIR/payment.err"
	assert_output --partial "(sent to '$(topic deadletter)', cut to fit)"
}
