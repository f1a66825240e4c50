"""The agent's prompt: a fixed start (rules and one worked task, cached by the
backend) and the run so far as chat turns: the task, then each step the model
chose and what it printed, cut to a slice the model can read."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from nlsh.planner.prompt import USER

RULES = """You carry out the user's task in a Linux shell (bash and the GNU tools), one command at a \
time. After each command you see its exit status and what it printed.
Reply in this form:
Thought: what you know now and what to do next, in one sentence
Command: one bash command line, with paths relative to the current directory
When the task is done, reply instead:
Thought: why it is done
Answer: the result for the user (what you found, or what you changed)
Look before you act (ls, cat, head, grep, wc -l, du, diff), then do what the task asks: when it asks \
to move, copy, delete, rename, fix or create something, run the command that does it before you answer; \
when it asks to see something, print it with a command. If a command printed nothing or failed, try \
another way. Change only what the task names; never delete or overwrite anything else. Never run the \
same command twice."""

# Worked tasks, as earlier turns: the shape a small model copies (look, act, answer).
EXAMPLES = (
    ("which csv file in sales has the most lines? print its header line",
     "sales/\nsales/a.csv\nsales/b.csv\nnotes.txt",
     ("I need the line count of each csv file in sales.", "wc -l sales/*.csv",
      "exit 0:\n  12 sales/a.csv\n  40 sales/b.csv\n  52 total"),
     ("sales/b.csv has the most lines; I print its first line.", "head -n 1 sales/b.csv", "exit 0:\nid,name,price"),
     ("The header is printed.", "sales/b.csv has the most lines (40); its header is id,name,price")),
    ("the ticket that mentions a refund should go into done",
     "done/\ntickets/\ntickets/t1.txt\ntickets/t2.txt\ntickets/t3.txt",
     ("I need the ticket files that contain the word refund.", "grep -l -i refund tickets/*",
      "exit 0:\ntickets/t2.txt"),
     ("tickets/t2.txt mentions a refund; I move it into done.", "mv tickets/t2.txt done/", "exit 0, no output"),
     ("It is moved.", "moved tickets/t2.txt into done/")),
)

HEAD_LINES, TAIL_LINES, MAX_CHARS = 15, 10, 1500   # the slice of a step's output the model sees
LISTED = 40                                         # entries of the working directory the task is shown with
STOP = ["<|im_end|>", "<|im_start|>", "\nexit "]


@dataclass
class Turn:
    """A step as the model sees it: its reply (thought and command), and what the command printed."""
    reply: str
    observation: str


def reply_text(thought: str, command: str = "", answer: str = "") -> str:
    return f"Thought: {thought}\n" + (f"Answer: {answer}" if answer else f"Command: {command}")


def prefix() -> str:
    """The fixed start of every agent prompt (the system turn and the worked tasks)."""
    out = f"<|im_start|>system\n{RULES}<|im_end|>\n"
    for task, files, *steps, (thought, answer) in EXAMPLES:
        out += f"{USER}Task: {task}\nFiles here:\n{files}<|im_end|>\n"
        for why, command, seen in steps:
            out += f"<|im_start|>assistant\n{reply_text(why, command)}<|im_end|>\n{USER}{seen}<|im_end|>\n"
        out += f"<|im_start|>assistant\n{reply_text(thought, answer=answer)}<|im_end|>\n"
    return out + USER


def suffix(task: str, cwd: str, turns: list[Turn], note: str = "", hint: str = "") -> str:
    """What follows the prefix: the task (with the files here and ``hint``), the steps
    so far, and the opening of the model's next reply; ``note`` is a last word (the budget)."""
    out = f"Task: {task}\nFiles here:\n{listing(cwd)}" + (f"\n[{hint}]" if hint else "") + "<|im_end|>\n"
    for t in turns:
        out += f"<|im_start|>assistant\n{t.reply}<|im_end|>\n{USER}{t.observation}<|im_end|>\n"
    if note:
        out = out[:-len("<|im_end|>\n")] + f"\n({note})<|im_end|>\n"
    return out + "<|im_start|>assistant\nThought:"


def listing(cwd: str, limit: int = LISTED) -> str:
    """The working directory's entries, folders first level by level, at most ``limit``
    (a hidden entry is left out): what a person glances at before starting."""
    out: list[str] = []
    level = [""]
    more = 0
    while level and len(out) < limit:
        below = []
        for rel in level:
            try:
                names = sorted(n for n in os.listdir(os.path.join(cwd, rel)) if not n.startswith("."))
            except OSError:
                continue
            for n in names:
                path = os.path.join(rel, n)
                folder = os.path.isdir(os.path.join(cwd, path)) and not os.path.islink(os.path.join(cwd, path))
                if len(out) < limit:
                    out.append(path + ("/" if folder else ""))
                else:
                    more += 1
                if folder:
                    below.append(path)
        level = below
    if more or level:
        out.append("… (more below)")
    return "\n".join(out) or "(nothing)"


def observed(status: int, output: str) -> str:
    """A step's status and a bounded slice of its output: errors first, then the
    head and the tail of the rest, never more than MAX_CHARS."""
    lines = output.rstrip("\n").split("\n") if output.strip() else []
    errors = [x for x in lines if x.startswith(("nlsh:", "bash:")) or ": No such file" in x]
    rest = [x for x in lines if x not in errors]
    if len(rest) > HEAD_LINES + TAIL_LINES:
        rest = rest[:HEAD_LINES] + [f"… ({len(rest) - HEAD_LINES - TAIL_LINES} more lines) …"] + rest[-TAIL_LINES:]
    text = "\n".join(errors[:5] + rest)
    if len(text) > MAX_CHARS:
        text = text[:MAX_CHARS // 2] + "\n…\n" + text[-MAX_CHARS // 2:]
    if not text:
        return f"exit {status}, no output" + (" (nothing matched)" if status == 1 else "")
    return f"exit {status}:\n{text}"


ACTIONS = frozenset(["move", "moved", "copy", "delete", "remove", "rename", "fix", "put", "create", "make", "add", "append", "replace", "restore", "change", "edit", "write", "save"])


def asks_a_change(task: str) -> str:
    """The word by which the task asks for a change (move, delete, fix …); "" for a look."""
    return next((w for w in re.findall(r"[a-z]+", task.lower()) if w in ACTIONS), "")


def parsed(reply: str) -> tuple[str, str, str]:
    """(thought, command, answer) of the model's reply; one of command and answer is
    "" (both when the reply has neither). A bare line is taken as the command."""
    thought, command, answer = "", "", ""
    lines = [x.strip() for x in ("Thought:" + reply if not reply.lstrip().startswith(("Thought", "Command",
             "Answer", "DONE")) else reply).split("\n")]
    for i, line in enumerate(lines):
        key, _, rest = line.partition(":")
        key = key.strip().lower()
        if key == "thought" and not thought:
            thought = rest.strip()
        elif key == "command" and not command and not answer:
            command = _unmarked(rest)
        elif key in ("answer", "done") and not command and not answer:
            answer = " ".join([rest.strip(), *lines[i + 1:]]).strip() or "done"
    if not command and not answer and thought and len(lines) == 1 and reply.lstrip().startswith(("$", "`")):
        command = _unmarked(thought)
    return thought, command, answer


def _unmarked(line: str) -> str:
    """A command without the markdown some replies come in."""
    line = line.strip()
    line = line.removeprefix("$ ")
    if len(line) > 2 and line[0] == line[-1] == "`" and "`" not in line[1:-1]:
        line = line[1:-1].strip()
    return line
