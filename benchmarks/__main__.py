"""`make bench`: every benchmark, each reporting rows per second and ratios against its baselines."""

from __future__ import annotations

import sys

from benchmarks import bench_mapping


def main() -> int:
    selected = set(sys.argv[1:]) or {"mapping", "pipeline"}
    if "mapping" in selected:
        print(bench_mapping.report(bench_mapping.run()), flush=True)
    if "pipeline" in selected:
        try:
            from benchmarks import bench_pipeline
        except ImportError:
            print("pipeline benchmark not available yet")
        else:
            print(bench_pipeline.report(bench_pipeline.run()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
