#!/usr/bin/env bash
# chaos.sh: the order flow while its parts are killed, in the spirit of
# Kafka's own transactions test: bounce the workers while they copy, then
# check that what came out is what went in.
#
# It runs scripts/run-flow.sh (K instances of each stage over P
# partitions, W orders in flight; run-flow starts a killed process again)
# and, while the flow runs, in turn:
#   - every --kill-every seconds, kill one stage process picked at random
#     (an instance of a middle stage, or the driver, ecom-reconcile) with
#     --signal (KILL by default; with TERM only middle stages, since
#     SIGTERM asks the driver to end the run);
#   - after --kills-per-bounce such kills, kill -9 the next broker, start
#     it again --broker-down seconds later and, on a cluster, wait until
#     every partition is back in sync (devstack.sh wait-isr);
#   - then, with --store-kills, stop the store's server the hard way
#     (PostgreSQL in immediate mode, a MongoDB-protocol server with
#     kill -9) and start it again --store-down seconds later.
# --stage-kills, --broker-kills and --store-kills bound each kind (-1: as
# many as the run lasts).  Stage kills pause while a service is down, so
# what a service loss costs is its own.
#
# Then it checks: exactly N events per collection or table, N distinct
# events (eventIds) on every topic read committed, every order marked, a
# clean audit (ecom-reconcile --audit), run-flow done, and no
# process that exited without being killed here: a broker or a database
# that comes back within retry_timeout_ms must not cost a stage.  It
# counts the events that are on a topic more than once (redelivery after
# a kill produces again: allowed, and shown) and, for each service loss,
# the longest pause between two fulfilments from the kill until it was
# back.  On more than one broker a broker loss is not an outage: the
# longest pause across each must stay under --max-broker-pause seconds
# (5), or the run fails.  A broker is killed only once the last stage
# kill is SETTLE_S (14) seconds old and orders are fulfilled again: the
# pause a stage kill costs (the consumers' session timeout, 10 s, and a
# rebalance) is not the broker's.
#
# Kafka (--brokers nodes) runs in the dev stack in ECOM_DEVSTACK_DIR
# (default /tmp/ecom-chaos-UID), started here unless it already runs, and
# stopped at the end if started here (unless --keep-stack).  The store is
# the one ECOM_MONGODB_URI / ECOM_POSTGRES_URI name; when they are unset,
# or with --store-kills, that stack runs the store servers too.  Topics
# and store are reset.
#
# Prints one JSON object on stdout, a summary on stderr; exit 0 when every
# check holds, 1 when one fails, 2 on a usage error.
set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly TOPICS=(ordercreated paymentcompleted inventoryupdated ordershipped orderfulfilled)

msg() { printf 'chaos: %s\n' "$*" >&2; }
die() { msg "$*"; exit 1; }
usage_error() { msg "$*"; msg "try 'chaos.sh --help'"; exit 2; }

usage() {
	cat <<'EOF'
usage: chaos.sh [-n N] [-w W] [--store STORE] [--instances K] [--partitions P]
                [--brokers B] [--kill-every S] [--signal SIG] [--stage-kills C]
                [--kills-per-bounce C] [--broker-kills C] [--broker-down S]
                [--store-kills C] [--store-down S] [--max-broker-pause S]
                [--exactly-once] [--all-kills] [--keep-stack]

Run the flow while killing stage processes, brokers and the store's
server, then check that exactly N orders went through.

  -n N                  orders (default 10000)
  -w W                  orders in flight (default 16)
  --store STORE         mongodb (default) or postgresql
  --instances K         processes per middle stage (default 2)
  --partitions P        partitions per topic (default 6)
  --brokers B           Kafka nodes of the stack started here (default 3)
  --kill-every S        seconds between two stage kills (default 3)
  --signal SIG          signal for stage kills: KILL (default), or TERM
                        (middle stages only: TERM stops the driver's run)
  --stage-kills C       stage kills in all (default -1: while the run lasts)
  --kills-per-bounce C  stage kills before each broker or store bounce (default 3)
  --broker-kills C      broker bounces in all (default -1; 0: none)
  --broker-down S       seconds a killed broker stays down (default 10)
  --store-kills C       store server bounces in all (default 0)
  --store-down S        seconds a killed store server stays down (default 5)
  --max-broker-pause S  on more than one broker, fail when the longest pause
                        between two fulfilments across a broker loss is S
                        seconds or more (default 5; 0: no limit)
  --exactly-once        the stages in Kafka transactions (run-flow.sh --exactly-once):
                        then any duplicate on a topic fails the run too
  --all-kills           fail when the flow ended before every kill asked for
                        (--stage-kills, --broker-kills, --store-kills) was made:
                        then N was too small for the faults to hit it
  --keep-stack          leave the stack this script started running
  -h, --help            print this help

Environment: ECOM_DEVSTACK_DIR (the stack's state dir, default
/tmp/ecom-chaos-UID), ECOM_MONGODB_URI, ECOM_POSTGRES_URI (the store;
when unset, the stack runs one), ECOM_MONGO_SERVER (which
MongoDB-protocol server the stack runs), ECOM_RUN_DIR (logs), ECOM_CONFIG
(the ecom config, as for the ecom commands; kcat takes the connection
settings of its kafka: section: security.protocol, sasl.*, ssl.*).
Output: one JSON object on stdout; exit 0 when every check holds, else 1.
EOF
}

orders=10000 window=16 store=mongodb instances=2 partitions=6 brokers=3
kill_every=3 signal=KILL stage_kills=-1 kills_per_bounce=3 broker_kills=-1 broker_down=10
store_kills=0 store_down=5 keep_stack=0 guarantee=at_least_once max_broker_pause=5 all_kills=0
need_value() { (($2 >= 2)) || usage_error "$1 needs a value"; }
while (($#)); do
	case $1 in
	-n) need_value "$1" $#; orders=$2; shift 2 ;;
	-w) need_value "$1" $#; window=$2; shift 2 ;;
	--store) need_value "$1" $#; store=$2; shift 2 ;;
	--instances) need_value "$1" $#; instances=$2; shift 2 ;;
	--partitions) need_value "$1" $#; partitions=$2; shift 2 ;;
	--brokers) need_value "$1" $#; brokers=$2; shift 2 ;;
	--kill-every) need_value "$1" $#; kill_every=$2; shift 2 ;;
	--signal) need_value "$1" $#; signal=$2; shift 2 ;;
	--stage-kills) need_value "$1" $#; stage_kills=$2; shift 2 ;;
	--kills-per-bounce) need_value "$1" $#; kills_per_bounce=$2; shift 2 ;;
	--broker-kills) need_value "$1" $#; broker_kills=$2; shift 2 ;;
	--broker-down) need_value "$1" $#; broker_down=$2; shift 2 ;;
	--store-kills) need_value "$1" $#; store_kills=$2; shift 2 ;;
	--store-down) need_value "$1" $#; store_down=$2; shift 2 ;;
	--max-broker-pause) need_value "$1" $#; max_broker_pause=$2; shift 2 ;;
	--exactly-once) guarantee=exactly_once; shift ;;
	--all-kills) all_kills=1; shift ;;
	--keep-stack) keep_stack=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage_error "unknown option '$1'" ;;
	esac
done
for pair in "-n:$orders" "-w:$window" "--instances:$instances" "--partitions:$partitions" \
	"--brokers:$brokers" "--kill-every:$kill_every" "--kills-per-bounce:$kills_per_bounce" \
	"--broker-down:$broker_down" "--store-down:$store_down"; do
	[[ ${pair#*:} =~ ^[1-9][0-9]*$ ]] || usage_error "${pair%%:*} '${pair#*:}': expected a whole number from 1"
done
for pair in "--stage-kills:$stage_kills" "--broker-kills:$broker_kills" "--store-kills:$store_kills"; do
	[[ ${pair#*:} =~ ^(-1|0|[1-9][0-9]*)$ ]] || usage_error "${pair%%:*} '${pair#*:}': expected -1 or a whole number"
done
if ((all_kills)) && ((stage_kills < 0 || broker_kills < 0 || store_kills < 0)); then
	usage_error "--all-kills needs a number of each kind of kill (--stage-kills, --broker-kills, --store-kills; 0 for none), not -1"
fi
planned_stage_kills=$stage_kills planned_broker_kills=$broker_kills planned_store_kills=$store_kills
[[ $max_broker_pause =~ ^(0|[1-9][0-9]*)(\.[0-9]+)?$ ]] ||
	usage_error "--max-broker-pause '$max_broker_pause': expected a number of seconds"
case $store in
mongodb | postgresql) ;;
*) usage_error "--store '$store': expected mongodb or postgresql" ;;
esac
case $signal in
KILL | TERM) ;;
*) usage_error "--signal '$signal': expected KILL or TERM" ;;
esac
command -v jq >/dev/null || die "jq is needed (Debian package jq)"
command -v kcat >/dev/null || die "kcat is needed (Debian package kcat)"

# From a source tree: build first, and use the commands built there.
if [[ -f "$SCRIPT_DIR/../configure.ac" ]]; then
	"$SCRIPT_DIR/bootstrap.sh" || exit 1
	PATH="$(cd "$SCRIPT_DIR/.." && pwd):$PATH"
fi
command -v ecom-reconcile >/dev/null || die "ecom commands not found on PATH"
# An ECOM_CONFIG ecom does not take fails the flow's first command:
# refused here (ecom's own message, exit 2), before anything starts.
if [[ -n ${ECOM_CONFIG:-} ]] && ! config_err=$(ecom-reconcile -X dump 2>&1 >/dev/null); then
	msg "ecom does not take the settings in force (ECOM_CONFIG=$ECOM_CONFIG): ${config_err%%$'\n'*}"
	exit 2
fi

export ECOM_DEVSTACK_DIR=${ECOM_DEVSTACK_DIR:-/tmp/ecom-chaos-$(id -u)}
devstack() { "$SCRIPT_DIR/devstack.sh" "$@"; }

run_dir=${ECOM_RUN_DIR:-$(mktemp -d /tmp/ecom-chaos-run.XXXXXX)}
mkdir -p "$run_dir"
export ECOM_RUN_DIR=$run_dir
stack_started=0 flow_pid='' down_broker='' store_down_now=0 kcat_conf=''

# A service left down by an interruption is started again for whoever keeps the stack.
cleanup() {
	local status=$?
	trap - EXIT INT TERM
	if [[ -n $kcat_conf ]]; then rm -f "$kcat_conf"; fi
	if [[ -n $flow_pid ]] && kill -0 "$flow_pid" 2>/dev/null; then
		kill -TERM "$flow_pid" 2>/dev/null
		wait "$flow_pid" 2>/dev/null
	fi
	if ((!stack_started || keep_stack)); then
		if [[ -n $down_broker ]]; then devstack start-broker "$down_broker" >/dev/null 2>&1 || true; fi
		if ((store_down_now)); then devstack up --brokers "$brokers" "$store" >/dev/null 2>&1 || true; fi
	fi
	if ((stack_started && !keep_stack)); then
		# down removes the data dirs: a failed run keeps the brokers' logs
		if ((status != 0)); then
			cp -r "$ECOM_DEVSTACK_DIR/kafka" "$run_dir/kafka-logs" 2>/dev/null &&
				find "$run_dir/kafka-logs" -name data -type d -prune -exec rm -rf {} + 2>/dev/null
			msg "the brokers' logs are in $run_dir/kafka-logs"
		fi
		devstack down 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'msg "interrupted"; exit 130' INT TERM

# ---- the stack: Kafka, and the store's servers unless given (or to be killed)

if stack_env=$(devstack env 2>/dev/null); then
	msg "using the stack in $ECOM_DEVSTACK_DIR"
elif [[ -n ${ECOM_MONGODB_URI:-} && -n ${ECOM_POSTGRES_URI:-} ]] && ((store_kills == 0)); then
	msg "starting Kafka on $brokers node(s) in $ECOM_DEVSTACK_DIR"
	stack_env=$(devstack up --brokers "$brokers" kafka) || die "Kafka did not come up"
	stack_started=1
else
	msg "starting Kafka on $brokers node(s) and the store servers in $ECOM_DEVSTACK_DIR"
	stack_env=$(devstack up --brokers "$brokers") || die "the stack did not come up"
	stack_started=1
fi
eval "$stack_env"

# kcat reaches Kafka as ecom does: the brokers, and the connection
# settings (security.protocol, sasl.*, ssl.*) of the kafka: section of
# the ecom config in force, ECOM_CONFIG (a secure stack's env names one:
# SASL_SSL, its login and CA), in a kcat -F file of this run's own, 0600
# (it holds the password, which goes on no command line), removed at
# exit.  No ECOM_CONFIG, or no such settings in it: kcat -b alone.
kafka_connection_settings() { # config file: its settings as key=value lines
	python3 - "$1" <<'PY'
import sys
try:
    import yaml
except ImportError:
    sys.exit("reading it needs python3's yaml module (Debian package python3-yaml)")
with open(sys.argv[1]) as f:
    doc = yaml.safe_load(f) or {}
for key, value in (doc.get("kafka") or {}).items():
    if not (key == "security.protocol" or key.startswith(("sasl.", "ssl.", "ssl_", "enable.ssl.", "enable.sasl."))):
        continue
    if isinstance(value, bool):
        value = "true" if value else "false"
    print(f"{key}={value}")
PY
}
KCAT=(kcat -b "$ECOM_KAFKA_BROKERS")
if [[ -n ${ECOM_CONFIG:-} ]]; then
	kcat_conf=$run_dir/kcat.conf
	(umask 077 && kafka_connection_settings "$ECOM_CONFIG" >"$kcat_conf") ||
		die "ECOM_CONFIG=$ECOM_CONFIG: cannot read its kafka: settings"
	# -q first: no "% Reading configuration from file" in kcat's output
	if [[ -s $kcat_conf ]]; then KCAT+=(-q -F "$kcat_conf"); fi
fi
brokers=$(tr ',' '\n' <<<"$ECOM_KAFKA_BROKERS" | grep -c .)
if ((store_kills != 0)); then
	server=$(devstack status 2>/dev/null | awk -v s="$store" '$1 == s' || true)
	[[ -n $server ]] || die "--store-kills: the stack in $ECOM_DEVSTACK_DIR runs no $store server"
	[[ $server != *"(memory)"* ]] ||
		die "--store-kills: the $store server keeps its data in memory, a kill loses it (ECOM_MONGO_SERVER=h2 or ferretdb keeps it)"
fi
prefix=${ECOM_TOPIC_PREFIX:-}

# ---- the flow, supervised by run-flow.sh

start_s=$(date +%s.%N)
guarantee_opts=()
[[ $guarantee == exactly_once ]] && guarantee_opts=(--exactly-once)
"$SCRIPT_DIR/run-flow.sh" -n "$orders" -w "$window" --store "$store" --instances "$instances" \
	--partitions "$partitions" --max-restarts 100000 \
	"${guarantee_opts[@]}" \
	>"$run_dir/report.out" 2>"$run_dir/run-flow.err" &
flow_pid=$!

# The chaos starts with the orders: once the driver runs.
until grep -q ' reconcile$' "$run_dir/processes" 2>/dev/null; do
	kill -0 "$flow_pid" 2>/dev/null || break
	sleep 0.2
done

flow_running() { kill -0 "$flow_pid" 2>/dev/null; }
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
left() { (($1 != 0)); } # a quota of -1 never runs out
spend() { (($1 > 0)) && echo $(($1 - 1)) || echo "$1"; }

# The live processes run-flow started, "pid name", one per name.
live_processes() {
	awk '{ pid[$2] = $1 } END { for (n in pid) print pid[n], n }' "$run_dir/processes" 2>/dev/null |
		while read -r pid name; do kill -0 "$pid" 2>/dev/null && echo "$pid $name"; done
}

# Sleep up to $1 seconds, less if the flow ends.
nap() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		flow_running || return 1
		sleep 0.1
	done
}

kill_stage() {
	local live victim
	# SIGTERM asks the driver to end the run (it reports and exits 1, and
	# run-flow stops): with TERM only the middle stages are stopped.
	if [[ $signal == TERM ]]; then
		mapfile -t live < <(live_processes | grep -v ' reconcile$')
	else
		mapfile -t live < <(live_processes)
	fi
	((${#live[@]})) || return 0
	victim=${live[RANDOM % ${#live[@]}]}
	kill "-$signal" "${victim%% *}" 2>/dev/null || return 0
	last_stage_kill=$SECONDS
	echo "$victim" >>"$run_dir/killed"
	stage_kills_done=$((stage_kills_done + 1))
	stage_kills=$(spend "$stage_kills")
	msg "killed ${victim#* } (pid ${victim%% *}) with SIG$signal"
}

# A stage kill costs a pause of its own (the consumers' session timeout,
# 10 s, then a rebalance; more when kills follow each other): a broker is
# killed once the last one is older, and orders are being fulfilled again
# (the newest fulfilment less than a second old), for up to 120 s.
readonly SETTLE_S=14

# The newest fulfilment: the last two offsets of each partition (the last
# may be a transaction's commit marker, which is no message), read
# without waiting for the end of a topic that is being written (-o -1 -e
# waited for a moment with no new message on any partition: seconds at
# W = 1, and the newest then half a second old), measured from when kcat
# started; with an argument (epoch ms), also newer than that.
flowing() {
	local newest started since=${1:-0}
	started=$(date +%s%3N)
	newest=$("${KCAT[@]}" -C -t "${prefix}orderfulfilled" -o -2 -c $((2 * partitions)) -e -q -f '%T\n' \
		2>/dev/null | sort -n | tail -n 1)
	[[ -n $newest ]] && ((started - newest < 1000 && newest > since))
}

# Until orders are fulfilled again (after the epoch ms given, if any), for
# up to 120 s; 1 once the flow has ended.
wait_until_flowing() {
	local i
	for ((i = 0; i < 240; i++)); do
		flowing "$@" && return 0
		flow_running || return 1
		sleep 0.5
	done
}

bounce_broker() {
	local b=$next_broker t0 t1 t2
	next_broker=$((next_broker % brokers + 1))
	if [[ -n $last_stage_kill ]] && ((SECONDS - last_stage_kill < SETTLE_S)); then
		nap $((SETTLE_S - (SECONDS - last_stage_kill))) || return 0
	fi
	# never once the flow has ended: a loss after the last order has no pause to measure
	wait_until_flowing || return 0
	t0=$(date +%s.%N)
	devstack kill-broker "$b" 2>>"$run_dir/devstack.err" || die "cannot kill broker $b: $(tail -n 1 "$run_dir/devstack.err")"
	down_broker=$b
	broker_kills_done=$((broker_kills_done + 1))
	broker_kills=$(spend "$broker_kills")
	msg "killed broker $b; starting it again in $broker_down s"
	sleep "$broker_down"
	if ! devstack start-broker "$b" 2>>"$run_dir/devstack.err"; then
		# On a loaded machine a broker killed with -9 can take longer than
		# devstack's 90 s to recover its logs and answer; while its process
		# lives, the ISR wait below is the judge.
		kill -0 "$(<"$ECOM_DEVSTACK_DIR/kafka/$( ((brokers > 1)) && echo "kafka-$b/")kafka.pid")" 2>/dev/null ||
			die "cannot start broker $b again: $(tail -n 1 "$run_dir/devstack.err")"
		msg "broker $b is slow to answer; waiting for it"
		devstack wait-isr 300 2>>"$run_dir/devstack.err" || die "broker $b did not come back in 300 s more"
	fi
	t1=$(date +%s.%N)
	if ((brokers > 1)); then
		devstack wait-isr 300 2>>"$run_dir/devstack.err" || die "broker $b did not rejoin the ISR in 300 s"
	fi
	down_broker=''
	t2=$(date +%s.%N)
	losses+=("broker-$b $t0 $t1 $t2")
	msg "broker $b back$( ((brokers > 1)) && echo ' in sync') $(seconds_between "$t0" "$t2") s after it was killed"
	# A loss's pause runs to the first fulfilment after it: nothing else
	# is stopped before that one, or its pause would be counted here too.
	wait_until_flowing "$(awk -v t="$t2" 'BEGIN { printf "%d", t * 1000 }')" || true
}

bounce_store() {
	local t0 t1 pid
	t0=$(date +%s.%N)
	if [[ $store == postgresql ]]; then
		# SIGQUIT is pg_ctl's immediate mode: no checkpoint, recovery at the next start.
		read -r pid <"$ECOM_DEVSTACK_DIR/postgres/data/postmaster.pid" || die "no postmaster.pid"
		kill -QUIT "$pid"
	else
		pid=$(<"$ECOM_DEVSTACK_DIR/mongodb/mongodb.pid")
		kill -KILL "$pid"
	fi
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	store_down_now=1
	store_kills_done=$((store_kills_done + 1))
	store_kills=$(spend "$store_kills")
	msg "stopped the $store server (pid $pid); starting it again in $store_down s"
	sleep "$store_down"
	# With the stack's broker count: an ECOM_KAFKA_BROKERS_COUNT of the
	# caller's would otherwise ask for another Kafka, and be refused.
	devstack up --brokers "$brokers" "$store" >/dev/null 2>>"$run_dir/devstack.err" || die "cannot start the $store server again: $(tail -n 1 "$run_dir/devstack.err")"
	store_down_now=0
	t1=$(date +%s.%N)
	losses+=("$store $t0 $t1 $t1")
	msg "$store server back $(seconds_between "$t0" "$t1") s after it was stopped"
}

: >"$run_dir/killed"
stage_kills_done=0 broker_kills_done=0 store_kills_done=0 next_broker=1 last_stage_kill=''
losses=()
while flow_running; do
	for ((c = 0; c < kills_per_bounce; c++)); do
		left "$stage_kills" || break
		nap "$kill_every" || break 2
		kill_stage
	done
	if ! left "$broker_kills" && ! left "$store_kills"; then
		left "$stage_kills" && continue
		break # nothing more to kill: let the flow finish
	fi
	nap "$kill_every" || break
	if left "$broker_kills"; then bounce_broker; fi
	if left "$store_kills" && flow_running; then bounce_store; fi
done

flow_status=0
wait "$flow_pid" || flow_status=$?
flow_pid=''
end_s=$(date +%s.%N)

# ---- the checks

audit=$(ecom-reconcile --audit --store "$store" 2>"$run_dir/audit.err") || true
[[ -n $audit ]] || audit='{}'

# Exits run-flow saw of processes not killed here: "name status".
unexpected=$(sed -n 's/^run-flow: \([a-z0-9-]*\) (pid \([0-9]*\)) exited with status \([0-9]*\).*/\2 \1 \3/p' \
	"$run_dir/run-flow.err" | awk -v k="$run_dir/killed" 'FILENAME == k { killed[$1] = 1; next } !($1 in killed) { print $2, $3 }' \
	"$run_dir/killed" -)
unexpected_count=$(grep -c . <<<"$unexpected")

# Events that are on a topic more than once (the same eventId), and how
# many distinct ones each holds: N, none lost.
topic_dups='{}' topic_distinct='{}'
for t in "${TOPICS[@]}"; do
	# As every consumer of ecom reads them: committed data only.
	read -r n d < <("${KCAT[@]}" -C -X isolation.level=read_committed -t "$prefix$t" -e -q -f '%s\n' 2>/dev/null |
		jq -r .eventId | sort | uniq -c | awk '{ s += $1 - 1; d++ } END { print s + 0, d + 0 }')
	topic_dups=$(jq -c --arg t "$t" --argjson n "${n:-0}" '. + {($t): $n}' <<<"$topic_dups")
	topic_distinct=$(jq -c --arg t "$t" --argjson n "${d:-0}" '. + {($t): $n}' <<<"$topic_distinct")
done

# What each service loss cost: fulfilments (by their message timestamps)
# from the kill until the service was back, and the longest pause between
# two of them (the one across the kill and the one after it included).
"${KCAT[@]}" -C -t "${prefix}orderfulfilled" -e -q -f '%T\n' 2>/dev/null |
	sort -n >"$run_dir/fulfilled-ms"
# The longest pause of the whole run, whatever caused it.
longest_pause=$(awk 'NR > 1 && $1 - prev > gap { gap = $1 - prev } { prev = $1 } END { printf "%.2f", gap / 1000 }' \
	"$run_dir/fulfilled-ms")
loss_json='[]'
for loss in "${losses[@]}"; do
	read -r what t0 t1 t2 <<<"$loss"
	one=$(awk -v t0="$t0" -v t1="$t1" -v t2="$t2" -v what="$what" -v start="$start_s" '
		{ t = $1 / 1000 }
		t < t0 { prev = t; next }
		t <= t2 { n++; if (prev && t - prev > gap) gap = t - prev; prev = t; next }
		!done && prev { if (t - prev > gap) gap = t - prev; done = 1 }
		END { printf "{\"what\":\"%s\",\"at_s\":%.1f,\"down_s\":%.1f,\"back_s\":%.1f,\"fulfilled_meanwhile\":%d,\"longest_pause_s\":%.2f}",
			what, t0 - start, t1 - t0, t2 - t0, n, gap }' "$run_dir/fulfilled-ms")
	loss_json=$(jq -c --argjson one "$one" '. + [$one]' <<<"$loss_json")
done

report=$(jq -c -n \
	--argjson orders "$orders" --arg store "$store" --argjson window "$window" \
	--argjson partitions "$partitions" --argjson instances "$instances" \
	--argjson brokers "$brokers" --argjson elapsed "$(seconds_between "$start_s" "$end_s")" \
	--arg signal "$signal" --argjson stage_kills "$stage_kills_done" \
	--argjson broker_kills "$broker_kills_done" --argjson store_kills "$store_kills_done" \
	--argjson flow_status "$flow_status" --argjson audit "$audit" \
	--argjson unexpected "$unexpected_count" --arg unexpected_list "$unexpected" \
	--argjson topic_dups "$topic_dups" --argjson topic_distinct "$topic_distinct" --argjson losses "$loss_json" \
	--argjson longest_pause "$longest_pause" --arg guarantee "$guarantee" \
	--argjson max_broker_pause "$max_broker_pause" --argjson all_kills "$all_kills" \
	--argjson planned "[$planned_stage_kills, $planned_broker_kills, $planned_store_kills]" '
	($audit.counts // {}) as $c |
	{orders: $orders, store: $store, server: $audit.server, brokers: $brokers,
	 partitions: $partitions, instances: $instances, window: $window,
	 processing_guarantee: $guarantee,
	 elapsed_s: $elapsed, signal: $signal,
	 stage_kills: $stage_kills, broker_kills: $broker_kills, store_kills: $store_kills,
	 run_flow_status: $flow_status,
	 lost: ([$c[] | select(. < $orders) | $orders - .] | add // 0),
	 duplicated_in_store: ([$c[] | select(. > $orders) | . - $orders] | add // 0),
	 counts: $c, fulfilled: $audit.fulfilled, audit_ok: ($audit.ok // false),
	 unexpected_exits: $unexpected,
	 unexpected: ($unexpected_list | split("\n") | map(select(. != ""))),
	 topic_duplicates: $topic_dups, topic_distinct: $topic_distinct, longest_pause_s: $longest_pause, losses: $losses,
	 max_broker_pause_s: $max_broker_pause,
	 longest_broker_pause_s: ([$losses[] | select(.what | startswith("broker-")) | .longest_pause_s] | max)}
	| .kills_planned = {stage: $planned[0], broker: $planned[1], store: $planned[2]}
	| .all_kills_made = ([.stage_kills, .broker_kills, .store_kills] == $planned)
	| .broker_pause_ok = (.brokers == 1 or .max_broker_pause_s == 0 or .longest_broker_pause_s == null
	                      or .longest_broker_pause_s < .max_broker_pause_s)
	| .ok = (.run_flow_status == 0 and .audit_ok and .lost == 0 and .duplicated_in_store == 0
	         and ([.counts[]] | length == 5) and .fulfilled == .orders and .unexpected_exits == 0
	         and ([.topic_distinct[]] | length == 5 and all(. == $orders))
	         and (.processing_guarantee == "at_least_once" or ([.topic_duplicates[]] | all(. == 0)))
	         and .broker_pause_ok and ($all_kills == 0 or .all_kills_made))')
echo "$report"

jq -r '
	"orders \(.orders) on \(.store) (\(.server)), \(.brokers) broker(s), P=\(.partitions), K=\(.instances), W=\(.window), \(.processing_guarantee): \(.elapsed_s) s",
	"kills: \(.stage_kills) stage processes (SIG\(.signal)), \(.broker_kills) brokers, \(.store_kills) store servers; unexpected exits: \(.unexpected_exits) \(.unexpected)",
	"lost \(.lost), duplicated in the store \(.duplicated_in_store), fulfilled \(.fulfilled), audit \(if .audit_ok then "clean" else "NOT clean" end)",
	"distinct events on the topics: \(.topic_distinct | to_entries | map("\(.key) \(.value)") | join(", "))",
	"duplicates on the topics: \(.topic_duplicates | to_entries | map("\(.key) \(.value)") | join(", ")); longest pause between two fulfilments \(.longest_pause_s) s",
	(.losses[] | "\(.what) at \(.at_s) s: down \(.down_s) s, back after \(.back_s) s, \(.fulfilled_meanwhile) orders fulfilled meanwhile, longest pause \(.longest_pause_s) s"),
	(if .broker_pause_ok then empty else
		"the longest pause across a broker loss, \(.longest_broker_pause_s) s, is not under \(.max_broker_pause_s) s" end),
	(if .all_kills_made or ([.kills_planned[]] | any(. < 0)) then empty else
		"the flow ended after \(.stage_kills) of \(.kills_planned.stage) stage kills, \(.broker_kills) of \(.kills_planned.broker) broker and \(.store_kills) of \(.kills_planned.store) store bounces: a larger -n gives every fault a flow to hit" end),
	(if .ok then "ok" else "FAILED (logs in '"$run_dir"')" end)' <<<"$report" | sed 's/^/chaos: /' >&2
jq -e .ok <<<"$report" >/dev/null
