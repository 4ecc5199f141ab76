#!/usr/bin/env bash
# fault-scenarios.sh: the faults a user runs into, one after the other,
# each through scripts/chaos.sh on a dev stack of one broker (the
# three-broker run is `make chaos`), and a table of what each cost:
# orders lost, events duplicated in the store, stage processes that
# exited without being killed, and how long fulfilments paused.
#
#   stage kills    20 kill -9 of random stage processes at W = 1, at
#                  W = 4, and at P = 4 with W = 64
#   broker         the broker killed with kill -9, started again 10 s and
#                  30 s later
#   PostgreSQL     stopped in immediate mode, started again 5 s later
#   FerretDB       killed with kill -9, started again 5 s later (a stack of
#                  its own with ECOM_MONGO_SERVER=ferretdb: its data survives)
#   H2             mongo-java-server on its H2 file killed with kill -9 twice,
#                  started again 5 s later (a stack of its own, ECOM_MONGO_SERVER=h2)
#   instances      4 partitions, 3 instances of each stage, one killed
#   SIGTERM        10 stage processes stopped with SIGTERM
#   exactly-once   the stage kills at W = 1 and at P = 4 with W = 64, and
#                  the broker down 30 s, under --exactly-once (*-eos)
#
# The stacks live in $ECOM_SCENARIO_DIR (default /tmp/ecom-scenarios-UID)
# and are taken down at the end; each scenario's JSON line and logs stay
# there.  Prints the table (Markdown) on stdout; exit 1 if any scenario
# failed its checks.  README.md says how long the whole set takes.
#
# usage: scripts/fault-scenarios.sh [NAME...]   (names: see the table; default all)
set -uo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
msg() { printf 'fault-scenarios: %s\n' "$*" >&2; }

case ${1:-} in
-h | --help) sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

dir=${ECOM_SCENARIO_DIR:-/tmp/ecom-scenarios-$(id -u)}
mkdir -p "$dir" && chmod 0755 "$dir" || exit 1
# One broker, PostgreSQL and mongo-java-server; a stack apart for each
# other MongoDB-protocol server (stack-ferretdb, stack-h2).
main_stack=$dir/stack
# shellcheck disable=SC2317 # called by the EXIT trap
stop_stacks() {
	local stack
	for stack in "$main_stack" "$dir"/stack-*; do
		[[ -d $stack ]] && ECOM_DEVSTACK_DIR=$stack "$SCRIPT_DIR/devstack.sh" down >/dev/null 2>&1
	done
}
trap stop_stacks EXIT
unset ECOM_KAFKA_BROKERS ECOM_MONGODB_URI ECOM_POSTGRES_URI

# name | environment | chaos.sh arguments
scenarios=(
	"stage-kills-w1||--store postgresql -n 3000 -w 1 --partitions 1 --instances 1 --stage-kills 20 --kill-every 2 --broker-kills 0"
	"stage-kills-w4||--store postgresql -n 6000 -w 4 --partitions 1 --instances 1 --stage-kills 20 --kill-every 2 --broker-kills 0"
	"stage-kills-p4-w64||--store postgresql -n 30000 -w 64 --partitions 4 --instances 1 --stage-kills 20 --kill-every 2 --broker-kills 0"
	"broker-10s||--store postgresql -n 6000 -w 1 --partitions 1 --instances 1 --stage-kills 0 --broker-kills 1 --broker-down 10 --kill-every 5"
	"broker-30s||--store postgresql -n 8000 -w 1 --partitions 1 --instances 1 --stage-kills 0 --broker-kills 1 --broker-down 30 --kill-every 5"
	"postgresql-immediate-stop||--store postgresql -n 4000 -w 1 --partitions 1 --instances 1 --stage-kills 0 --broker-kills 0 --store-kills 1 --store-down 5 --kill-every 5"
	"ferretdb-kill|ECOM_MONGO_SERVER=ferretdb|--store mongodb -n 400 -w 1 --partitions 1 --instances 1 --stage-kills 0 --broker-kills 0 --store-kills 1 --store-down 5 --kill-every 5"
	"h2-kill|ECOM_MONGO_SERVER=h2|--store mongodb -n 2000 -w 1 --partitions 1 --instances 1 --stage-kills 0 --broker-kills 0 --store-kills 2 --store-down 5 --kill-every 8"
	"instances-p4-k3||--store postgresql -n 4000 -w 16 --partitions 4 --instances 3 --stage-kills 1 --kill-every 5 --broker-kills 0"
	"sigterm||--store postgresql -n 4000 -w 4 --partitions 1 --instances 1 --signal TERM --stage-kills 10 --kill-every 2 --broker-kills 0"
	"stage-kills-w1-eos||--store postgresql -n 1000 -w 1 --partitions 1 --instances 1 --stage-kills 20 --kill-every 2 --broker-kills 0 --exactly-once"
	"stage-kills-p4-w64-eos||--store postgresql -n 30000 -w 64 --partitions 4 --instances 1 --stage-kills 20 --kill-every 2 --broker-kills 0 --exactly-once"
	"broker-30s-eos||--store postgresql -n 2000 -w 1 --partitions 1 --instances 1 --stage-kills 0 --broker-kills 1 --broker-down 30 --kill-every 5 --exactly-once"
)

wanted=("$@")
failed=0
for line in "${scenarios[@]}"; do
	IFS='|' read -r name env args <<<"$line"
	if ((${#wanted[@]})) && [[ " ${wanted[*]} " != *" $name "* ]]; then continue; fi
	stack=$main_stack
	[[ $env =~ ECOM_MONGO_SERVER=([a-z0-9]+) ]] && stack=$dir/stack-${BASH_REMATCH[1]}
	msg "$name: chaos.sh $args"
	# shellcheck disable=SC2086 # the arguments are words
	env $env ECOM_DEVSTACK_DIR="$stack" ECOM_RUN_DIR="$dir/$name" \
		"$SCRIPT_DIR/chaos.sh" --brokers 1 --keep-stack $args >"$dir/$name.json" 2>"$dir/$name.err"
	status=$?
	((status == 0)) || failed=1
	jq -c --arg name "$name" --arg command "${env:+$env }scripts/chaos.sh --brokers 1 $args" \
		'. + {scenario: $name, command: $command}' "$dir/$name.json" >"$dir/$name.line" 2>/dev/null ||
		echo "{\"scenario\": \"$name\", \"ok\": false, \"command\": \"scripts/chaos.sh $args\"}" >"$dir/$name.line"
	msg "$name: $(tail -n 1 "$dir/$name.err")"
done

cat "$dir"/*.line 2>/dev/null | jq -s -r '
	"| scenario | guarantee | kills (stage / broker / store) | orders | lost | duplicated in the store | duplicates on topics | unexpected stage exits | longest pause in fulfilments | command |",
	"|---|---|---|---:|---:|---:|---:|---:|---|---|",
	(.[] | "| \(.scenario) | \(.processing_guarantee // "at_least_once") | \(.stage_kills // "-") / \(.broker_kills // "-") / \(.store_kills // "-") | \(.orders // "-") | \(.lost // "-") | \(.duplicated_in_store // "-") | \(.topic_duplicates // {} | [.[]] | add // 0) | \(.unexpected_exits // "-") | \(if (.losses // []) | length > 0 then (.losses | map("\(.longest_pause_s) s (\(.what) down \(.down_s) s)") | join(", ")) else "\(.longest_pause_s // "-") s" end) | `\(.command)` |")'
exit "$failed"
