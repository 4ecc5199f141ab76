#!/usr/bin/env bash
# run-flow.sh: the order flow as separate processes, the way a deployment
# would run it.  Resets topics and store, starts the four stage processes
# (ecom-consume --stage …, K instances of each), drives N orders with
# ecom-reconcile, prints its report, and stops every process it started,
# also on Ctrl-C.
#
# It supervises what it started: a process that exits before the end is
# reported with the last line of its log and started again, up to
# --max-restarts times in all; after that, or when ecom-reconcile stops
# the flow itself (a count mismatch, a configuration error), everything
# is stopped and the script exits non-zero with the reason.
#
# With no ECOM_* variables set it brings up the dev stack itself (and
# takes it down at the end unless --keep-stack): README's zero-configuration
# first command.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly STAGES=(payment inventory shipping fulfillment)

usage() {
	cat <<'USAGE'
usage: run-flow.sh [-n N] [-w W] [--store STORE] [--instances K] [--partitions P]
                   [--max-restarts R] [--exactly-once] [--keep-stack] [--no-reset]
       run-flow.sh --rate R [-n N | --duration S] [--arrivals KIND] [--warmup S] [...]

  -n N              orders to run (default 10000)
  -w W              orders in flight at once (default 1, as the original)
  --rate R          an open loop instead: R orders per second on a fixed
                    schedule, whatever is in flight (ecom-reconcile(1))
  --duration S      with --rate: run for S seconds (R x S orders) instead of -n
  --arrivals KIND   with --rate: constant (default) or poisson intervals
  --warmup S        with --rate: leave the first S seconds out of every figure
  --store STORE     mongodb (default), postgresql, or a URI
  --instances K     processes per stage, in one consumer group (default 1)
  --partitions P    partitions per topic (default: the configured, 1)
  --max-restarts R  processes restarted after an unexpected exit, in all,
                    before the run is given up (default 5)
  --exactly-once    every stage in Kafka transactions (processing_guarantee:
                    exactly_once; each instance's ECOM_INSTANCE_ID is its number)
  --keep-stack      leave a dev stack this script started running
  --no-reset        keep the topics and the store as they are
  -h, --help        print this help

Environment: ECOM_KAFKA_BROKERS, ECOM_MONGODB_URI, ECOM_POSTGRES_URI (see
ecom.yaml(5)); when all are unset, scripts/devstack.sh provides them.
Stage logs go to $ECOM_RUN_DIR (default: a new directory under /tmp).
USAGE
}

msg() { printf 'run-flow: %s\n' "$*" >&2; }
die() { msg "$*"; exit 1; }
usage_error() { msg "$*"; echo "try 'run-flow.sh --help'" >&2; exit 2; }

need_value() { [[ $2 -ge 2 ]] || usage_error "option '$1' needs a value"; }

orders=10000 window=1 instances=1 partitions= max_restarts=5 keep_stack=0 reset=1
orders_given=0 window_given=0 duration=
open_loop=() # ecom-reconcile's open-loop options, as given
while (($#)); do
	case "$1" in
	-n) need_value "$1" $#; orders=$2; orders_given=1; shift 2 ;;
	-w) need_value "$1" $#; window=$2; window_given=1; shift 2 ;;
	--rate | --arrivals | --warmup) need_value "$1" $#; open_loop+=("$1" "$2"); shift 2 ;;
	--duration) need_value "$1" $#; duration=$2; shift 2 ;;
	--store) need_value "$1" $#; export ECOM_STORE=$2; shift 2 ;;
	--instances) need_value "$1" $#; instances=$2; shift 2 ;;
	--partitions) need_value "$1" $#; partitions=$2; shift 2 ;;
	--max-restarts) need_value "$1" $#; max_restarts=$2; shift 2 ;;
	--exactly-once) export ECOM_PROCESSING_GUARANTEE=exactly_once; shift ;;
	--keep-stack) keep_stack=1; shift ;;
	--no-reset) reset=0; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage_error "unknown option '$1'" ;;
	esac
done
[[ "$orders" =~ ^[1-9][0-9]*$ ]] || usage_error "-n '$orders': expected a number of orders"
[[ "$window" =~ ^[1-9][0-9]*$ ]] || usage_error "-w '$window': expected a number of orders"
[[ "$instances" =~ ^[1-9][0-9]?$ ]] || usage_error "--instances '$instances': expected 1 to 99"
[[ -z "$partitions" || "$partitions" =~ ^[1-9][0-9]{0,2}$ ]] ||
	usage_error "--partitions '$partitions': expected 1 to 999"
[[ "$max_restarts" =~ ^[0-9]+$ ]] || usage_error "--max-restarts '$max_restarts': expected a number"
if [[ -n "$partitions" ]]; then export ECOM_PARTITIONS=$partitions; fi
number='^[0-9]+([.][0-9]+)?$'
in_range() { # value min max: a number from min to max
	[[ "$1" =~ $number ]] && awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'
}
# Checked here, as ecom-reconcile would, before the topics and the store are reset.
rate=
for ((i = 0; i < ${#open_loop[@]}; i += 2)); do
	value=${open_loop[i + 1]}
	case ${open_loop[i]} in
	--rate) in_range "$value" 0.001 1000000 ||
		usage_error "--rate '$value': expected orders per second, from 0.001 to 1000000"
		rate=$value ;;
	--arrivals) [[ "$value" == constant || "$value" == poisson ]] ||
		usage_error "--arrivals '$value': expected constant or poisson" ;;
	--warmup) in_range "$value" 0 86400 || usage_error "--warmup '$value': expected seconds, from 0 to 86400" ;;
	esac
done
if [[ -n "$rate" ]]; then
	((window_given)) && usage_error "-w is a closed loop's; an open loop (--rate) has no window"
	if [[ -n "$duration" ]]; then
		((orders_given)) && usage_error "give -n N or --duration S, not both"
		[[ "$duration" =~ $number ]] || usage_error "--duration '$duration': expected seconds"
		orders=$(awk -v r="$rate" -v d="$duration" 'BEGIN { n = r * d; print (n == int(n)) ? n : int(n) + 1 }')
		[[ "$orders" =~ ^[1-9][0-9]*$ ]] || usage_error "--rate $rate for --duration $duration is no order"
	fi
elif ((${#open_loop[@]})) || [[ -n "$duration" ]]; then
	usage_error "--duration, --arrivals and --warmup go with --rate"
fi

# From a source tree: build first and use the fresh binaries; installed
# (pkgdatadir), the commands are on PATH.
if [[ -f "$SCRIPT_DIR/../configure.ac" ]]; then
	"$SCRIPT_DIR/bootstrap.sh"
	PATH="$(cd "$SCRIPT_DIR/.." && pwd):$PATH"
fi
command -v ecom-reconcile >/dev/null || die "ecom commands not found on PATH"

run_dir=${ECOM_RUN_DIR:-$(mktemp -d /tmp/ecom-run-flow.XXXXXX)}
mkdir -p "$run_dir"
# "pid name" of every process started, restarts included.
: >"$run_dir/processes"
declare -A name_of=() # pid → "payment-1", "reconcile"
stack_started=0
restarts=0

stop_all() {
	local pid
	for pid in "${!name_of[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${!name_of[@]}"; do wait "$pid" 2>/dev/null || true; done
	name_of=()
}

cleanup() {
	trap - EXIT INT TERM
	stop_all
	if ((stack_started && !keep_stack)); then
		"$SCRIPT_DIR/devstack.sh" down || true
	fi
}
trap cleanup EXIT
trap 'msg "interrupted"; exit 130' INT TERM

if [[ -z "${ECOM_KAFKA_BROKERS:-}${ECOM_MONGODB_URI:-}${ECOM_POSTGRES_URI:-}" ]]; then
	[[ -x "$SCRIPT_DIR/devstack.sh" ]] || die "no ECOM_* variables set and no devstack.sh beside this script"
	msg "no ECOM_* variables: starting the dev stack"
	stack_env=$("$SCRIPT_DIR/devstack.sh" up) || die "the dev stack did not come up"
	eval "$stack_env"
	stack_started=1
fi

if ((reset)); then
	ecom-reconcile -q --reset
fi

started() { # pid name
	name_of[$1]=$2
	echo "$1 $2" >>"$run_dir/processes"
}

# A closed loop's window reaches the stages too: above 1 their producers batch (ecom.yaml(5)).
# Under exactly_once, instance k keeps its transactional.id across restarts
# (fencing the process it replaces) and differs from its siblings'.
start_stage() { # name (payment-1) stage
	if ((${#open_loop[@]})); then
		ECOM_INSTANCE_ID=${1##*-} ecom-consume --stage "$2" 2>>"$run_dir/$1.log" &
	else
		ECOM_INSTANCE_ID=${1##*-} ECOM_WINDOW=$window ecom-consume --stage "$2" 2>>"$run_dir/$1.log" &
	fi
	started $! "$1"
}

# The driver's stderr is the terminal's: its progress line and summary show there.
start_reconcile() {
	if ((${#open_loop[@]})); then
		ecom-reconcile --drive "$orders" "${open_loop[@]}" >"$run_dir/report.json" &
	else
		ecom-reconcile --drive "$orders" --window "$window" >"$run_dir/report.json" &
	fi
	started $! reconcile
}

for stage in "${STAGES[@]}"; do
	for ((k = 1; k <= instances; k++)); do start_stage "$stage-$k" "$stage"; done
done
# Every instance has its partitions before the first order: the run's
# time is the flow's, and the spread reported at the end is the final one.
for ((waited = 0; waited < 600; waited++)); do
	settled=1 died=0
	for pid in "${!name_of[@]}"; do
		kill -0 "$pid" 2>/dev/null || died=1
		grep -q ': assigned ' "$run_dir/${name_of[$pid]}.log" 2>/dev/null || settled=0
	done
	((settled || died)) && break # the supervision below reports a stage that died
	((waited == 50)) && msg "waiting for the stages' consumer groups to give out the partitions"
	sleep 0.1
done
((settled || died)) || msg "not every stage has its partitions after 60 s; starting anyway"
# CPU time (user + system, clock ticks) of every stage process, from now to
# the end: the harness's cost beside the driver's own (its report's "cpu").
ticks() { # pid
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo -1; return; }
	stat=${stat##*) }
	awk '{ print $12 + $13 }' <<<"$stat"
}
declare -A cpu_start=()
for pid in "${!name_of[@]}"; do cpu_start[$pid]=$(ticks "$pid"); done

load="window $window"
[[ -n "$rate" ]] && load="open loop at $rate orders/s"
msg "$orders orders, $load, $instances instance(s) per stage; logs in $run_dir"
start_reconcile

# Watch every process until the driver is done.
while :; do
	status=0
	wait -n -p pid || status=$?
	name=${name_of[$pid]:-}
	[[ -n "$name" ]] || continue
	unset "name_of[$pid]"
	if [[ "$name" == reconcile ]]; then
		# 0: done.  1 or 2: the driver stopped the flow itself (a count
		# mismatch, a bad configuration): starting it again would not help.
		((status == 0)) && break
		if ((status <= 2)); then
			stop_all
			die "ecom-reconcile stopped the flow (exit $status); stage logs in $run_dir"
		fi
		last="killed by signal $((status - 128))"
	else
		last=$(tail -n 1 "$run_dir/$name.log" 2>/dev/null || true)
	fi
	msg "$name (pid $pid) exited with status $status${last:+: $last}"
	if ((restarts >= max_restarts)); then
		stop_all
		die "$restarts restart(s) already, giving up (--max-restarts $max_restarts); logs in $run_dir"
	fi
	restarts=$((restarts + 1))
	msg "starting $name again (restart $restarts of at most $max_restarts)"
	if [[ "$name" == reconcile ]]; then start_reconcile; else start_stage "$name" "${name%-*}"; fi
done

# How the partitions were spread: each instance's last assignment.
if ((instances > 1)) || [[ -n "$partitions" ]]; then
	for stage in "${STAGES[@]}"; do
		for ((k = 1; k <= instances; k++)); do
			line=$(grep -h 'assigned' "$run_dir/$stage-$k.log" 2>/dev/null | tail -n 1 || true)
			msg "$stage-$k: ${line#*: }"
		done
	done
fi
# The stage processes' CPU, those that ran from the start to the end (a
# restarted one is left out, and said so), per event of the run.
stage_ticks=0 counted=0 left_out=0
for pid in "${!cpu_start[@]}"; do
	now=$(ticks "$pid")
	if ((now < 0 || cpu_start[$pid] < 0)); then
		left_out=$((left_out + 1))
	else
		stage_ticks=$((stage_ticks + now - cpu_start[$pid])) counted=$((counted + 1))
	fi
done
jq -c --argjson ticks "$stage_ticks" --argjson hz "$(getconf CLK_TCK)" \
	--argjson counted "$counted" --argjson left_out "$left_out" '
	(.orders_this_run // .orders) as $n |
	if .cpu.measured and $n > 0 then
		.cpu.stage_processes = {counted: $counted, left_out: $left_out,
			us_per_event: (($ticks * 1000000 / $hz) / ($n * 5) * 1000 | round / 1000)}
		| .cpu.us_per_event.ecom_all = ((.cpu.us_per_event.ecom + .cpu.stage_processes.us_per_event) * 1000 | round / 1000)
		| .cpu.most = ([["ecom", .cpu.us_per_event.ecom_all], ["kafka", .cpu.us_per_event.kafka],
			["store", .cpu.us_per_event.store]] | map(select(.[1] != null)) | max_by(.[1]) | .[0])
	else . end' "$run_dir/report.json"
