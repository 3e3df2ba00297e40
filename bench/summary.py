#!/usr/bin/env python3
"""Side-by-side table of loadgen JSON lines: for every label run against both targets, each
figure for the gateway, for Nchan, and their ratio (gateway / Nchan).

    python3 bench/summary.py target/bench/compare-….jsonl
"""
import json
import statistics
import sys


def get(run, path):
    value = run
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


# (label, path in the JSON line, format) per mode.
FIGURES = {
    "idle": [
        ("streams open", "streams_open", "{:.0f}"),
        ("server RSS KiB per stream", "server_rss_per_stream_kib", "{:.2f}"),
        ("server PSS KiB per stream", "server_pss_per_stream_kib", "{:.2f}"),
        ("Redis RSS KiB per stream", "redis_rss_per_stream_kib", "{:.2f}"),
        ("server CPU s while opening and holding", "server.cpu_seconds", "{:.2f}"),
    ],
    "fanout": [
        ("streams open", "streams_open", "{:.0f}"),
        ("deliveries", "totals.received", "{:.0f}"),
        ("lost", "totals.lost", "{:.0f}"),
        ("duplicated", "totals.duplicated", "{:.0f}"),
        ("reordered", "totals.reordered", "{:.0f}"),
        ("deliveries/s", "deliveries_per_second", "{:.0f}"),
        ("latency p50 ms", "latency.p50_ms", "{:.2f}"),
        ("latency p90 ms", "latency.p90_ms", "{:.2f}"),
        ("latency p99 ms", "latency.p99_ms", "{:.2f}"),
        ("latency max ms", "latency.max_ms", "{:.2f}"),
        ("server CPU s", "server.cpu_seconds", "{:.2f}"),
        ("Redis CPU s", "redis.cpu_seconds", "{:.2f}"),
        ("server CPU s per M deliveries", "server_cpu_per_million", "{:.2f}"),
        ("Redis CPU s per M deliveries", "redis_cpu_per_million", "{:.2f}"),
        ("deliveries per CPU-second (server + Redis)", "deliveries_per_cpu_second", "{:.0f}"),
    ],
    "connect": [
        ("streams opened", "connect.streams", "{:.0f}"),
        ("opened per second", "connect.per_second", "{:.0f}"),
        ("time to open p99 ms", "connect.p99_ms", "{:.1f}"),
        ("CPU ms per stream opened (server + Redis)", "connect.cpu_ms_per_stream", "{:.3f}"),
        ("storm: streams resumed", "storm.streams", "{:.0f}"),
        ("storm: failed attempts (retried)", "storm.failed.total", "{:.0f}"),
        ("storm: seconds until all resumed", "storm.seconds", "{:.2f}"),
        ("storm: time to missed event p50 ms", "storm.p50_ms", "{:.0f}"),
        ("storm: time to missed event p99 ms", "storm.p99_ms", "{:.0f}"),
        ("storm: missed event lost", "lost", "{:.0f}"),
        ("storm: duplicates", "duplicated", "{:.0f}"),
        ("storm: back after the run stopped waiting", "late", "{:.0f}"),
        ("storm: server CPU s", "storm.server.cpu_seconds", "{:.2f}"),
        ("storm: Redis CPU s", "storm.redis.cpu_seconds", "{:.2f}"),
        ("storm: CPU ms per reconnect (server + Redis)", "storm.cpu_ms_per_stream", "{:.3f}"),
    ],
}


def cell(fmt, value):
    return "–" if value is None else fmt.format(value)


def spread(runs):
    """For a fan-out run several times: each round's ratio of deliveries per CPU-second, their
    median, and in how many rounds the gateway's p99 was at or below Nchan's."""
    rounds = {}
    for run in runs:
        if run["mode"] == "fanout":
            rounds.setdefault(run["workload"], {}).setdefault(run["round"], {})[run["target"]] = run
    lines = []
    for workload, by_round in rounds.items():
        pairs = [pair for _, pair in sorted(by_round.items()) if len(pair) == 2]
        if len(pairs) < 2:
            continue
        ratios = [
            pair["gateway"]["deliveries_per_cpu_second"] / pair["nchan"]["deliveries_per_cpu_second"]
            for pair in pairs
        ]
        p99_ok = sum(
            get(pair["gateway"], "latency.p99_ms") <= get(pair["nchan"], "latency.p99_ms")
            for pair in pairs
        )
        listed = ", ".join(f"{ratio:.2f}" for ratio in ratios)
        lines.append(
            f"| {workload} | {listed} | {statistics.median(ratios):.2f} | {p99_ok} of {len(pairs)} |"
        )
    if lines:
        print("\n### fan-out over rounds\n")
        print("| workload | gateway / nchan, deliveries per CPU-second, each round | median "
              "| p99 at or below Nchan's |")
        print("|---|---|---|---|")
        print("\n".join(lines))


def main(path):
    runs = [json.loads(line) for line in open(path) if line.startswith('{"loadgen":')]
    # A workload run again gets "(run 2)", … so each pair stays apart.
    seen = {}
    for run in runs:
        key = (run["label"], run["target"])
        seen[key] = seen.get(key, 0) + 1
        run["workload"] = run["label"]
        run["round"] = seen[key]
        if seen[key] > 1:
            run["label"] = f'{run["label"]} (run {seen[key]})'
    labels = []
    for run in runs:
        if run["label"] not in labels:
            labels.append(run["label"])
    for label in labels:
        pair = {run["target"]: run for run in runs if run["label"] == label}
        mode = next(iter(pair.values()))["mode"]
        print(f"\n### {label}\n")
        print("| figure | gateway | nchan | gateway / nchan |")
        print("|---|---|---|---|")
        for name, key, fmt in FIGURES[mode]:
            ours = get(pair.get("gateway", {}), key)
            theirs = get(pair.get("nchan", {}), key)
            ratio = "–"
            if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)) and theirs:
                ratio = f"{ours / theirs:.2f}"
            print(f"| {name} | {cell(fmt, ours)} | {cell(fmt, theirs)} | {ratio} |")
    spread(runs)


if __name__ == "__main__":
    main(sys.argv[1])
