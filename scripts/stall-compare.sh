#!/usr/bin/env bash
# stall-compare.sh: the same stall in a closed loop and in an open loop,
# side by side.  PostgreSQL (the dev stack's, by its pid file) is stopped
# with SIGSTOP for STALL seconds, AT seconds into each run:
#
#   closed  ecom-bench -n N -w 1 --store postgresql: one order in flight;
#   open    ecom-bench --rate R --duration D --store postgresql, R the
#           closed loop's own orders/s without the stall (a first,
#           unstalled closed run measures it), D its elapsed time.
#
# Then one table: p50, p90, p99, p99.9 and max of each, and what each
# report calls its latency.  A closed loop records the stall once, as one
# slow order; an open loop records it for every order it delays.
#
# usage: scripts/stall-compare.sh [-n N] [--stall S] [--at S]
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
msg() { printf 'stall-compare: %s\n' "$*" >&2; }
usage_error() { msg "$*"; echo "try 'stall-compare.sh --help'" >&2; exit 2; }
need_value() { (($2 >= 2)) || usage_error "$1 needs a value"; }

orders=2000 stall=1 at=4
while (($#)); do
	case "$1" in
	-n) need_value "$1" $#; orders=$2; shift 2 ;;
	--stall) need_value "$1" $#; stall=$2; shift 2 ;;
	--at) need_value "$1" $#; at=$2; shift 2 ;;
	-h | --help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) usage_error "unknown option '$1'" ;;
	esac
done
[[ $orders =~ ^[1-9][0-9]*$ ]] || usage_error "-n '$orders': expected a number of orders"
[[ $stall =~ ^[0-9]+([.][0-9]+)?$ ]] || usage_error "--stall '$stall': expected seconds"
[[ $at =~ ^[0-9]+([.][0-9]+)?$ ]] || usage_error "--at '$at': expected seconds"

if [[ -f "$SCRIPT_DIR/../configure.ac" ]]; then
	"$SCRIPT_DIR/bootstrap.sh"
	PATH="$(cd "$SCRIPT_DIR/.." && pwd):$PATH"
fi
stack_started=0
if [[ -z "${ECOM_KAFKA_BROKERS:-}${ECOM_MONGODB_URI:-}${ECOM_POSTGRES_URI:-}" ]]; then
	eval "$("$SCRIPT_DIR/devstack.sh" up)"
	stack_started=1
fi
stack_dir=${ECOM_DEVSTACK_DIR:-/tmp/ecom-devstack-$(id -u)}
pid_file=$stack_dir/postgres/data/postmaster.pid
[[ -r $pid_file ]] || { msg "no PostgreSQL of the dev stack in '$stack_dir' to stop"; exit 1; }
postmaster=$(head -n 1 "$pid_file")
dir=$(mktemp -d /tmp/ecom-stall.XXXXXX)

# The postmaster and its children (its backends), stopped or continued together.
signal_postgres() {
	local pids
	pids="$postmaster $(ps -o pid= --ppid "$postmaster" | tr '\n' ' ')"
	# shellcheck disable=SC2086
	kill -s "$1" $pids
}
stopped=0
cleanup() {
	((stopped)) && signal_postgres CONT
	((stack_started)) && "$SCRIPT_DIR/devstack.sh" down
	return 0
}
trap cleanup EXIT

# A run with the stall injected AT seconds in: its report to $1.
stalled_run() {
	local out=$1 pid
	shift
	ecom-bench "$@" --store postgresql --no-progress >"$out" 2>>"$dir/stderr" &
	pid=$!
	sleep "$at"
	signal_postgres STOP
	stopped=1
	sleep "$stall"
	signal_postgres CONT
	stopped=0
	wait "$pid"
}

msg "closed loop without the stall: $orders orders, window 1 (its rate and time set the open loop's)"
ecom-bench -n "$orders" -w 1 --store postgresql --no-progress >"$dir/plain.json" 2>>"$dir/stderr"
rate=$(jq '.orders_per_s' "$dir/plain.json")
duration=$(jq '.elapsed_s' "$dir/plain.json")
msg "closed loop, PostgreSQL stopped for $stall s at $at s"
stalled_run "$dir/closed.json" -n "$orders" -w 1
msg "open loop at $rate orders/s for $duration s, the same stall"
stalled_run "$dir/open.json" --rate "$rate" --duration "$duration"
jq -s -r '
	def r2: . * 100 | round / 100;
	["loop", "orders", "orders/s", "p50_ms", "p90_ms", "p99_ms", "p99.9_ms", "max_ms", "latency"],
	(.[] | [.loop, .orders, (.orders_per_s | r2), (.end_to_end_latency | .p50_ms, .p90_ms, .p99_ms, .p999_ms, .max_ms),
	        .latency] | map(tostring)) | @tsv
' "$dir/closed.json" "$dir/open.json" | column -t -s $'\t'
msg "PostgreSQL stopped for $stall s at $at s in each run; reports in $dir"
