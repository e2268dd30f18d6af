#!/usr/bin/env python3
"""altbench.py [--no-warm] RUNS OUT.json CMD...: time shell commands in alternation.

Each command runs once to warm caches (not with --no-warm, for commands
that make everything they use afresh), then RUNS rounds run every command
once, in turn, so that a noisy neighbour slows all of them alike. Prints
the median wall time of each command, in order, on one line; OUT.json gets
every time, with the user+sys CPU time of each run (of the command and all
its children) and its median. A command that fails stops the benchmark.
"""
import json
import os
import statistics
import subprocess
import sys
import time


def run(cmd):
    c0 = os.times()
    t = time.monotonic()
    subprocess.run(["bash", "-c", cmd], check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - t
    c1 = os.times()
    cpu = (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
    return wall, cpu


def main():
    args = sys.argv[1:]
    warm = True
    if args and args[0] == "--no-warm":
        warm, args = False, args[1:]
    runs, out, cmds = int(args[0]), args[1], args[2:]
    if warm:
        for c in cmds:
            run(c)
    times = [[] for _ in cmds]
    cpus = [[] for _ in cmds]
    for _ in range(runs):
        for i, c in enumerate(cmds):
            wall, cpu = run(c)
            times[i].append(wall)
            cpus[i].append(cpu)
    meds = [statistics.median(t) for t in times]
    results = [{"command": c, "times": t, "median": m, "cpu": u, "cpu_median": statistics.median(u)}
               for c, t, m, u in zip(cmds, times, meds, cpus)]
    with open(out, "w") as f:
        json.dump({"runs": runs, "load": os.getloadavg()[0], "results": results}, f, indent=1)
    print(" ".join("%.3f" % m for m in meds))


if __name__ == "__main__":
    main()
