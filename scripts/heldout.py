#!/usr/bin/env python3
"""A held-out set of everyday requests for the planner, in the shared eval's format.

The shared eval's dev split is what the planner is tuned on and its test split
is only reported; this set is a third opinion written here: requests of the
kind people type, over the everyday pool's tree (nlsh/planner/everyday.py),
worded apart from the pool's examples and from the eval's tasks. Each has a
bash line whose result, run by the shared scorer in its sandbox, is the
expectation. Never tune on it: a change is chosen on the dev split.

  python3 scripts/heldout.py /tmp/heldout          # writes tasks/heldout.jsonl and fixtures/tree.tar.gz
  python3 scripts/eval_nl.py --tasks /tmp/heldout/tasks --scorer ../shared/eval/score.py
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nlsh.planner.everyday import TREE

# (request, bash line, ordered output, a count (compared as numbers))
HELDOUT: list[tuple[str, str, bool, bool]] = [
    ("what's at the end of logs/old.log", "tail logs/old.log", True, False),
    ("show me the top 2 lines of people.csv", "head -n 2 people.csv", True, False),
    ("how many lines are there in todo.md", "wc -l < todo.md", False, True),
    ("count the csv files in data", "ls data/*.csv | wc -l", False, True),
    ("which lines of notes.txt mention bob", "grep bob notes.txt", False, False),
    ("how many ERROR lines does server.log contain", "grep -c ERROR server.log", False, True),
    ("list the python files in src/lib", "ls src/lib/*.py", False, False),
    ("print the age column of people.csv without the header", "tail -n +2 people.csv | cut -d, -f3", True, False),
    ("sort the numbers in numbers.txt in ascending order", "sort -n numbers.txt", True, False),
    ("remove duplicate lines from words.txt and show the result sorted", "sort -u words.txt", True, False),
    ("make a directory called archive and move logs/old.log into it",
     "mkdir archive && mv logs/old.log archive/", False, False),
    ("create an empty file named .env", "touch .env", False, False),
    ("delete the empty file in data", "rm data/empty.txt", False, False),
    ("copy config.ini to config.ini.bak", "cp config.ini config.ini.bak", False, False),
    ("rename the folder photos to pictures", "mv photos pictures", False, False),
    ("replace port = 8080 with port = 9090 in config.ini", "sed -i 's/port = 8080/port = 9090/' config.ini",
     False, False),
    ("show every line of server.log from January 2", "grep 2026-01-02 server.log", True, False),
    ("which files in docs contain the word Install", "grep -l Install docs/*", False, False),
    ("find all jpg images under photos", "find photos -name '*.jpg'", False, False),
    ("how many files are in the tmp folder", "ls tmp | wc -l", False, True),
    ("what is the total of the second column in scores.txt", "awk '{s+=$2} END {print s}' scores.txt",
     False, True),
    ("who has the lowest score in scores.txt", "sort -k2 -n scores.txt | head -n 1 | cut -d' ' -f1", False, False),
    ("print the lines of notes.txt that are not empty", "grep -v '^$' notes.txt", True, False),
    ("convert todo.md to uppercase and save it as TODO.md", "tr a-z A-Z < todo.md > TODO.md", False, False),
    ("append the text 'port check done' to logs/app.log", "echo 'port check done' >> logs/app.log", False, False),
    ("show the size in bytes of README.md", "wc -c < README.md", False, True),
    ("list the subdirectories of src", "find src -mindepth 1 -type d", False, False),
    ("find files in the project that are empty", "find . -type f -empty", False, False),
    ("count how many times call appears in notes.txt", "grep -o call notes.txt | wc -l", False, True),
    ("compress logs/app.log with gzip", "gzip logs/app.log", False, False),
    ("the names of everyone in people.csv who lives in rome", "grep ',rome,' people.csv | cut -d, -f1",
     False, False),
    ("show the last line of every csv in data", "tail -n 1 data/*.csv", True, False),
    ("put the current directory's listing in a file called listing.txt", "ls > listing.txt", False, False),
    ("give every python file under src the execute bit", "find src -name '*.py' -exec chmod +x {} +", False, False),
    ("what's the longest word in words.txt",
     "awk '{print length, $0}' words.txt | sort -rn | head -n 1 | cut -d' ' -f2", False, False),
    ("how many distinct cities appear in people.csv", "tail -n +2 people.csv | cut -d, -f2 | sort -u | wc -l",
     False, True),
    ("print lines 3 to 5 of server.log", "sed -n 3,5p server.log", True, False),
    ("delete all .tmp files in tmp but keep the rest", "rm tmp/*.tmp", False, False),
    ("compare README.md with docs/guide.md", "diff README.md docs/guide.md", True, False),
    ("show the file names in docs in reverse alphabetical order", "ls -r docs", True, False),
    ("how many lines do the markdown files in docs have in total", "cat docs/*.md | wc -l", False, True),
    ("make a copy of the docs folder called docs-old", "cp -r docs docs-old", False, False),
    ("show the third word of every line in server.log", "awk '{print $3}' server.log", True, False),
    ("put hello in a new file called hi.txt in docs", "echo hello > docs/hi.txt", False, False),
    ("swap INFO for NOTICE everywhere in server.log, editing the file", "sed -i 's/INFO/NOTICE/g' server.log",
     False, False),
]


def write_fixture(path: str) -> None:
    """TREE as a tarball with fixed times and owners (the same bytes every time)."""
    parents = {os.path.dirname(p) for p in TREE} - {""}
    dirs = sorted({"/".join(p.split("/")[:i + 1]) for p in parents for i in range(p.count("/") + 1)})
    with gzip.GzipFile(path, "wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tf:
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
            tf.addfile(info)
        for rel, text in sorted(TREE.items()):
            data = text.encode()
            info = tarfile.TarInfo(rel)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tf.addfile(info, io.BytesIO(data))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dest", help="folder for tasks/heldout.jsonl and fixtures/tree.tar.gz")
    ap.add_argument("--scorer", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "eval",
                                                     "score.py"), help="path of the shared score.py")
    args = ap.parse_args()
    from eval_nl import load_scorer
    score = load_scorer(args.dest, args.scorer)
    os.makedirs(os.path.join(args.dest, "tasks"), exist_ok=True)
    os.makedirs(os.path.join(args.dest, "fixtures"), exist_ok=True)
    score.FIXTURE_DIR = os.path.join(args.dest, "fixtures")
    write_fixture(os.path.join(score.FIXTURE_DIR, "tree.tar.gz"))
    with open(os.path.join(args.dest, "tasks", "heldout.jsonl"), "w") as out:
        for n, (nl, gold, ordered, count) in enumerate(HELDOUT, 1):
            task = {"id": f"own-{n:03d}", "source": "nlsh-heldout", "suite": "tree", "nl": nl,
                    "fixture": "tree.tar.gz", "setup": [], "gold": [gold], "difficulty": 1}
            r = score.run_task(task, gold)
            lines = score.normalize_stdout(r["stdout"], score.result_roots(r))
            task["expect"] = {"stdout": lines if ordered else sorted(lines), "ordered": ordered,
                              "fs_changes": r["fs_changes"]}
            if count:
                task["expect"]["numbers"] = score.extract_numbers(lines)
            if not lines and not r["fs_changes"]:
                sys.exit(f"heldout: {gold!r} prints nothing and changes nothing")
            out.write(json.dumps(task) + "\n")
    print(f"{len(HELDOUT)} tasks in {os.path.join(args.dest, 'tasks', 'heldout.jsonl')}")


if __name__ == "__main__":
    main()
