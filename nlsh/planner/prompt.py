"""The planner's prompt: a fixed prefix (rules and a catalogue built from the
registry, cached by the backend) and a short per-request suffix (retrieved
examples, context, the utterance)."""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from dataclasses import dataclass

from nlsh.lang import ParseError, parse
from nlsh.planner.grammar import PROGRAMS
from nlsh.planner.idioms import IDIOMS
from nlsh.registry import Registry

RULES = """You are the planner of nlsh, a Unix shell. Turn the user's request into ONE line of nlsh.
Use only the commands below with the flags shown; `|` pipes, `&&`, `||` and `;` join commands.
Paths are relative to the current directory; never use / or ~ unless the user names them.
ls, find, ps, du, df, stat and free emit records (fields such as name, path, type, size, modified)
that where, sort, select, get, first, last, count and sum work on; text commands work on lines.
Quote patterns and words with spaces in single quotes. Text given in the request goes in with
echo 'TEXT' | …; sed -i and chmod change files in place; grep -r searches directories.
In find, group alternatives as \\( -name A -o -name B \\); -exec CMD {} + runs CMD once on all
the files (one total), -exec CMD {} ';' once per file.
Give the simplest line that does exactly what was asked: do not add commands that show or check
the result, and never delete, move or kill anything the user did not ask for.
Answer with the command line only."""

# The "plain" prompt: what the model is used to (a request, one bash line), no
# catalogue; nlsh parses the answer, so only what it can run gets through, and the
# retrieved examples show its habits. Measured against RULES + catalogue by eval_nl.
PLAIN_RULES = """You translate a request into ONE bash command for GNU/Linux. The current directory is \
the working directory; use relative paths. Reply with only the command, no explanation, no markdown."""

STOPWORDS = frozenset(["a", "an", "the", "of", "in", "on", "to", "for", "and", "or", "all", "my", "me", "i", "is", "are", "be", "with", "that", "this", "it", "its", "from", "by", "as", "at", "which", "what", "who", "how", "do", "does", "please", "can", "you", "into", "them", "their", "there", "these", "those", "any", "each", "every"])


@dataclass(frozen=True)
class Shot:
    utterance: str
    command: str


def catalogue(registry: Registry, programs: list[str]) -> str:
    """One line per command: the built-ins, then plugins' commands (so that a plugin
    coming or going changes only the end of the prompt's cached prefix)."""
    host = registry.host
    lines = []
    for cmd in sorted(registry, key=lambda c: host is not None and host.plugin_of(c.name) is not None):
        if cmd.name == "exit" or not cmd.planned:
            continue
        lines.append(f"{cmd.usage}  # {cmd.summary}")
    if programs:
        lines.append("Programs also available: " + ", ".join(programs))
    return "\n".join(lines)


USER = "<|im_start|>user\n"


def chatml_prefix(registry: Registry, programs: list[str], idioms: list[Shot]) -> str:
    """The system message, the idioms as earlier turns, and the opening of the next
    user turn, which every request's suffix starts with (all cached once)."""
    return (f"<|im_start|>system\n{RULES}\n\nCommands:\n{catalogue(registry, programs)}<|im_end|>\n"
            + "".join(USER + _turn(s) for s in idioms) + USER)


def plain_prefix(registry: Registry) -> str:
    """The plain prompt's system message and the opening of the next user turn; the
    commands of installed plugins come last in it (a plugin coming or going changes
    only the end of the cached prefix), so the model knows the tools it may call."""
    host = registry.host
    extra = [f"{c.usage}  # {c.summary}" for c in registry
             if c.planned and host is not None and host.plugin_of(c.name) is not None]
    tools = "\nAlso available here, use them where they fit:\n" + "\n".join(extra) if extra else ""
    return f"<|im_start|>system\n{PLAIN_RULES}{tools}<|im_end|>\n{USER}"


def _turn(s: Shot) -> str:
    """An example exchange, without the opening of its user turn."""
    return f"{s.utterance}<|im_end|>\n<|im_start|>assistant\n{s.command}<|im_end|>\n"


def chatml_suffix(shots: list[Shot], context: str, utterance: str) -> str:
    """What follows the prefix (which opened the first user turn): the retrieved
    examples, then the request with its context."""
    ctx = f"[{context}]\n" if context else ""
    return USER.join([_turn(s) for s in shots] + [f"{ctx}{utterance}<|im_end|>\n<|im_start|>assistant\n"])


def repair_suffix(shots: list[Shot], context: str, utterance: str, answer: str, feedback: str) -> str:
    """The request, the model's answer, and what is wrong with it (a sentence)."""
    return (chatml_suffix(shots, context, utterance) + answer + "<|im_end|>\n"
            + f"{USER}{feedback} Answer with a corrected line only."
            + "<|im_end|>\n<|im_start|>assistant\n")


def words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS]


class ExampleIndex:
    """BM25 over example utterances (commands' own examples, accepted plans)."""

    def __init__(self, shots: list[Shot]) -> None:
        self.shots = shots
        self.docs = [Counter(words(s.utterance)) for s in shots]
        self.avg = sum(sum(d.values()) for d in self.docs) / max(1, len(self.docs))
        df: Counter = Counter()
        for d in self.docs:
            df.update(d.keys())
        n = len(self.docs)
        self.idf = {w: math.log(1 + (n - c + 0.5) / (c + 0.5)) for w, c in df.items()}

    def top(self, query: str, k: int = 3, least: float = 0.0) -> list[Shot]:
        """The ``k`` best matches for ``query``, best last (nearest the request).

        A match must score above ``least`` times the score of the rarest word
        matching once in an example of average length: at 1.12 (the default
        model's setting), one shared word ("directory") is not enough, and the
        request goes without an example rather than with an unrelated one."""
        if k <= 0:
            return []
        n = len(self.docs)
        floor = least * math.log(1 + (n - 0.5) / 1.5)
        q = words(query)
        scored = []
        for i, d in enumerate(self.docs):
            length = sum(d.values())
            score = 0.0
            for w in q:
                tf = d.get(w, 0)
                if tf:
                    score += self.idf[w] * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / max(self.avg, 1)))
            if score > max(floor, 0.0):
                scored.append((score, -i))
        scored.sort(reverse=True)
        seen, out = set(), []
        for _, neg in scored:
            shot = self.shots[-neg]
            if shot.command not in seen:
                seen.add(shot.command)
                out.append(shot)
            if len(out) == k:
                break
        return out[::-1]


def registry_shots(registry: Registry, records: bool = True) -> list[Shot]:
    """The examples of the commands the planner writes; without ``records``, not
    those that use a record command (``ls | sort size -r | get name``), whose
    output a bash user does not expect."""
    record_commands = {c.name for c in registry if c.category == "records"}
    return [Shot(ex.utterance, ex.command) for cmd in registry if cmd.planned for ex in cmd.examples
            if records or not any(c.name in record_commands for c in parse(ex.command, registry).calls)]


def usable_shots(examples, registry: Registry, programs: list[str]) -> list[Shot]:
    """The examples the planner may offer here: one that runs a planner program
    not in ``programs`` (not installed) is left out."""
    missing = set(PROGRAMS) - set(programs)
    out = []
    for ex in examples:
        try:
            plan = parse(ex.command, registry)
        except ParseError:
            continue
        if not any(c.external and c.name in missing for c in plan.calls):
            out.append(Shot(ex.utterance, ex.command))
    return out


def idiom_shots(registry: Registry, programs: list[str]) -> list[Shot]:
    """The idioms usable here (see ``usable_shots``)."""
    return usable_shots(IDIOMS, registry, programs)


def everyday_shots(registry: Registry, programs: list[str]) -> list[Shot]:
    """The everyday pool usable here (see ``usable_shots``)."""
    from nlsh.planner.everyday import EVERYDAY
    return usable_shots(EVERYDAY, registry, programs)


FILE_NAME = re.compile(r"[\w-]+(?:\.[\w-]+)*\.[A-Za-z0-9]{1,8}\b")


def located(cwd: str, utterance: str, limit: int = 3, budget: int = 3000) -> list[str]:
    """Where below ``cwd`` the files the request names are, when they are not in it
    ("textfile3.txt" → ``docs/old/textfile3.txt``); the walk stops after ``budget`` entries."""
    wanted = {m for m in FILE_NAME.findall(utterance) if "/" not in m
              and not os.path.lexists(os.path.join(cwd, m))}
    found: list[str] = []
    if not wanted:
        return found
    seen = 0
    for root, dirs, files in os.walk(cwd):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        seen += len(dirs) + len(files)
        found.extend(os.path.relpath(os.path.join(root, f), cwd) for f in sorted(files) if f in wanted)
        if seen > budget or len(found) >= limit:
            break
    return found[:limit]


def context_line(cwd: str, utterance: str, last: str | None = None, last_error: str | None = None,
                 limit: int = 5) -> str:
    """Short context: names here that the request seems to mean, and the last command's error.

    Only names sharing a word with the request are listed: a full listing costs
    prompt time on every request and tempts a small model to enumerate files. A
    file the request names counts as its name, not as words: "sort names.txt"
    does not bring up notes.txt for sharing "txt" (a small model then sorts both)."""
    named = set(FILE_NAME.findall(utterance))
    wanted = set(words(FILE_NAME.sub(" ", utterance)))
    try:
        names = sorted(n for n in os.listdir(cwd) if not n.startswith("."))
    except OSError:
        names = []
    relevant = [n for n in names if n in named or wanted & set(words(n.replace("_", " ")))][:limit]
    parts = []
    if relevant:
        parts.append("here: " + ", ".join(n + ("/" if os.path.isdir(os.path.join(cwd, n)) else "")
                                          for n in relevant))
    below = located(cwd, utterance)
    if below:
        parts.append("found: " + ", ".join(below))
    if last and last_error:
        parts.append(f"last command `{last}` failed: {last_error}")
    return "; ".join(parts)
