#!/usr/bin/env python3
"""compare-plain.py: ecom-bench against bench/plain-flow.py, alternated runs.

    bench/compare-plain.py [-r RUNS] [-n ORDERS] [-w WINDOW] [--count-every K,...]

Runs, RUNS times in turn (A, B, C, A, B, C, ...), on the dev stack named
by $ECOM_DEVSTACK_DIR (its ECOM_* variables must be exported):

    bench/plain-flow.sh -n ORDERS --window WINDOW --count-every K   (for each K)
    ./ecom-bench -n ORDERS -w WINDOW --store postgresql --floor-samples 1 --no-progress

and for each run reports: elapsed_s (the command's own JSON: first order
produced to last fulfilled), the client's CPU time and voluntary context
switches (wait4's rusage of the whole process, all threads), and the CPU
time the PostgreSQL cluster and the Kafka broker used while the command
ran, from the launch to the exit of the command (setup included: topic
reset, and for ecom-bench its three floor chains).  PostgreSQL: the
postmaster's own and reaped children's time plus its live children's;
Kafka: the broker's JVM, all threads (/proc/PID/stat).  Then medians and
ranges per command, and per round the ratio of each command's elapsed to
ecom-bench's in the same round.  Markdown on stdout.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()  # fields from 3 (state) on


def cpu_s(pid, children=False):
    f = stat_fields(pid)
    ticks = int(f[11]) + int(f[12])  # utime, stime
    if children:
        ticks += int(f[13]) + int(f[14])  # cutime, cstime: reaped children
    return ticks / TICK


def postgres_cpu_s(postmaster):
    total = cpu_s(postmaster, children=True)
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            f = stat_fields(name)
            if int(f[1]) == postmaster:  # ppid
                total += (int(f[11]) + int(f[12])) / TICK
        except (OSError, ValueError, IndexError):
            pass  # it ended meanwhile
    return total


def read_pid(path):
    with open(path) as f:
        return int(f.readline().split()[0])


def run_one(label, cmd, pg_pid, kafka_pid):
    pg0, k0, t0 = postgres_cpu_s(pg_pid), cpu_s(kafka_pid), time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    time.sleep(0.5)  # let the postmaster reap the run's backends
    pg1, k1 = postgres_cpu_s(pg_pid), cpu_s(kafka_pid)
    if proc.returncode != 0:
        sys.exit(f"compare-plain: {label} failed ({proc.returncode}): {err.decode()[-2000:]}")
    report = None
    for line in out.decode().splitlines():
        if line.startswith("{"):
            report = json.loads(line)
    if report is None or "elapsed_s" not in report:
        sys.exit(f"compare-plain: {label}: no JSON report with elapsed_s")
    return {"label": label, "elapsed_s": report["elapsed_s"], "wall_s": wall,
            "client_cpu_s": usage.ru_utime + usage.ru_stime, "vcsw": usage.ru_nvcsw,
            "ivcsw": usage.ru_nivcsw, "pg_cpu_s": pg1 - pg0, "kafka_cpu_s": k1 - k0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-r", "--runs", type=int, default=3)
    ap.add_argument("-n", "--orders", type=int, default=1000)
    ap.add_argument("-w", "--window", type=int, default=1)
    ap.add_argument("--count-every", default="1,100",
                    help="plain-flow.py's --count-every values, one command each (default 1,100)")
    args = ap.parse_args()
    state = os.environ.get("ECOM_DEVSTACK_DIR")
    if not state or not os.environ.get("ECOM_POSTGRES_URI"):
        sys.exit("compare-plain: export ECOM_DEVSTACK_DIR and the dev stack's ECOM_* variables")
    pg_pid = read_pid(os.path.join(state, "postgres/data/postmaster.pid"))
    kafka_pid = read_pid(os.path.join(state, "kafka/kafka.pid"))

    n, w = str(args.orders), str(args.window)
    commands = [(f"plain-flow.py, count every {k}",
                 ["bench/plain-flow.sh", "-n", n, "--window", w, "--count-every", k])
                for k in args.count_every.split(",")]
    # One floor chain, not the default 100 before, in and after the run:
    # the floor is not compared here, and with one order in flight
    # ecom-bench's clock stops while it times a chain in the run.
    commands.append(("ecom-bench", ["./ecom-bench", "-n", n, "-w", w, "--store", "postgresql",
                                    "--floor-samples", "1", "--no-progress"]))
    print(f"{args.orders} orders, window {args.window}, {args.runs} rounds;"
          f" load average before: {os.getloadavg()[0]:.2f}\n")
    print("| round | command | elapsed s | ratio to ecom-bench | process wall s | client CPU s |"
          " voluntary cs | involuntary cs | PostgreSQL CPU s | broker CPU s |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    results = []
    for r in range(1, args.runs + 1):
        row = [run_one(label, cmd, pg_pid, kafka_pid) for label, cmd in commands]
        base = row[-1]["elapsed_s"]
        for x in row:
            x["ratio"] = x["elapsed_s"] / base
            print(f"| {r} | {x['label']} | {x['elapsed_s']:.3f} | {x['ratio']:.3f} |"
                  f" {x['wall_s']:.2f} | {x['client_cpu_s']:.2f} | {x['vcsw']} | {x['ivcsw']} |"
                  f" {x['pg_cpu_s']:.2f} | {x['kafka_cpu_s']:.2f} |", flush=True)
        results.append(row)
    print(f"\nMedians (min–max) of {args.runs} rounds; load average after:"
          f" {os.getloadavg()[0]:.2f}\n")
    print("| command | elapsed s | ratio to ecom-bench | client CPU s | voluntary cs |"
          " PostgreSQL CPU s | broker CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for i, (label, _) in enumerate(commands):
        def cell(key, fmt):
            v = [row[i][key] for row in results]
            return f"{fmt.format(statistics.median(v))} ({fmt.format(min(v))}–{fmt.format(max(v))})"
        print(f"| {label} | {cell('elapsed_s', '{:.3f}')} | {cell('ratio', '{:.3f}')} |"
              f" {cell('client_cpu_s', '{:.2f}')} | {cell('vcsw', '{:.0f}')} |"
              f" {cell('pg_cpu_s', '{:.2f}')} | {cell('kafka_cpu_s', '{:.2f}')} |")


if __name__ == "__main__":
    main()
