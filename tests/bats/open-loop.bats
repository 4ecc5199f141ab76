#!/usr/bin/env bats
# The open loop (ecom-bench --rate, ecom-reconcile --drive N --rate,
# run-flow.sh --rate) and the capacity sweep, against the real services.
# The oracles are the rate and durations asked for, the test's own clock,
# the store read back by the auditor, and the topic and store left
# untouched by every bad option.

load helpers

setup() {
	require_stack
}

teardown() {
	stop_all_bg
}

# ---- a run at a rate -------------------------------------------------

@test "ecom-bench --rate R --duration D runs R x D orders on each store, every one stored once" {
	local store t0 t1
	for store in mongodb postgresql; do
		export ECOM_STORE=$store
		t0=$(date +%s%N)
		run --separate-stderr ecom-bench --rate 100 --duration 3 --no-progress
		t1=$(date +%s%N)
		assert_success
		# The schedule is fixed: the 300th order is due 2.99 s after the first,
		# and the run cannot end before it; the test's clock bounds it above.
		echo "$output" | jq -e --arg store "$store" --argjson wall_ms "$(((t1 - t0) / 1000000))" '
			.store == $store and .loop == "open" and .complete and .orders == 300
			and .sustainable == true and .open_loop.rate == 100
			and .open_loop.arrivals == "constant" and .open_loop.warmup_orders == 0
			and .open_loop.send_lag.count == .orders - .open_loop.warmup_orders
			and .end_to_end_latency.count == 300
			and .elapsed_s >= 2.99 and .elapsed_s * 1000 < $wall_ms
			and (.latency | startswith("response time"))' >/dev/null ||
			fail "$store report: $output"
		[[ $stderr == *"open loop at 100 orders/s (constant): 300 orders in "* ]] ||
			fail "$store summary: $stderr"
		# The store's own counts, read by the auditor: exactly 300 of each event.
		assert_exactly_n_orders 300
	done
}

@test "ecom-bench --warmup leaves the first second's orders out of every figure" {
	run --separate-stderr ecom-bench --rate 100 --duration 3 --warmup 1 --no-progress
	assert_success
	# At 100 orders/s the first second holds 100 orders (±3 for the clock's edges).
	echo "$output" | jq -e '.orders == 300 and .open_loop.warmup_s == 1
		and (.open_loop.warmup_orders | . >= 97 and . <= 103)
		and .end_to_end_latency.count == .orders - .open_loop.warmup_orders
		and .open_loop.send_lag.count == .orders - .open_loop.warmup_orders
		and (.orders - .open_loop.warmup_orders) as $n | all(.stages[]; .hop.count == $n)' \
		>/dev/null || fail "report: $output"
	# Warm-up is left out of the figures, not out of the flow.
	assert_exactly_n_orders 300
}

@test "a rate far beyond the machine ends as not sustainable, exit 0, nothing lost or half-written" {
	local orders
	run --separate-stderr ecom-bench --rate 20000 -n 3000 --max-backlog 50 --no-progress
	assert_success
	[[ $stderr == *"not sustainable at 20000 orders/s"* ]] || fail "stderr: $stderr"
	echo "$output" | jq -e '.loop == "open" and .sustainable == false and .complete == false
		and .orders > 0 and .orders < 3000 and .open_loop.backlog_max == 50
		and .open_loop.backlog_peak > 50' >/dev/null || fail "report: $output"
	orders=$(jq -r .orders <<<"$output")
	# Every order created was seen through: created == fulfilled == the report's.
	assert_exactly_n_orders "$orders"
}

@test "run-flow.sh --rate R --duration D drives the stage processes in an open loop" {
	export ECOM_STORE=postgresql ECOM_RUN_DIR="$BATS_TEST_TMPDIR/run"
	run --separate-stderr "$ECOM_SRCDIR/scripts/run-flow.sh" --rate 50 --duration 2 --store postgresql
	assert_success
	echo "$output" | jq -e '.loop == "open" and .complete and .orders == 100
		and .open_loop.rate == 50 and .sustainable == true' >/dev/null || fail "report: $output"
	assert_exactly_n_orders 100
}

# ---- the sweep -------------------------------------------------------

@test "ecom-bench --sweep finds each store's capacity, runs 50 % and 90 % of it, draws the curve" {
	local svg=$BATS_TEST_TMPDIR/curve.svg store
	# A lenient objective, so that a loaded machine still has a capacity.
	run --separate-stderr ecom-bench --sweep --step-duration 1 --warmup 0.2 --sweep-from 50 \
		--slo p99=2000ms --compare mongodb,postgresql --plot "$svg"
	[[ $status -eq 0 ]] || fail "exit $status: $stderr"
	assert_equal "$(echo "$output" | wc -l)" 2
	echo "$output" | jq -se 'def near(a; b): (a - b) * (a - b) < 0.0001;
		[.[].store] == ["mongodb", "postgresql"]
		and all(.[]; .capacity as $c | .loop == "open" and .slo == {percentile: 99, limit_ms: 2000}
			and .step_s == 1 and .warmup_s == 0.2 and .steps[0].rate == 50
			and .capacity > 0 and (.steps | length) > 0
			and .at_50 != null and .at_90 != null
			and near(.at_50.rate; .capacity * 0.5) and near(.at_90.rate; .capacity * 0.9)
			# the objective, checked against the p99 and the rate of each step
			and all(.steps[]; (.meets_slo | not)
				or (.p99_ms <= 2000 and .sustainable and .achieved_per_s >= 0.9 * .rate))
			and any(.steps[]; .rate == $c and .meets_slo)
			# no step above the capacity met it
			and all(.steps[]; .rate <= $c or (.meets_slo | not)))
		# the process'"'"'s peak memory so far, which the second sweep cannot lower
		and all(.[]; .peak_rss_kib | type == "number" and . > 1024)
		and .[1].peak_rss_kib >= .[0].peak_rss_kib' >/dev/null ||
		fail "reports: $output"
	[[ -s $svg ]] || fail "no curve drawn to $svg"
	grep -q mongodb "$svg" || fail "the curve does not name mongodb"
	grep -q postgresql "$svg" || fail "the curve does not name postgresql"
	# Each step is a clean run: the store holds the last step's orders, every
	# one seen through (fewer than planned if that step was cut short).
	local reports=$output last
	for store in mongodb postgresql; do
		last=$(jq -sc --arg s "$store" '.[] | select(.store == $s) | .steps[-1]' <<<"$reports")
		export ECOM_STORE=$store
		if jq -e .sustainable <<<"$last" >/dev/null; then
			assert_exactly_n_orders "$(jq .orders <<<"$last")"
		else
			run --separate-stderr ecom-reconcile --audit
			assert_success
			jq -e --argjson planned "$(jq .orders <<<"$last")" '.fulfilled as $f | .ok and $f > 0
				and $f <= $planned and all(.counts[]; . == $f)' <<<"$output" \
				>/dev/null || fail "$store audit after the sweep: $output"
		fi
	done
}

# ---- bad input: refused before anything is touched -------------------

# put_marker, assert_marker_untouched: helpers.bash.

# $1: the command; $2: the message; the rest: its arguments.  Exit 2, the
# message and the hint, and nothing on standard output.
assert_usage_error() {
	local cmd=$1 message=$2
	shift 2
	run --separate-stderr "$cmd" "$@"
	[[ $status -eq 2 ]] || fail "'$cmd $*' exited $status, not 2: $stderr"
	[[ -z $output ]] || fail "'$cmd $*' wrote to stdout: $output"
	local name=${cmd##*/}
	[[ $stderr == *"${name%.sh}: $message"* ]] ||
		fail "'$cmd $*' said: $stderr; expected: $message"
	[[ $stderr == *"try '$name --help'"* ]] || fail "'$cmd $*': no hint: $stderr"
}

@test "ecom-bench refuses every bad open-loop and sweep option with exit 2, touching nothing" {
	local slo
	put_marker
	assert_usage_error ecom-bench "--rate '0': expected orders per second, from 0.001 to 1000000" --rate 0
	assert_usage_error ecom-bench "--rate 'abc': expected orders per second" --rate abc
	assert_usage_error ecom-bench "--rate '-5': expected orders per second" --rate -5
	assert_usage_error ecom-bench "--rate '1e9': expected orders per second" --rate 1e9
	assert_usage_error ecom-bench "--rate 'nan': expected orders per second" --rate nan
	assert_usage_error ecom-bench "--duration is an open loop's: it goes with --rate" \
		--duration 3
	assert_usage_error ecom-bench "--warmup is an open loop's: it goes with --rate" \
		--warmup 1
	assert_usage_error ecom-bench "--duration '0': expected seconds, from 0.001 to 86400" \
		--rate 10 --duration 0
	assert_usage_error ecom-bench "--rate 1e+06 for --duration 86400 is more than 100000000 orders" \
		--rate 1000000 --duration 86400
	assert_usage_error ecom-bench "--arrivals 'bogus': expected constant or poisson" \
		--rate 10 --arrivals bogus
	assert_usage_error ecom-bench "--warmup '-1': expected seconds, from 0 to 86400" \
		--rate 10 --warmup -1
	assert_usage_error ecom-bench "--max-backlog '0': expected a number from 1 to 100000000" \
		--rate 10 --max-backlog 0
	assert_usage_error ecom-bench "-w is a closed loop's; an open loop (--rate) has no window" \
		--rate 10 -w 4
	assert_usage_error ecom-bench "give the orders or --duration S, not both" \
		--rate 10 -n 5 --duration 1
	for opt in "--rate 10" "-n 5" "-w 2" "--duration 3" "--max-backlog 5"; do
		# shellcheck disable=SC2086 # the option and its value, as two words
		assert_usage_error ecom-bench "--sweep chooses its own rates: -n, -w, --rate, --duration and --max-backlog do not go with it" \
			--sweep $opt
	done
	for slo in p-1=5ms p99= p99=5parsecs q99=5ms p99=0ms p100=5ms p99=-3s; do
		assert_usage_error ecom-bench "--slo: latency objective '$slo': expected pNN=LIMIT" \
			--sweep --slo "$slo"
	done
	assert_usage_error ecom-bench "--slo, --step-duration and --sweep-from go with --sweep" \
		--slo p99=5ms
	assert_usage_error ecom-bench "--step-duration '0': expected seconds, from 0.1 to 86400" \
		--sweep --step-duration 0
	assert_usage_error ecom-bench "--sweep-from '0': expected orders per second, from 0.01 to 1000000" \
		--sweep --sweep-from 0
	assert_usage_error ecom-bench "--warmup 2 leaves nothing of a --step-duration of 2 s" \
		--sweep --warmup 2 --step-duration 2
	assert_usage_error ecom-bench "--warmup 1 leaves nothing of a --step-duration of 1 s" \
		--sweep --step-duration 1
	assert_marker_untouched
}

@test "ecom-bench --sweep --warmup 0 is taken as given, not as the sweep's default of 1 s" {
	# A warm-up of 1 s would leave nothing of 1 s steps: refused.  0 passes
	# that check, and the run then stops at the next one, the unknown store.
	assert_usage_error ecom-bench "--warmup 1 leaves nothing of a --step-duration of 1 s" \
		--sweep --step-duration 1 --compare oracle
	assert_usage_error ecom-bench "--compare: store 'oracle'" \
		--sweep --warmup 0 --step-duration 1 --compare oracle
}

@test "ecom-reconcile refuses every bad open-loop option with exit 2, touching nothing" {
	put_marker
	assert_usage_error ecom-reconcile "give exactly one of --drive N, --audit and --reset" --rate 10
	assert_usage_error ecom-reconcile "--window, --rate and the open loop's options go with --drive" \
		--audit --rate 10
	assert_usage_error ecom-reconcile "--rate '0': expected orders per second" --drive 5 --rate 0
	assert_usage_error ecom-reconcile "--rate 'abc': expected orders per second" --drive 5 --rate abc
	assert_usage_error ecom-reconcile "--rate '1e9': expected orders per second" --drive 5 --rate 1e9
	assert_usage_error ecom-reconcile "-w is a closed loop's; an open loop (--rate) has no window" \
		--drive 5 --rate 10 -w 2
	assert_usage_error ecom-reconcile "--warmup is an open loop's: it goes with --rate" \
		--drive 5 --warmup 1
	assert_usage_error ecom-reconcile "--arrivals 'bogus': expected constant or poisson" \
		--drive 5 --rate 10 --arrivals bogus
	assert_usage_error ecom-reconcile "--warmup '-1': expected seconds" --drive 5 --rate 10 --warmup -1
	assert_usage_error ecom-reconcile "--max-backlog '0': expected a number" \
		--drive 5 --rate 10 --max-backlog 0
	assert_usage_error ecom-reconcile "unknown option '--duration'" --drive 5 --rate 10 --duration 1
	assert_marker_untouched
}

@test "run-flow.sh refuses bad open-loop options with exit 2 before it resets anything" {
	put_marker
	assert_usage_error "$ECOM_SRCDIR/scripts/run-flow.sh" "--rate 'abc': expected orders per second" \
		--rate abc
	assert_usage_error "$ECOM_SRCDIR/scripts/run-flow.sh" \
		"-w is a closed loop's; an open loop (--rate) has no window" --rate 10 -w 3
	assert_usage_error "$ECOM_SRCDIR/scripts/run-flow.sh" "give -n N or --duration S, not both" \
		--rate 10 -n 5 --duration 2
	assert_usage_error "$ECOM_SRCDIR/scripts/run-flow.sh" "--duration, --arrivals and --warmup go with --rate" \
		--duration 2
	# These ecom-reconcile would refuse too, but only after the reset.
	assert_usage_error "$ECOM_SRCDIR/scripts/run-flow.sh" \
		"--rate '0': expected orders per second, from 0.001 to 1000000" --rate 0
	assert_usage_error "$ECOM_SRCDIR/scripts/run-flow.sh" "--rate '2000000': expected orders per second" \
		--rate 2000000
	assert_usage_error "$ECOM_SRCDIR/scripts/run-flow.sh" "--arrivals 'bogus': expected constant or poisson" \
		--rate 10 --arrivals bogus
	assert_usage_error "$ECOM_SRCDIR/scripts/run-flow.sh" "--warmup '-1': expected seconds, from 0 to 86400" \
		--rate 10 --warmup -1
	assert_marker_untouched
}
