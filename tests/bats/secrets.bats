#!/usr/bin/env bats
# No secret is ever printed.  A canary password goes into every place a
# secret can be configured (environment, config file, flags, a URI on
# the command line); commands that succeed and commands that fail run
# with it, and none of their output, reports, plot or dead letters may
# hold it.

load helpers

setup() {
	require_stack postgresql
	CANARY="Canary-S3cret-$RANDOM$RANDOM"
	ROLE="canary_${ECOM_DATABASE,,}"
	# A role of its own with the canary as its password, so that the
	# commands that succeed have the secret in their URI too.
	psql -qAt "$ECOM_POSTGRES_URI" -c "create role $ROLE login password '$CANARY';
		grant create on database ecommerce to $ROLE"
	CANARY_URI=$(sed -E "s|//[^@]*@|//$ROLE:$CANARY@|" <<<"$ECOM_POSTGRES_URI")
	OUT="$BATS_TEST_TMPDIR/out"
	mkdir -p "$OUT"
}

teardown() {
	stop_all_bg
	psql -qAt "$ECOM_POSTGRES_URI" -c "drop schema if exists $ECOM_DATABASE cascade;
		drop owned by $ROLE; drop role if exists $ROLE" >/dev/null 2>&1 || true
}

# keep STATUS cmd...: run cmd with stdout and stderr kept in
# $OUT/<n>.out/.err; a status other than STATUS is noted in
# $BATS_TEST_TMPDIR/statuses, outside the $OUT searched for the canary (a
# command that fails for another reason than the one meant, or that was
# meant to succeed, proves nothing about what it would print).
KEPT=0
keep() {
	local want=$1 status=0
	shift
	KEPT=$((KEPT + 1))
	"$@" >"$OUT/$KEPT.out" 2>"$OUT/$KEPT.err" || status=$?
	[[ $status -eq $want ]] ||
		echo "#$KEPT exited $status, not $want: ${*//$CANARY/***}: $(tail -n 2 "$OUT/$KEPT.err")" \
			>>"$BATS_TEST_TMPDIR/statuses"
}

@test "a canary password appears in no output, report, plot or dead letter" {
	export ECOM_POSTGRES_URI="$CANARY_URI"
	# The config file (which -c makes the only one) has the stack's Kafka
	# settings; on a secure stack its Kafka password is a second canary,
	# and the canary given as that password is a refused login (exit 1).
	local kafka_password kafka_status=0
	kafka_password=$(kafka_settings | sed -n 's/^sasl\.password=//p')
	if stack_is_secure; then
		[[ -n $kafka_password ]] || fail "a secure stack without a Kafka password"
		kafka_status=1
	fi
	{
		printf 'postgres_uri: %s\nkafka:\n' "$CANARY_URI"
		kafka_settings | grep -v '^sasl\.password=' | sed 's/^\([^=]*\)=\(.*\)$/  \1: \2/'
		printf '  sasl.password: %s\n' "${kafka_password:-$CANARY}"
	} >"$BATS_TEST_TMPDIR/ecom.yaml"
	# Succeeding, with the canary in the environment, a config file and flags.
	keep 0 ecom-reconcile --reset
	keep 0 ecom-reconcile --reset --store "$CANARY_URI"
	keep "$kafka_status" ecom-produce --generate 3 -c "$BATS_TEST_TMPDIR/ecom.yaml" -X "sasl.password=$CANARY"
	keep 0 bash -c 'ecom-produce --generate 3 --stdout | ecom-persist -v'
	keep 0 ecom-bench -n 3 --floor-samples 1 --no-progress --store "$CANARY_URI" -v \
		--plot "$BATS_TEST_TMPDIR/plot.svg"
	keep 0 ecom-bench -n 2 --floor-samples 1 --no-progress --compare "$CANARY_URI"
	keep 0 ecom-reconcile --audit -c "$BATS_TEST_TMPDIR/ecom.yaml"
	# --help shows the store in force as its default.
	keep 0 env ECOM_STORE="$CANARY_URI" ecom-bench --help
	tr -s '[:space:]' ' ' <"$OUT/$KEPT.out" |
		grep -qF -- "(default $(sed -E 's|:[^:@/]*@|:***@|' <<<"$CANARY_URI"))" ||
		fail "--help shows no redacted store: $(cat "$OUT/$KEPT.out")"
	# A store refusal: its reason, with the URI, goes into a dead letter.
	psql -qAt "$ECOM_POSTGRES_URI" -c "alter table $ECOM_DATABASE.ordercreated
		add constraint refuse_flagged check (doc->>'refuse' is null)"
	ecom-produce --generate 1 --stdout | jq -c '. + {"refuse": "yes"}' |
		"${KCAT[@]}" -P -t "${ECOM_TOPIC_PREFIX}ordercreated"
	start_bg payment ecom-consume --stage payment -v
	for _ in $(seq 300); do
		[[ "$(ecom-consume -t "${ECOM_TOPIC_PREFIX}deadletter" -e 2>/dev/null | wc -l)" -ge 1 ]] && break
		sleep 0.1
	done
	stop_all_bg
	keep 0 ecom-consume -t "${ECOM_TOPIC_PREFIX}deadletter" -e --envelope
	grep -q "the store refused it" "$OUT/$KEPT.out" || fail "no dead letter from the store: $(cat "$OUT/$KEPT.out")"
	# Failing, with the canary in the message's subject.
	keep 1 ecom-persist --store "postgresql://$ROLE:$CANARY@127.0.0.1:1/x" </dev/null
	keep 1 ecom-persist --store "postgresql://$ROLE:$CANARY-wrong@${CANARY_URI#*@}" </dev/null
	keep 2 ecom-persist --store "postgresql://$ROLE:$CANARY%zz@127.0.0.1/x" </dev/null
	keep 2 ecom-persist --store "postgresql://$ROLE:$CANARY@h:notaport/x" </dev/null
	keep 2 ecom-persist --store "http://$ROLE:$CANARY@127.0.0.1/x" </dev/null
	keep 1 ecom-persist --store "mongodb://$ROLE:$CANARY@${ECOM_MONGODB_URI#mongodb://}" </dev/null
	keep 1 ecom-persist --store "mongodb://$ROLE:$CANARY@127.0.0.1:1/x?serverSelectionTimeoutMS=500" </dev/null
	keep 2 ecom-produce --generate 1 -X "sasl.pasword=$CANARY"
	keep 2 ecom-produce --generate 1 -X "ssl.key.password=$CANARY" -X "security.protocol=ssl" \
		-X ssl.key.location=/nonexistent
	keep 1 ecom-bench -n 1 --compare "postgresql://$ROLE:$CANARY@127.0.0.1:1/x"
	# Every message was kept; none holds the canary.
	[[ $KEPT -eq 19 ]] || fail "$KEPT commands kept, not 19"
	[[ ! -e "$BATS_TEST_TMPDIR/statuses" ]] ||
		fail "$(printf '%s\n' "exit statuses not as expected:" "$(cat "$BATS_TEST_TMPDIR/statuses")")"
	cat "$BATS_TEST_TMPDIR"/*.err >"$OUT/background.err"
	# The plot is searched below: it must have been written.
	[[ -s "$BATS_TEST_TMPDIR/plot.svg" ]] || fail "ecom-bench --plot wrote no $BATS_TEST_TMPDIR/plot.svg"
	grep -q '<svg' "$BATS_TEST_TMPDIR/plot.svg" || fail "plot.svg is no SVG"
	if grep -rlF "$CANARY" "$OUT" "$BATS_TEST_TMPDIR/plot.svg"; then
		fail "the canary password was printed: $(grep -rhF "$CANARY" "$OUT" | head -5)"
	fi
	if [[ -n $kafka_password ]] && grep -rlF "$kafka_password" "$OUT" "$BATS_TEST_TMPDIR/plot.svg"; then
		fail "the stack's Kafka password was printed"
	fi
	# And the failures did say what was wrong, redacted.
	run cat "$OUT"/*.err
	assert_output --partial "$ROLE:***@"
	assert_output --partial "password authentication failed"
	assert_output --partial "kafka property 'sasl.pasword'"
	if ((kafka_status)); then assert_output --partial "refused the login (sasl_ssl, mechanism"; fi
}
