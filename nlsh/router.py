"""Routing: is a line a command or something said in plain language?

A line that parses as a command is a command, unless it only parses by
accident: a file command whose "paths" are ordinary English words that
name nothing on disk ("find all python files bigger than 1MB"). A line
that does not parse is an utterance when it reads as language; a short
line with a near-miss command word is a typo and gets "did you mean".
"""

from __future__ import annotations

import os
import re

from nlsh.lang import ParseError, Plan, Word
from nlsh.lang.lexer import tokenize
from nlsh.lang.parser import BASH_ONLY, open_loops

LANGUAGE_WORDS = frozenset(["a", "about", "above", "after", "all", "an", "and", "any", "are", "as", "at", "be", "before", "below", "between", "bigger", "biggest", "by", "can", "changed", "containing", "contains", "count", "created", "delete", "did", "do", "does", "each", "every", "files", "file", "folder", "folders", "for", "from", "get", "give", "has", "have", "how", "i", "in", "inside", "into", "is", "it", "its", "larger", "largest", "last", "least", "less", "lines", "list", "make", "many", "me", "modified", "more", "most", "much", "my", "named", "newer", "newest", "not", "of", "older", "oldest", "on", "only", "or", "other", "please", "recent", "remove", "show", "size", "smaller", "smallest", "so", "some", "than", "that", "the", "their", "them", "there", "these", "this", "those", "to", "today", "top", "under", "using", "was", "week", "were", "what", "when", "which", "who", "why", "with", "within", "without", "yesterday", "you", "your"])


def language_words(line: str) -> int:
    """How many whole words of ``line`` are common English (``folder1`` is not)."""
    return sum(1 for w in line.lower().split() if w.strip(".,;:!?\"'()") in LANGUAGE_WORDS)


# "(by size)", "(a-z)", "(in MB)?": an aside in a sentence, which bash cannot
# parse either. "(a|b)", "$(x", "f()" keep a shell's characters and stay commands.
ASIDE = re.compile(r"\([^()|&;<>$`{}\\]*[A-Za-z][^()|&;<>$`{}\\]*\)")


def _aside(line: str, error: ParseError) -> bool:
    """Whether the parse failed on a parenthesised aside made of plain words."""
    return error.message.startswith("unsupported character") and ASIDE.search(line) is not None


def unparsed_is_utterance(line: str, error: ParseError) -> bool:
    """Whether a line that failed to parse should go to the planner instead."""
    words = line.split()
    if len(words) < 2:
        return False
    lang = language_words(line)
    if error.message == "unterminated single quote" and _apostrophe(line, error.column):
        return lang >= 1           # "what's the biggest file": an apostrophe, not a quote
    if _aside(line, error):        # "copy a to b (overwrite it)"; "echo (a b)" is a mistake
        return lang >= 2 or (lang >= 1 and len(words) >= 4)
    if error.message.startswith("unterminated array"):
        return False            # NAME=( … over lines, whatever its comments say
    if error.message.startswith("for:") and len(words) > 2 and words[2] == "in" and words[1].isidentifier():
        return False            # "for f in a b" without "; do …": a loop with a mistake
    if error.message.startswith("unknown command") and error.column == 0:
        if words[0] in BASH_ONLY:
            return False        # "readonly x=1", "declare -i n=1": bash, not language
        if lang == 0 and (any(w.startswith("-") for w in words) or any(c in line for c in "|;&<>$'\"=")):
            return False        # "gti status --short", "hg log | head": a program's line
        if lang < 2 and any(c in line for c in "|;&<>$`"):
            return False        # "f a b; echo $?": a line for a shell, whatever its one English word
        if "did you mean" in error.message:
            return len(words) >= 3 and lang >= 2
        # "gti status" is a typo of a program, "show big files" is language.
        return lang >= 1 or len(words) >= 4
    # A known command with an error stays a command (the user gets the error),
    # unless the line reads as a sentence: no flags, pipes or redirections.
    if any(w.startswith("-") for w in words) or any(c in line for c in "|;&<>$'\""):
        return False
    return lang >= 2 and len(words) >= 3


def _apostrophe(line: str, i: int) -> bool:
    return 0 < i < len(line) - 1 and line[i - 1].isalpha() and line[i + 1].isalpha()


def needs_more(text: str) -> bool:
    """Whether ``text`` goes on on the next line: it ends in ``\\``, ``|``,
    ``&&`` or ``||``, or leaves a quote, a ``$(`` or a block open (``while read n``,
    but not the sentence "if there are logs, compress them"); an apostrophe in a
    sentence opens nothing."""
    if text.rstrip().endswith(("\\", "|", "&&", "||")):
        return True
    try:
        if "<<" in text:            # `cat <<EOF |`, its here-document's text, then the rest of the pipeline
            last = [t for t in tokenize(text) if not (t.kind == "op" and t.value == ";")][-1:]
            if last and last[0].kind == "op" and last[0].value in ("|", "&&", "||"):
                return True
        return open_loops(text, first_word_opens=language_words(text) == 0) > 0
    except ParseError as e:
        return "unterminated" in e.message and not unparsed_is_utterance(text.strip(), e)
    except RecursionError:          # nested too deeply: running it says so
        return False


def parsed_is_utterance(plan: Plan, line: str, cwd: str) -> bool:
    """A parsed single call whose path arguments are English words naming nothing."""
    calls = plan.calls
    if len(calls) != 1 or calls[0].external or calls[0].redirects or len(plan.chains) != 1:
        return False
    call = calls[0]
    if call.name == "set":          # "set up a venv here": set takes no words without -- before them
        first = next(iter(call.get("words", ())), None)
        return (first is not None and not (first.is_literal and first.literal[:1] in "-+")
                and language_words(line) >= 1)
    words = [w for name, v in call.args if name in ("paths", "path", "dir", "sources", "dest", "fields")
             for w in (v if isinstance(v, tuple) else (v,)) if isinstance(w, Word)]
    if len(words) < 2 or not all(w.is_literal and "/" not in w.literal for w in words):
        return False
    missing = [w for w in words if not os.path.lexists(os.path.join(cwd, os.path.expanduser(w.literal)))]
    if len(missing) < len(words):
        # a file named among many words naming nothing: "sort data.txt by its second column, biggest first"
        return len(missing) >= 4 and language_words(" ".join(w.literal for w in missing)) >= 3
    return language_words(line) >= 2
