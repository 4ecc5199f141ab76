#!/usr/bin/env bash
# run-flow.sh: the order flow as separate processes, the way a deployment
# would run it.  Resets topics and store, starts the four stage processes
# (ecom-consume --stage …), drives N orders with ecom-reconcile, prints its
# report through jq, and stops every process it started, also on Ctrl-C.
#
# With no ECOM_* variables set it brings up the dev stack itself (and
# takes it down at the end unless --keep-stack): README's zero-configuration
# first command.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR

usage() {
	cat <<'USAGE'
usage: run-flow.sh [-n N] [-w W] [--store STORE] [--keep-stack] [--no-reset]

  -n N            orders to run (default 10000)
  -w W            orders in flight at once (default 1, as the original)
  --store STORE   mongodb (default), postgresql, or a URI
  --keep-stack    leave a dev stack this script started running
  --no-reset      keep the topics and the store as they are
  -h, --help      print this help

Environment: ECOM_KAFKA_BROKERS, ECOM_MONGODB_URI, ECOM_POSTGRES_URI (see
ecom.yaml(5)); when all are unset, scripts/devstack.sh provides them.
Stage logs go to $ECOM_RUN_DIR (default: a new directory under /tmp).
USAGE
}

msg() { printf 'run-flow: %s\n' "$*" >&2; }
die() { msg "$*"; exit 1; }

orders=10000 window=1 keep_stack=0 reset=1
while (($#)); do
	case "$1" in
	-n) [[ $# -ge 2 ]] || { msg "option '-n' needs a value"; exit 2; }; orders=$2; shift 2 ;;
	-w) [[ $# -ge 2 ]] || { msg "option '-w' needs a value"; exit 2; }; window=$2; shift 2 ;;
	--store) [[ $# -ge 2 ]] || { msg "option '--store' needs a value"; exit 2; }; export ECOM_STORE=$2; shift 2 ;;
	--keep-stack) keep_stack=1; shift ;;
	--no-reset) reset=0; shift ;;
	-h | --help) usage; exit 0 ;;
	*) msg "unknown option '$1'"; echo "try 'run-flow.sh --help'" >&2; exit 2 ;;
	esac
done
[[ "$orders" =~ ^[1-9][0-9]*$ ]] || { msg "-n '$orders': expected a number of orders"; exit 2; }
[[ "$window" =~ ^[1-9][0-9]*$ ]] || { msg "-w '$window': expected a number of orders"; exit 2; }

# From a source tree: build first and use the fresh binaries; installed
# (pkgdatadir), the commands are on PATH.
if [[ -f "$SCRIPT_DIR/../configure.ac" ]]; then
	"$SCRIPT_DIR/bootstrap.sh"
	PATH="$(cd "$SCRIPT_DIR/.." && pwd):$PATH"
fi
command -v ecom-reconcile >/dev/null || die "ecom commands not found on PATH"
command -v jq >/dev/null || die "jq not found: install the Debian package jq"

run_dir=${ECOM_RUN_DIR:-$(mktemp -d /tmp/ecom-run-flow.XXXXXX)}
mkdir -p "$run_dir"
rm -f "$run_dir/stage.pids"
stage_pids=()
stack_started=0

cleanup() {
	local pid
	trap - EXIT INT TERM
	for pid in "${stage_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${stage_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
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
for stage in payment inventory shipping fulfillment; do
	ecom-consume --stage "$stage" 2>"$run_dir/$stage.log" &
	stage_pids+=($!)
	echo $! >>"$run_dir/stage.pids"
done
msg "$orders orders, window $window; stage logs in $run_dir"
ecom-reconcile --drive "$orders" --window "$window" >"$run_dir/report.json" 2> >(tee "$run_dir/reconcile.log" >&2) || {
	status=$?
	msg "ecom-reconcile failed (exit $status); see $run_dir"
	exit "$status"
}
jq . "$run_dir/report.json"
