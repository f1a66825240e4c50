#!/usr/bin/env python3
"""Writes tasks.jsonl, the agent benchmark (scripts/eval_agent.py): 36 tasks of
this project's own that need a look before the answer, each with its setup
lines, a check, a reference command, and the state before the run of every
file its check names. Each reference command passes and a no-op fails, in
the shared scorer's sandbox, or nothing is written.

    python3 scripts/agent_eval/build.py
"""

import importlib.util
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
T = []
GOLD = {1: 'tail -n 2 logs/api.log', 2: 'head -n 1 data/b.txt', 3: 'diff etc/two.conf etc/two.conf.bak', 4: 'wc -l reports/feb.csv', 5: 'cat inbox/b.msg', 6: "grep -rn 'def parse_date' src", 7: 'grep -rn TODO project', 8: 'ls projects/beta', 9: 'head -n 3 notes/b.txt', 10: 'cp conf/backup/y.cfg conf/y.cfg', 11: 'mv downloads/huge.iso archive/', 12: 'rm scratch/empty1 scratch/empty2', 13: 'mv drafts/d2.txt drafts/final.txt', 14: 'chmod +x bin/b.sh', 15: 'echo checked >> logs/a.log; echo checked >> logs/c.log', 16: "sed -i 's/teh/the/' essay/p2.txt", 17: 'echo 25', 18: 'mv data/x/big.dat archive/; echo 3000', 19: 'echo cfg/dev-local.json', 20: 'mkdir release-2.7.1', 21: 'grep 8443 server.log', 22: 'cat secret/target.txt', 23: 'wc -w texts/two.txt', 24: 'sed -n 2p guide/intro.txt', 25: 'rm junk/a.tmp junk/b.tmp junk/c.log', 26: 'echo p3-missing.jpg p4-missing.jpg', 27: 'grep -f blocked.txt hosts.txt', 28: 'echo 42', 29: 'cp reports/r2.txt today.txt', 30: 'echo bob', 31: 'mv queue/j2.txt failed/', 32: 'echo 5', 33: 'cp mail/m2.txt important/', 34: 'echo 3', 35: 'grep curl tools/fetch-data.sh; echo tools/fetch-data.sh', 36: 'cp docs/a.md docs/b.md export/; echo 2'}
def task(id, nl, setup, check, split, files_expect=None, difficulty=1):
    T.append({"gold": [GOLD[id]], "id": f"agent-{id:02d}", "source": "nlsh-agent", "suite": "agent", "license": "same as nlsh",
              "nl": nl, "fixture": None, "setup": setup, "difficulty": difficulty, "split": split,
              "expect": {"stdout": [], "ordered": False, "fs_changes": files_expect or []}, "check": check})

task(1, "which log in logs has the most lines containing ERROR? print its last 2 lines",
     ["mkdir logs", "printf 'ok start\\nERROR disk\\nERROR net\\nERROR cpu\\nshutdown-alpha\\nbye-alpha\\n' > logs/api.log",
      "printf 'ERROR one\\nok\\nlast-beta\\nend-beta\\n' > logs/db.log", "printf 'fine\\nstill fine\\nok-gamma\\n' > logs/web.log"],
     {"stdout_contains": ["shutdown-alpha", "bye-alpha"], "stdout_not_contains": ["end-beta", "ok-gamma"]}, "dev")
task(2, "find the largest file in data and print its first line",
     ["mkdir data", "printf 'small-one\\n' > data/a.txt", "seq 1 500 | sed 's/^/row /' | sed '1s/.*/HEADER-BIG/' > data/b.txt",
      "printf 'medium\\n%.0s' $(seq 1 20) > data/c.txt"],
     {"stdout_contains": ["HEADER-BIG"], "stdout_not_contains": ["small-one"]}, "test")
task(3, "one of the .conf files in etc differs from its .bak copy next to it; show me the lines that differ",
     ["mkdir etc", "printf 'port=80\\nhost=a\\n' > etc/one.conf", "cp etc/one.conf etc/one.conf.bak",
      "printf 'mode=fast\\nlevel=3\\n' > etc/two.conf", "printf 'mode=fast\\nlevel=9\\n' > etc/two.conf.bak"],
     {"stdout_contains": ["level=3", "level=9"]}, "dev")
task(4, "which csv file in reports has the most rows? tell me its name and how many lines it has",
     ["mkdir reports", "seq 1 7 > reports/jan.csv", "seq 1 31 > reports/feb.csv", "seq 1 12 > reports/mar.csv"],
     {"stdout_contains": ["feb.csv"], "stdout_numbers_include": [31]}, "test")
task(5, "what is the most recently modified file in inbox? show its contents",
     ["mkdir inbox", "printf 'old news\\n' > inbox/a.msg", "printf 'fresh news 42\\n' > inbox/b.msg", "printf 'middle news\\n' > inbox/c.msg",
      "touch -d '2024-01-01 10:00' inbox/a.msg", "touch -d '2024-03-01 10:00' inbox/b.msg", "touch -d '2024-02-01 10:00' inbox/c.msg"],
     {"stdout_contains": ["fresh news 42"], "stdout_not_contains": ["old news"]}, "dev")
task(6, "which python file under src defines a function called parse_date? print the line that defines it",
     ["mkdir -p src/util src/app", "printf 'import os\\n\\ndef parse_date(text, fmt=None):\\n    return text\\n' > src/util/dates.py",
      "printf 'from util.dates import parse_date\\nprint(parse_date(\"x\"))\\n' > src/app/main.py", "printf 'def other():\\n    pass\\n' > src/util/misc.py"],
     {"stdout_contains": ["def parse_date(text, fmt=None):"]}, "test")
task(7, "is there a TODO comment in any file under project? tell me which file it is in and show that line",
     ["mkdir -p project/lib", "printf 'x = 1\\n' > project/a.py", "printf 'y = 2\\n# TODO: handle empty input\\n' > project/lib/b.py", "printf 'z\\n' > project/lib/c.py"],
     {"stdout_contains": ["b.py", "TODO: handle empty input"]}, "dev")
task(8, "which folder inside projects holds the most files? list the files in it",
     ["mkdir -p projects/alpha projects/beta projects/gamma", "touch projects/alpha/a1 projects/beta/b1 projects/beta/b2 projects/beta/b3-special projects/gamma/g1 projects/gamma/g2"],
     {"stdout_contains": ["b1", "b2", "b3-special"]}, "test")
task(9, "find the file in notes that mentions invoice and show its first 3 lines",
     ["mkdir notes", "printf 'shopping list\\nmilk\\n' > notes/a.txt", "printf 'line one\\nline two\\nthe invoice is due\\nline four\\nline five\\n' > notes/b.txt",
      "printf 'nothing here\\n' > notes/c.txt"],
     {"stdout_contains": ["line one", "line two", "the invoice is due"], "stdout_not_contains": ["line five"]}, "dev")
task(10, "one of the configs in conf was changed; its original is in conf/backup under the same name. put the original back",
     ["mkdir -p conf/backup", "printf 'a=1\\n' > conf/x.cfg", "cp conf/x.cfg conf/backup/x.cfg", "printf 'b=2\\n' > conf/y.cfg",
      "printf 'b=1\\n' > conf/backup/y.cfg", "printf 'c=3\\n' > conf/z.cfg", "cp conf/z.cfg conf/backup/z.cfg"],
     {"files": {"conf/y.cfg": {"content": "b=1\n"}}}, "test")
task(11, "move the biggest file in downloads into the archive folder",
     ["mkdir downloads archive", "head -c 100 /dev/zero > downloads/small.bin", "head -c 9000 /dev/zero > downloads/huge.iso", "head -c 2000 /dev/zero > downloads/mid.zip"],
     {"files": {"downloads/huge.iso": {"type": "deleted"}, "archive/huge.iso": {"type": "file", "size": 9000}}}, "dev")
task(12, "delete the empty files in scratch, keep the others",
     ["mkdir scratch", "touch scratch/empty1 scratch/empty2", "printf 'keep me\\n' > scratch/full.txt"],
     {"files": {"scratch/empty1": {"type": "deleted"}, "scratch/empty2": {"type": "deleted"}}}, "test")
task(13, "in drafts there is a file whose first line is FINAL. rename that file to final.txt",
     ["mkdir drafts", "printf 'draft\\nv1\\n' > drafts/d1.txt", "printf 'FINAL\\nv3\\n' > drafts/d2.txt", "printf 'draft\\nv2\\n' > drafts/d3.txt"],
     {"files": {"drafts/d2.txt": {"type": "deleted"}, "drafts/final.txt": {"content": "FINAL\nv3\n"}}}, "dev")
task(14, "one script in bin is not executable; find it and make it executable",
     ["mkdir bin", "printf '#!/bin/sh\\necho a\\n' > bin/a.sh", "printf '#!/bin/sh\\necho b\\n' > bin/b.sh", "printf '#!/bin/sh\\necho c\\n' > bin/c.sh",
      "chmod 755 bin/a.sh bin/c.sh", "chmod 644 bin/b.sh"],
     {"files": {"bin/b.sh": {"mode_set": "0100"}}}, "test")
task(15, "add a line saying checked to the end of every log file in logs that contains WARN",
     ["mkdir logs", "printf 'WARN low disk\\n' > logs/a.log", "printf 'all good\\n' > logs/b.log", "printf 'x\\nWARN hot\\n' > logs/c.log"],
     {"files": {"logs/a.log": {"content": "WARN low disk\nchecked\n"}, "logs/c.log": {"content": "x\nWARN hot\nchecked\n"}}}, "dev")
task(16, "one of the files in essay has the typo teh instead of the. fix it in that file",
     ["mkdir essay", "printf 'the cat sat\\n' > essay/p1.txt", "printf 'on teh mat\\n' > essay/p2.txt", "printf 'and slept\\n' > essay/p3.txt"],
     {"files": {"essay/p2.txt": {"content": "on the mat\n"}}}, "test")
task(17, "how many more lines does long.txt have than short.txt?",
     ["seq 1 40 > long.txt", "seq 1 15 > short.txt"],
     {"stdout_numbers_include": [25]}, "dev")
task(18, "find the biggest file under data, move it into archive, then tell me how many bytes that freed in data",
     ["mkdir -p data/x archive", "head -c 3000 /dev/zero > data/x/big.dat", "head -c 10 /dev/zero > data/small.dat"],
     {"files": {"data/x/big.dat": {"type": "deleted"}, "archive/big.dat": {"size": 3000}}, "stdout_numbers_include": [3000]}, "test")
task(19, "which of the json files in cfg sets debug to true? print its file name",
     ["mkdir cfg", "printf '{\"debug\": false}\\n' > cfg/prod.json", "printf '{\"debug\": true, \"x\": 1}\\n' > cfg/dev-local.json", "printf '{\"name\": \"debug\"}\\n' > cfg/misc.json"],
     {"stdout_contains": ["dev-local.json"], "stdout_not_contains": ["prod.json"]}, "dev")
task(20, "look up the version in version.txt and make a directory called release-VERSION with that version",
     ["printf '2.7.1\\n' > version.txt"],
     {"files": {"release-2.7.1": {"type": "dir"}}}, "test")
task(21, "settings.ini says which port the server uses. print the lines of server.log that mention that port",
     ["printf '[server]\\nport = 8443\\nname = web\\n' > settings.ini", "printf 'boot\\nlistening on 8080\\nlistening on 8443 ok\\nclient to 8443 closed\\n' > server.log"],
     {"stdout_contains": ["listening on 8443 ok", "client to 8443 closed"], "stdout_not_contains": ["listening on 8080"]}, "dev")
task(22, "pointer.txt holds the name of another file. show me the contents of that file",
     ["printf 'secret/target.txt\\n' > pointer.txt", "mkdir secret", "printf 'treasure found here\\n' > secret/target.txt", "printf 'decoy\\n' > secret/other.txt"],
     {"stdout_contains": ["treasure found here"], "stdout_not_contains": ["decoy"]}, "test")
task(23, "count the words in the longest file in texts (the one with the most lines)",
     ["mkdir texts", "printf 'a b c\\n' > texts/one.txt", "printf 'w1 w2\\nw3 w4\\nw5 w6 w7\\nw8\\n' > texts/two.txt", "printf 'x y\\nz\\n' > texts/three.txt"],
     {"stdout_numbers_include": [8]}, "dev")
task(24, "README.md names the file to read first. print the second line of that file",
     ["printf '# Project\\nStart by reading guide/intro.txt before anything else.\\n' > README.md", "mkdir guide",
      "printf 'Welcome\\nSecond line of intro\\nThird\\n' > guide/intro.txt", "printf 'x\\nnot this one\\n' > guide/other.txt"],
     {"stdout_contains": ["Second line of intro"], "stdout_not_contains": ["not this one"]}, "test")
task(25, "the directory junk has a file named KEEP in it. delete every other file in junk",
     ["mkdir junk", "touch junk/KEEP junk/a.tmp junk/b.tmp junk/c.log"],
     {"files": {"junk/a.tmp": {"type": "deleted"}, "junk/b.tmp": {"type": "deleted"}, "junk/c.log": {"type": "deleted"}}}, "dev")
task(26, "which files in photos have no copy in backup/photos? list their names",
     ["mkdir -p photos backup/photos", "touch photos/p1.jpg photos/p2.jpg photos/p3-missing.jpg photos/p4-missing.jpg", "touch backup/photos/p1.jpg backup/photos/p2.jpg"],
     {"stdout_contains": ["p3-missing.jpg", "p4-missing.jpg"]}, "test")
task(27, "which hosts in hosts.txt are also listed in blocked.txt? print them",
     ["printf 'alpha.example\\nbeta.example\\ngamma.example\\ndelta.example\\n' > hosts.txt", "printf 'zeta.example\\ngamma.example\\nbeta.example\\n' > blocked.txt"],
     {"stdout_contains": ["gamma.example", "beta.example"]}, "dev")
task(28, "latest.txt names a file of numbers, one per line. add up those numbers",
     ["printf 'nums-b.txt\\n' > latest.txt", "printf '1\\n2\\n3\\n' > nums-a.txt", "printf '10\\n20\\n12\\n' > nums-b.txt"],
     {"stdout_numbers_include": [42]}, "test")
task(29, "copy the newest report in reports to today.txt in this folder",
     ["mkdir reports", "printf 'r1\\n' > reports/r1.txt", "printf 'r2 newest\\n' > reports/r2.txt", "printf 'r3\\n' > reports/r3.txt",
      "touch -d '2024-01-01' reports/r1.txt", "touch -d '2024-05-01' reports/r2.txt", "touch -d '2024-03-01' reports/r3.txt"],
     {"files": {"today.txt": {"content": "r2 newest\n"}}}, "dev")
task(30, "scores.txt has a name and a score on each line. who has the highest score?",
     ["printf 'ann 12\\nbob 97\\ncarl 45\\ndora 60\\n' > scores.txt"],
     {"stdout_contains": ["bob"]}, "test")
task(31, "a file in queue contains the line status: failed. move that file into the failed folder",
     ["mkdir queue failed", "printf 'job 1\\nstatus: ok\\n' > queue/j1.txt", "printf 'job 2\\nstatus: failed\\n' > queue/j2.txt", "printf 'job 3\\nstatus: ok\\n' > queue/j3.txt"],
     {"files": {"queue/j2.txt": {"type": "deleted"}, "failed/j2.txt": {"type": "file"}}}, "dev")
task(32, "how many files are in the folder that has the most subfolders inside box?",
     ["mkdir -p box/a/s1 box/a/s2 box/a/s3 box/b/s1", "touch box/a/f1 box/a/f2 box/a/f3 box/a/f4 box/a/f5 box/b/f1"],
     {"stdout_numbers_include": [5]}, "test")
task(33, "find which of the text files in mail mentions the word urgent, and copy it into the folder important",
     ["mkdir mail important", "printf 'hello\\n' > mail/m1.txt", "printf 'this is urgent, please reply\\n' > mail/m2.txt", "printf 'later\\n' > mail/m3.txt"],
     {"files": {"important/m2.txt": {"content": "this is urgent, please reply\n"}}}, "dev")
task(34, "the file todo.txt lists tasks; some start with [x] for done. how many tasks are not done yet?",
     ["printf '[x] buy milk\\n[ ] call bob\\n[x] pay rent\\n[ ] fix bike\\n[ ] read book\\n' > todo.txt"],
     {"stdout_numbers_include": [3]}, "test")
task(35, "which of the shell scripts in tools uses curl? print its name and the line with curl",
     ["mkdir tools", "printf '#!/bin/sh\\nls\\n' > tools/a.sh", "printf '#!/bin/sh\\ncurl -s http://example.invalid/x\\n' > tools/fetch-data.sh", "printf '#!/bin/sh\\necho hi\\n' > tools/c.sh"],
     {"stdout_contains": ["fetch-data.sh", "curl -s http://example.invalid/x"]}, "dev")
task(36, "make a copy of every .md file in docs into the folder export, then tell me how many files you copied",
     ["mkdir docs export", "printf 'a\\n' > docs/a.md", "printf 'b\\n' > docs/b.md", "printf 'c\\n' > docs/c.txt"],
     {"files": {"export/a.md": {"content": "a\n"}, "export/b.md": {"content": "b\n"}}, "stdout_numbers_include": [2]}, "test")

spec = importlib.util.spec_from_file_location("score", os.path.join(HERE, "..", "..", "..", "shared", "eval", "score.py"))
score = importlib.util.module_from_spec(spec); spec.loader.exec_module(score)
bad = 0
for t in T:
    d = tempfile.mkdtemp(); os.chmod(d, 0o755)
    score.materialize(t, os.path.join(d, "w"))
    snap = score.snapshot(os.path.join(d, "w"))
    pr = {p: snap[p] for p in t["check"].get("files", {}) if p in snap}
    if pr:
        t["check"]["pristine"] = pr
    shutil.rmtree(d)
    ok, why = score.score(t, score.run_task(t, t["gold"][0]))
    nok, nwhy = score.score(t, score.run_task(t, "true"))
    if not ok or nok:
        bad += 1
        print("BAD", t["id"], ok, why, nok)
if bad:
    sys.exit(f"{bad} tasks are wrong; nothing written")
with open(os.path.join(HERE, "tasks.jsonl"), "w") as f:
    for t in T:
        f.write(json.dumps(t) + "\n")
print(len(T), sum(t["split"] == "dev" for t in T))
