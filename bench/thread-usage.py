#!/usr/bin/env python3
"""thread-usage.py: CPU time and context switches of each thread of a command.

    bench/thread-usage.py [-i SECONDS] [--orders N] -- COMMAND [ARGS...]

Runs COMMAND and reads /proc/PID/task/*/{stat,status,schedstat} every SECONDS
(default 0.05) until it exits; a thread's figures are the last ones read
before it ended (so a thread loses at most one interval).  Prints, in
Markdown, one row per thread (tid, name, user and system CPU, voluntary
and involuntary context switches; CPU from schedstat, in ns, the
user/system split in clock ticks), grouped by name (librdkafka names its
threads rdk:main, rdk:broker…; ecom-bench's stage threads carry the
command's name, in the order they were created), then the totals, and
per order when --orders is given.  COMMAND's stdout and stderr pass
through to stderr.
"""
import argparse
import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def read_task(pid, tid):
    base = f"/proc/{pid}/task/{tid}"
    with open(f"{base}/stat") as f:
        text = f.read()
    name = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    vol = invol = 0
    with open(f"{base}/schedstat") as f:
        cpu = int(f.read().split()[0]) / 1e9
    with open(f"{base}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                vol = int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                invol = int(line.split()[1])
    return {"tid": int(tid), "name": name, "cpu": cpu, "utime": int(fields[11]) / TICK,
            "stime": int(fields[12]) / TICK, "vol": vol, "invol": invol}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-i", "--interval", type=float, default=0.05)
    ap.add_argument("--orders", type=int, default=0, help="divide the totals by N orders")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        ap.error("no command")
    proc = subprocess.Popen(cmd, stdout=sys.stderr)
    seen = {}
    while proc.poll() is None:
        try:
            tids = os.listdir(f"/proc/{proc.pid}/task")
        except OSError:
            break
        for tid in tids:
            try:
                seen[int(tid)] = read_task(proc.pid, tid)
            except (OSError, ValueError):
                pass  # the thread ended meanwhile
        time.sleep(args.interval)
    if proc.wait() != 0:
        sys.exit(f"thread-usage: the command exited with {proc.returncode}")

    rows = sorted(seen.values(), key=lambda r: r["tid"])
    keys = ("cpu", "utime", "stime", "vol", "invol")
    print("| tid | thread | CPU s | user s | system s | voluntary cs | involuntary cs |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['tid']} | {r['name']} | {r['cpu']:.3f} | {r['utime']:.2f} | {r['stime']:.2f} |"
              f" {r['vol']} | {r['invol']} |")
    print("\n| threads named | count | CPU s | user s | system s | voluntary cs | involuntary cs |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    groups = {}
    for r in rows:
        g = groups.setdefault(r["name"], dict.fromkeys(("n",) + keys, 0))
        g["n"] += 1
        for k in keys:
            g[k] += r[k]
    total = {k: sum(g[k] for g in groups.values()) for k in ("n",) + keys}
    for name, g in sorted(groups.items(), key=lambda kv: -kv[1]["cpu"]):
        print(f"| {name} | {g['n']} | {g['cpu']:.3f} | {g['utime']:.2f} | {g['stime']:.2f} |"
              f" {g['vol']} | {g['invol']} |")
    print(f"| all | {total['n']} | {total['cpu']:.3f} | {total['utime']:.2f} | {total['stime']:.2f} |"
          f" {total['vol']} | {total['invol']} |")
    if args.orders > 0:
        n = args.orders
        print(f"\nPer order ({n}): CPU {total['cpu'] * 1e3 / n:.3f} ms,"
              f" voluntary context switches {total['vol'] / n:.1f},"
              f" involuntary {total['invol'] / n:.1f}")


if __name__ == "__main__":
    main()
