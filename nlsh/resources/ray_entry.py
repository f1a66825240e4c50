"""What a Ray job runs: ``python -m nlsh.resources.ray_entry CWD LINE``.

Runs ``nlsh -c LINE`` in CWD (a path the node shares with the submitter) and
ends its log with one accounting line (CPU and peak memory of what ran), which
the submitting shell reads back and does not show."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys

MARK = "nlsh-accounting "


def main(argv: list[str]) -> int:
    cwd, line = argv
    try:
        os.chdir(cwd)
    except OSError as e:
        print(f"nlsh: {cwd}: {e.strerror} on this node (batch --on ray runs in a shared path)", file=sys.stderr)
        return 1
    status = subprocess.call([sys.executable, "-m", "nlsh", "-c", line])
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    sys.stderr.flush()
    print(MARK + json.dumps({"cpu_user": ru.ru_utime, "cpu_system": ru.ru_stime, "peak_rss": ru.ru_maxrss * 1024,
                             "node": os.uname().nodename}), flush=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
