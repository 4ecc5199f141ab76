#!/usr/bin/env bash
# bench.sh: the benchmark `make bench` runs.  ecom-bench -n N --window W,
# R times on the dev stack (started here if ECOM_* are unset), then the
# medians of elapsed, orders/s, end-to-end p50/p99, elapsed/floor and peak
# RSS, per store and server (the server as it names itself, e.g.
# "mongo-java-server 1.47.0 (memory)").  The raw reports stay in
# $ECOM_BENCH_DIR for a closer look.
#
# usage: scripts/bench.sh [-n N] [-w W] [-r RUNS] [--store STORE] [--compare STORES]
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
msg() { printf 'bench: %s\n' "$*" >&2; }

orders=10000 window=1 runs=3 compare=
while (($#)); do
	case "$1" in
	-n) orders=$2; shift 2 ;;
	-w) window=$2; shift 2 ;;
	-r) runs=$2; shift 2 ;;
	--store) export ECOM_STORE=$2; shift 2 ;;
	--compare) compare=$2; shift 2 ;;
	-h | --help) sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) msg "unknown option '$1'"; echo "try 'bench.sh --help'" >&2; exit 2 ;;
	esac
done

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
stores=${compare:-${ECOM_STORE:-mongodb}}
for ((i = 1; i <= runs; i++)); do
	msg "run $i of $runs: $orders orders, window $window, $stores"
	ecom-bench -n "$orders" --window "$window" --compare "$stores" --no-progress >"$dir/run-$i.json"
done

# Medians per store over the runs, side by side.
jq -s -r '
	def median: sort | if length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	def r2: . * 100 | round / 100;
	group_by([.store, .server]) | map({
		store: .[0].store, server: (.[0].server // "unknown"), runs: length,
		elapsed_s: (map(.elapsed_s) | median | r2),
		orders_per_s: (map(.orders_per_s) | median | r2),
		e2e_p50_ms: (map(.end_to_end_latency.p50_ms) | median | r2),
		e2e_p99_ms: (map(.end_to_end_latency.p99_ms) | median | r2),
		floor_s: (map(.floor.floor_s) | median | r2),
		elapsed_over_floor: (map(.elapsed_over_floor) | median | r2),
		peak_rss_mib: (map(.peak_rss_kib) | max / 1024 | r2)
	}) | (["store","server","runs","elapsed_s","orders/s","e2e_p50_ms","e2e_p99_ms","floor_s","elapsed/floor","peak_rss_MiB"] | @tsv),
	(.[] | [.store, .server, .runs, .elapsed_s, .orders_per_s, .e2e_p50_ms, .e2e_p99_ms, .floor_s, .elapsed_over_floor, .peak_rss_mib] | @tsv)
' "$dir"/run-*.json | column -t -s $'\t'
msg "reports in $dir"
