#!/usr/bin/env python3
"""Latency of a live pipeline: from a line written into `eddy run`'s standard input to the line
its item makes on standard output (README, "Running live"). Not a test: a measurement.

    cargo build --release --no-default-features
    python3 benches/live_latency.py target/release/eddy [lines] [rounds]
    python3 benches/live_latency.py old/eddy,new/eddy 400 3     # two builds, rounds interleaved
    python3 benches/live_latency.py target/release/eddy 400 3 0  # a burst: no gap between lines

A writer thread sends `lines` JSON lines with random gaps (0 to `max_gap_ms`, 20 by default, uniform), each carrying its
number; a reader thread timestamps each output line as it arrives and matches it by number. The
pipeline keys by user and counts per user (a scripted `stateful_map`) into a `stdout` sink, in
wall-clock mode. Prints median, p99 and max per round, and over all rounds.
"""

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PIPELINE = """format_version = 1

[clock]
mode = "wall"

[[sources]]
id = "live"
path = "-"
format = "jsonl"

[[steps]]
id = "by_user"
op = "key_on"
inputs = ["live"]
field = "user"

[[steps]]
id = "counted"
op = "stateful_map"
inputs = ["by_user"]
script = '''
fn mapper(state, v) {
    let n = if state == () { 1 } else { state + 1 };
    [n, #{ i: v.i, n: n }]
}
'''

[[sinks]]
id = "out"
inputs = ["counted"]
format = "stdout"
"""


def one_round(binary, lines, seed, max_gap):
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "p.toml"), "w") as f:
            f.write(PIPELINE)
        child = subprocess.Popen(
            [binary, "run", "-q", "p.toml"],
            cwd=folder,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        sent = {}
        received = {}

        def read():
            for raw in child.stdout:
                now = time.perf_counter()
                key, value = json.loads(raw)
                received[value["i"]] = now

        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(0.3)  # the run has started
        for i in range(lines):
            line = json.dumps({"user": "u%d" % (i % 10), "i": i}) + "\n"
            sent[i] = time.perf_counter()
            child.stdin.write(line.encode())
            if max_gap > 0:
                time.sleep(rng.uniform(0.0, max_gap))
        deadline = time.time() + 10
        while len(received) < lines and time.time() < deadline:
            time.sleep(0.01)
        child.stdin.close()
        child.wait(timeout=20)
        reader.join(timeout=5)
        if len(received) < lines:
            sys.exit("only %d of %d lines came out" % (len(received), lines))
        return [(received[i] - sent[i]) * 1000.0 for i in range(lines)]


def summary(latencies):
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return statistics.median(ordered), p99, ordered[-1]


def main():
    given = sys.argv[1] if len(sys.argv) > 1 else "target/release/eddy"
    binaries = [os.path.abspath(b) for b in given.split(",")]
    lines = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    max_gap = float(sys.argv[4]) / 1000.0 if len(sys.argv) > 4 else 0.02
    everything = {b: [] for b in binaries}
    per_round = {b: [] for b in binaries}
    for r in range(rounds):
        for binary in binaries:
            latencies = one_round(binary, lines, seed=r, max_gap=max_gap)
            everything[binary].extend(latencies)
            per_round[binary].append(summary(latencies))
            median, p99, worst = summary(latencies)
            print("round %d %s: %d lines  median %.1f ms  p99 %.1f ms  max %.1f ms"
                  % (r + 1, binary, lines, median, p99, worst))
    for binary in binaries:
        median, p99, worst = summary(everything[binary])
        medians = [m for m, _, _ in per_round[binary]]
        p99s = [p for _, p, _ in per_round[binary]]
        print("%s, all %d lines: median %.1f ms (rounds %.1f-%.1f)  p99 %.1f ms (rounds %.1f-%.1f)  max %.1f ms"
              % (binary, len(everything[binary]), median, min(medians), max(medians), p99, min(p99s), max(p99s), worst))


if __name__ == "__main__":
    main()
