#!/usr/bin/env python3
"""altbench.py RUNS OUT.json CMD...: time shell commands in alternation.

Each command runs once to warm caches, then RUNS rounds run every command
once, in turn, so that a noisy neighbour slows all of them alike. Prints
the median wall time of each command, in order, on one line; OUT.json gets
every time. A command that fails stops the benchmark.
"""
import json
import statistics
import subprocess
import sys
import time


def run(cmd):
    t = time.monotonic()
    subprocess.run(["bash", "-c", cmd], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t


def main():
    runs, out, cmds = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    for c in cmds:
        run(c)
    times = [[] for _ in cmds]
    for _ in range(runs):
        for i, c in enumerate(cmds):
            times[i].append(run(c))
    meds = [statistics.median(t) for t in times]
    with open(out, "w") as f:
        json.dump({"results": [{"command": c, "times": t, "median": m} for c, t, m in zip(cmds, times, meds)]}, f, indent=1)
    print(" ".join("%.3f" % m for m in meds))


if __name__ == "__main__":
    main()
