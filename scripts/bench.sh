#!/usr/bin/env bash
# bench.sh: the benchmark `make bench` runs, on the dev stack (started
# here if ECOM_* are unset).  By default both modes, each R times, every
# run on each store in turn (ecom-bench --compare, so the stores see the
# same Kafka and the same load):
#
#   closed loop  ecom-bench -n 10000 --window 1: one order in flight, as
#                the original; its reference is the floor (5 Kafka round
#                trips and 6 single writes per order, timed as a chain
#                between the run's orders), and elapsed/floor is the
#                overhead of everything else;
#   pipeline     ecom-bench -n 3000 --window 256: its reference is the
#                ceiling (the slower of Kafka and the store doing the run's
#                work at full speed, alone), and elapsed/ceiling says how
#                near the flow comes to it.
#
#   capacity     ecom-bench --sweep: each store's highest open-loop rate
#                within p99 <= 50 ms, the curve of latency against offered
#                load drawn to $ECOM_BENCH_DIR/curve.svg, and the p99 at
#                50 % and 90 % of the capacity (once: it is a search of its
#                own, a dozen runs per store);
#   stall        scripts/stall-compare.sh: PostgreSQL stopped for 1 s in a
#                closed loop and in an open loop at the same rate, side by
#                side;
#   cost         exactly-once's cost: ecom-bench --compare STORES,
#                at_least_once,exactly_once at window 1 (300 orders) and
#                window 256 (3000 orders), K rounds (--cost-rounds, default
#                2), the guarantees' order swapped every round; about 3 min
#                on a busy 2-core machine.
#
# Then one table: per mode and store (and server, as it names itself),
# the medians of elapsed, orders/s, end-to-end p50/p99, the reference,
# the ratio and peak RSS, and the first store's elapsed over each other
# store's, the median of the ratios taken within each run; and the cost
# table: per window and store, the medians of each guarantee's elapsed
# and orders/s, and of the ratios exactly_once / at_least_once taken
# within each round.  -n or -w runs that one mode instead (no cost, no
# sweep, no stall); --cost runs the cost alone (at -n/-w if given).  The
# raw reports (JSON lines) stay in $ECOM_BENCH_DIR (cost-*.json for the
# cost).
#
# usage: scripts/bench.sh [-n N] [-w W] [-r RUNS] [--store STORE] [--compare STORES]
#                         [--cost] [--cost-rounds K]
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
msg() { printf 'bench: %s\n' "$*" >&2; }
usage_error() { msg "$*"; echo "try 'bench.sh --help'" >&2; exit 2; }
need_value() { (($2 >= 2)) || usage_error "$1 needs a value"; }

orders= window= runs=3 stores=mongodb,postgresql cost_only=0 cost_rounds=2
while (($#)); do
	case "$1" in
	-n) need_value "$1" $#; orders=$2; shift 2 ;;
	-w) need_value "$1" $#; window=$2; shift 2 ;;
	-r) need_value "$1" $#; runs=$2; shift 2 ;;
	--store | --compare) need_value "$1" $#; stores=$2; shift 2 ;;
	--cost) cost_only=1; shift ;;
	--cost-rounds) need_value "$1" $#; cost_rounds=$2; shift 2 ;;
	-h | --help) sed -n '2,45p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) usage_error "unknown option '$1'" ;;
	esac
done
for v in "$orders" "$window" "$runs" "$cost_rounds"; do
	[[ -z $v || $v =~ ^[1-9][0-9]*$ ]] || usage_error "'$v': expected a whole number from 1"
done
[[ $stores != *_once* ]] ||
	usage_error "--compare $stores: stores only; the cost compares the guarantees by itself"
sweep=1 cost_modes=("300:1" "3000:256")
if [[ -n $orders || -n $window ]]; then
	modes=("${orders:-10000}:${window:-1}")
	cost_modes=("${orders:-10000}:${window:-1}")
	sweep=0
else
	modes=("10000:1" "3000:256")
fi
if ((cost_only)); then
	modes=() sweep=0
elif [[ -n $orders || -n $window ]]; then
	cost_modes=()
fi

if [[ -f "$SCRIPT_DIR/../configure.ac" ]]; then
	"$SCRIPT_DIR/bootstrap.sh"
	PATH="$(cd "$SCRIPT_DIR/.." && pwd):$PATH"
fi
stack_started=0
if [[ -z "${ECOM_KAFKA_BROKERS:-}${ECOM_MONGODB_URI:-}${ECOM_POSTGRES_URI:-}" ]]; then
	eval "$("$SCRIPT_DIR/devstack.sh" up)"
	stack_started=1
fi
trap '((stack_started)) && "$SCRIPT_DIR/devstack.sh" down' EXIT

dir=${ECOM_BENCH_DIR:-$(mktemp -d /tmp/ecom-bench.XXXXXX)}
mkdir -p "$dir"
for mode in "${modes[@]}"; do
	n=${mode%:*} w=${mode#*:}
	for ((i = 1; i <= runs; i++)); do
		msg "run $i of $runs: $n orders, window $w, $stores"
		# Each run's reports are tagged with the run, for the ratios within a run.
		ecom-bench -n "$n" --window "$w" --compare "$stores" --no-progress |
			jq -c --argjson run "$i" '. + {run: $run}' >"$dir/n$n-w$w-run$i.json"
	done
done

# exactly-once beside at-least-once: on each store one right after the
# other, their order swapped every round so neither always goes first.
for mode in "${cost_modes[@]}"; do
	n=${mode%:*} w=${mode#*:}
	for ((i = 1; i <= cost_rounds; i++)); do
		guarantees=at_least_once,exactly_once
		((i % 2)) || guarantees=exactly_once,at_least_once
		msg "cost round $i of $cost_rounds: $n orders, window $w, $stores, $guarantees"
		# The floor is not what these runs are for: 20 chains, not 200 (2 s a run, not 20).
		ecom-bench -n "$n" --window "$w" --compare "$stores,$guarantees" --floor-samples 20 \
			--no-progress |
			jq -c --argjson run "$i" '. + {run: $run}' >"$dir/cost-n$n-w$w-run$i.json"
	done
done

# Medians per mode and store, side by side; then the stores' ratios.
jq_defs='
	def median: sort | if length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def r2: if . == null then "-" else . * 100 | round / 100 end;
	def r3: if . == null then "-" else . * 1000 | round / 1000 end;
	def mode: "\(if .window == 1 then "closed loop" else "pipeline" end) n=\(.orders) w=\(.window)";'
((${#modes[@]})) && jq -s -r "$jq_defs"'
	group_by([.orders, .window, .store, .server]) | sort_by(.[0].window) | map({
		mode: (.[0] | mode), store: .[0].store, server: (.[0].server // "unknown"), runs: length,
		elapsed_s: (map(.elapsed_s) | median | r2),
		orders_per_s: (map(.orders_per_s) | median | r2),
		e2e_p50_ms: (map(.end_to_end_latency.p50_ms) | median | r2),
		e2e_p99_ms: (map(.end_to_end_latency.p99_ms) | median | r2),
		reference: (if .[0].window == 1 then "floor \(map(.floor.floor_s) | median | r2) s"
			else "ceiling \(map(.ceiling.ceiling_s) | median | r2) s (\(map(.ceiling.slower) | group_by(.) | max_by(length)[0]))" end),
		ratio: (if .[0].window == 1 then "elapsed/floor \(map(.elapsed_over_floor) | median | r2)"
			else "elapsed/ceiling \(map(.elapsed_over_ceiling) | median | r2)" end),
		cpu: "\(map(.cpu.us_per_event.ecom // null) | median | r2)/\(map(.cpu.us_per_event.kafka // null) | median | r2)/\(map(.cpu.us_per_event.store // null) | median | r2)",
		peak_rss_mib: (map(.peak_rss_kib) | max / 1024 | r2)
	}) | (["mode","store","server","runs","elapsed_s","orders/s","e2e_p50_ms","e2e_p99_ms","reference","ratio","cpu_us/event(ecom/kafka/store)","peak_rss_MiB"] | @tsv),
	(.[] | [.mode, .store, .server, .runs, .elapsed_s, .orders_per_s, .e2e_p50_ms, .e2e_p99_ms, .reference, .ratio, .cpu, .peak_rss_mib] | @tsv)
' "$dir"/n*-run*.json | column -t -s $'\t'
((${#modes[@]})) && jq -s -r "$jq_defs"'
	group_by([.orders, .window]) | sort_by(.[0].window) | .[] | . as $mode |
	(group_by(.run)) as $runs | ($mode | map(.store) | unique) as $names |
	if ($names | length) > 1 then
		$names[1:][] as $other |
		"\($mode[0] | mode): \($names[0]) elapsed over \($other) elapsed, median of the ratios in \($runs | length) runs: " +
		([$runs[] | (map(select(.store == $names[0]))[0].elapsed_s) / (map(select(.store == $other))[0].elapsed_s)] | median | r2 | tostring)
	else empty end
' "$dir"/n*-run*.json
# The cost table: each guarantee's medians, and the medians of the ratios
# taken within each round (from the reports' guarantee_cost).
if ((${#cost_modes[@]})); then
	jq -s -r "$jq_defs"'
		group_by([.window, .store]) | sort_by(.[0].window) | map(
			(map(select(.guarantee_cost)) | map(.guarantee_cost)) as $c | {
			mode: (.[0] | mode), store: .[0].store, rounds: ($c | length),
			alo_elapsed: ($c | map(.at_least_once.elapsed_s) | median | r3),
			alo_rate: ($c | map(.at_least_once.orders_per_s) | median | r2),
			eos_elapsed: ($c | map(.exactly_once.elapsed_s) | median | r3),
			eos_rate: ($c | map(.exactly_once.orders_per_s) | median | r2),
			elapsed_ratio: ($c | map(.exactly_once_over_at_least_once.elapsed) | median | r2),
			rate_ratio: ($c | map(.exactly_once_over_at_least_once.orders_per_s) | median | r2)
		}) | (["mode", "store", "rounds", "alo_elapsed_s", "alo_orders/s", "eos_elapsed_s",
			"eos_orders/s", "eos/alo_elapsed", "eos/alo_orders/s"] | @tsv),
		(.[] | [.mode, .store, .rounds, .alo_elapsed, .alo_rate, .eos_elapsed, .eos_rate,
			.elapsed_ratio, .rate_ratio] | @tsv)
	' "$dir"/cost-n*-run*.json | column -t -s $'\t'
fi
if ((sweep)); then
	msg "capacity: ecom-bench --sweep --compare $stores"
	ecom-bench --sweep --compare "$stores" --plot "$dir/curve.svg" --no-progress >"$dir/sweep.json"
	jq -r '
		def r2: if . == null then "-" else . * 100 | round / 100 end;
		def cpu: if . == null then "-" else "\(.ecom | r2)/\(.kafka | r2)/\(.store | r2)" end;
		["store", "server", "objective", "capacity/s", "first_failed/s", "p99_ms@50%", "p99_ms@90%",
		 "cpu_us/event@50% (ecom/kafka/store)", "cpu_us/event@90%", "runs"],
		[.store, .server, "p\(.slo.percentile) <= \(.slo.limit_ms) ms", (.capacity | r2),
		 (.first_failed | r2), (.at_50.p99_ms | r2), (.at_90.p99_ms | r2),
		 (.at_50.cpu_us_per_event | cpu), (.at_90.cpu_us_per_event | cpu), (.steps | length)] | @tsv
	' "$dir/sweep.json" | awk '!seen[$0]++' | column -t -s $'\t'
	msg "latency/load curve in $dir/curve.svg"
	"$SCRIPT_DIR/stall-compare.sh" >"$dir/stall.txt" && cat "$dir/stall.txt"
fi
msg "reports in $dir"
