"""How long one `salt-run hastack.status` pass takes on the running lab: the command an
operator types, the runner's process start included, asked N times in a row. Prints one
JSON line: each pass's seconds, min, median, max, and whether every pass was green.

Usage: python bench/status.py [N]   (default 5; needs `hastack lab up`)
"""

import json
import statistics
import sys
import time

from hastack.lab.client import LabClient


def main():
    passes = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    lab = LabClient()
    took, green = [], []
    for _ in range(passes):
        started = time.monotonic()
        res = lab.salt_run("hastack.status", "--out=json", timeout=300)
        took.append(round(time.monotonic() - started, 2))
        green.append(res.returncode == 0)
    print(json.dumps({"status_pass_s": took, "min_s": min(took),
                      "median_s": statistics.median(took), "max_s": max(took),
                      "all_green": all(green)}))


if __name__ == "__main__":
    main()
