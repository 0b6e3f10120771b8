"""Chaos figures: every scenario of hastack/lab/chaos.py under load, one after the other.

Usage: python bench/chaos.py [SCENARIO ...]   (needs `hastack lab up`; prints a final JSON
line with, per scenario, failed token requests, acknowledged rows lost, confirmed messages
lost, the longest time the writer and the publisher went without an acknowledgement,
seconds until `hastack.status` was green again, for a killed service the seconds until
it ran again, and for Galera killed everywhere or an undone fault the seconds until every
member was Synced in one Primary component again)
"""

import json
import sys

from hastack.lab.chaos import Chaos
from hastack.lab.client import LabClient


def main():
    chaos = Chaos(LabClient(), progress=lambda msg: print(msg, file=sys.stderr))
    wanted = sys.argv[1:]
    out = {}
    for name, kwargs in chaos.scenarios():
        if wanted and name not in wanted:
            continue
        out[name] = chaos.run(name, **kwargs)
    print(json.dumps({"load": {"tokens": "one at a time through the API VIP, 2 s timeout",
                               "rows": "autocommit inserts through the database VIP",
                               "messages": "persistent, confirmed, to a quorum queue"},
                      "scenarios": out}))


if __name__ == "__main__":
    main()
