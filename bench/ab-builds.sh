#!/usr/bin/env bash
# ab-builds.sh: two builds of ecom-bench, alternated on one dev stack
# (A B A B ...), so both see the same machine and the same services.  For
# each store and window: the median and [min-max] of elapsed, orders/s
# and the CPU per event (ecom's stage threads, its other threads, the
# broker, the store: ecom-bench's own `cpu` object, absent from builds
# older than it; and proc_us_per_event, the whole process's user+system
# time over its events, preparation included, which every build has),
# each build's, and the median of B over A taken
# pair by pair.  Needs ECOM_* from `scripts/devstack.sh up` and its
# ECOM_DEVSTACK_DIR (for the services' CPU).  The raw reports stay in DIR.
#
# usage: bench/ab-builds.sh A-ECOM-BENCH B-ECOM-BENCH [-r PAIRS] [-d DIR]
#            [--stores mongodb,postgresql] [--run N:W]... [-- ecom-bench args]
#   e.g. bench/ab-builds.sh /work/wt-base/ecom-bench ./ecom-bench \
#            --run 3000:256 --run 3000:64 --run 2000:16 --run 1000:1
set -euo pipefail

msg() { printf 'ab-builds: %s\n' "$*" >&2; }
usage_error() { msg "$*"; echo "try 'bench/ab-builds.sh --help'" >&2; exit 2; }

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
	sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit 0
fi
(($# >= 2)) || usage_error "two ecom-bench programs are needed"
a=$1 b=$2
shift 2
for p in "$a" "$b"; do [[ -x $p ]] || usage_error "'$p' is not an executable"; done
pairs=3 dir= stores=mongodb,postgresql runs=() extra=()
while (($#)); do
	case "$1" in
	-r) pairs=${2:?}; shift 2 ;;
	-d) dir=${2:?}; shift 2 ;;
	--stores) stores=${2:?}; shift 2 ;;
	--run) [[ ${2:-} =~ ^[1-9][0-9]*:[1-9][0-9]*$ ]] || usage_error "--run takes N:W"; runs+=("$2"); shift 2 ;;
	--) shift; extra=("$@"); break ;;
	*) usage_error "unknown option '$1'" ;;
	esac
done
[[ $pairs =~ ^[1-9][0-9]*$ ]] || usage_error "-r: '$pairs' is not a whole number from 1"
((${#runs[@]})) || runs=(3000:256)
[[ -n ${ECOM_KAFKA_BROKERS:-} && -n ${ECOM_DEVSTACK_DIR:-} ]] ||
	usage_error "no dev stack: eval \"\$(scripts/devstack.sh up)\" and export ECOM_DEVSTACK_DIR"
dir=${dir:-$(mktemp -d /tmp/ab-builds.XXXXXX)}
mkdir -p "$dir"
msg "reports in $dir; load average $(cut -d' ' -f1-3 /proc/loadavg)"

IFS=, read -r -a store_list <<<"$stores"
for run in "${runs[@]}"; do
	n=${run%%:*} w=${run##*:}
	for store in "${store_list[@]}"; do
		for ((i = 1; i <= pairs; i++)); do
			for side in A B; do
				prog=$a
				[[ $side == B ]] && prog=$b
				/usr/bin/time -f '%U %S' -o "$dir/time" \
					"$prog" -n "$n" -w "$w" --store "$store" --no-progress --floor-samples 50 "${extra[@]}" \
					2>>"$dir/stderr.log" >"$dir/report.json"
				read -r user sys <"$dir/time"
				jq -c --arg side "$side" --arg store "$store" --argjson pair "$i" \
					--argjson proc_cpu_s "$(jq -n "$user + $sys")" \
						'{side: $side, store: $store, pair: $pair, n: .orders, w: .window,
						  elapsed_s, orders_per_s, peak_rss_kib,
						  rtt_ms: (.floor.kafka_round_trip_ms // .floor.kafka_ms // null),
						  ecom: .cpu.us_per_event.ecom,
						  stages: ([.cpu.ecom_stage_threads_us_per_event[]?] | add),
						  other: .cpu.ecom_other_threads_us_per_event,
						  kafka: .cpu.us_per_event.kafka, store_cpu: .cpu.us_per_event.store,
						  proc_us_per_event: ($proc_cpu_s * 1e6 / (.orders * 5))}' \
					"$dir/report.json" >>"$dir/runs.jsonl"
			done
		done
	done
done

# One row per (window, store, figure): A's median [min-max], B's, B/A.
jq -rs '
  def med: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
  def fmt: if . == null then "-" else (. * 100 | round / 100 | tostring) end;
  def span: if length == 0 then "-" else "\(med | fmt) [\(min | fmt)-\(max | fmt)]" end;
  group_by([.w, .store])[] as $g
  | ["elapsed_s", "orders_per_s", "ecom", "stages", "other", "kafka", "store_cpu", "proc_us_per_event", "rtt_ms", "peak_rss_kib"][] as $f
  | ($g | map(select(.side == "A") | .[$f]) | map(select(. != null))) as $a
  | ($g | map(select(.side == "B") | .[$f]) | map(select(. != null))) as $b
  | ([$g | group_by(.pair)[] | select(length == 2)
      | (map(select(.side == "A"))[0][$f]) as $x | (map(select(.side == "B"))[0][$f]) as $y
      | select($x != null and $y != null and $x != 0) | $y / $x]) as $r
  | "| \($g[0].w) | \($g[0].store) | \($f) | \($a | span) | \($b | span) | \($r | med | fmt) |"' \
	"$dir/runs.jsonl" | {
	echo "| W | store | figure | A median [min-max] | B median [min-max] | B/A (pairwise median) |"
	echo "|---|---|---|---|---|---|"
	cat
}
msg "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
