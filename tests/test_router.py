"""Routing a line to the command language or to the planner (no model needed)."""

from __future__ import annotations

import pytest

from nlsh.lang import ParseError, parse
from nlsh.router import language_words, needs_more, parsed_is_utterance, unparsed_is_utterance
from nlsh.wiring import default_registry

REG = default_registry()


@pytest.mark.parametrize("line,utterance", [
    ("find all python files bigger than 1MB", True),
    ("cat the notes from today", True),
    ("rm system/folder1/text2 system/folder1/text3 system/folder1/text4", False),
    ("cat notes todo", False),
    ("ls", False),
    ("set up a python project here", True),      # set takes words only after --
    ("set -o pipefail", False), ("set -- a b", False), ("set", False),
])
def test_a_line_that_parses_is_a_command_unless_it_is_english_naming_nothing(line, utterance, work):
    assert parsed_is_utterance(parse(line, REG), line, str(work)) is utterance


def test_existing_paths_keep_a_line_a_command(work):
    (work / "the").write_text("")
    line = "cat the notes from today"
    assert not parsed_is_utterance(parse(line, REG), line, str(work))
    (work / "data.txt").write_text("")
    line = "sort data.txt by its second column, biggest first"      # many English words naming nothing
    assert parsed_is_utterance(parse(line, REG), line, str(work))
    line = "cat data.txt notes todo extra more"                       # names, not English
    assert not parsed_is_utterance(parse(line, REG), line, str(work))


@pytest.mark.parametrize("line,utterance", [
    ("show me the biggest files here", True),
    ("gti status", False),
    ("cp --bogus-flag a b", False),
    ("for each text file count its lines", True),     # English that starts like a loop
    ("for each file in here print its size", True),
    ("for f in a; echo $f", False),                   # a loop with a mistake stays a command
    ("for f in the files here", False),
    ("what's the biggest file here", True),              # an apostrophe, not a quote
    ("echo 'the biggest file here", False),
    ("if there are pdf files move them to docs", True),   # English that starts like an if
    ("while you are at it list the logs", True),
    ("ulimit -n 4096", False),                           # bash's own words: a line for another shell
    ("[[ -d build && make", False),                  # an unclosed [[ stays a command (its error shows)
    ("ulimit -n 4096 -s 8192", False),
    ("gti log --oneline -n 5", False),                  # flags: a program's line, not language
    ("hg log | head", False),
    ("greet a b; echo $?", False),                      # a function not yet defined: one English word
    ("copy a.txt to b.txt (overwrite it)", True),       # an aside in parentheses: language
    ("show the 3 biggest files (by size) in 'my docs'", True),
    ("show disk usage (human readable)", True),
    ("list files (newest first)", True),
    ("how big is the logs folder (in MB)?", True),
    ("echo (a b)", False),                              # an array written wrong, not a sentence
    ("grep (a|b) notes.txt", False),                    # a shell's characters inside: a command's mistake
    ("echo hi)", False),

])
def test_a_line_that_does_not_parse(line, utterance):
    with pytest.raises(ParseError) as e:
        parse(line, REG)
    assert unparsed_is_utterance(line, e.value) is utterance


def test_language_words_are_whole_words():
    assert language_words("folder1/file folders") == 1
    assert language_words("Show me the files, please!") == 5


@pytest.mark.parametrize("text,more", [
    ("ls |", True), ("ls &&", True), ("echo a \\", True), ("echo 'open", True), ('echo "$(ls', True),
    ("for f in a b; do", True), ("for f in a b; do\necho $f", True), ("for f in a; do echo; done", False),
    ("what's the biggest file here", False), ("don't list hidden files", False), ("echo done", False),
    ("for f in a b", True), ("if true; then", True), ("if a; then b; else", True), ("if a; then b; fi", False),
    ("if a; then b; elif c; then", True), ("if a; then b; elif c; then d; fi", False), ("while true; do", True),
    ("until x; do y; done", False), ("if the file is big then delete it", False), ("while true", True),
    ("cat f | while read n", True), ("if test -e f", True), ("if there are logs compress them", False),
    ("while you are at it list the logs", False), ("for a in b; do if x", True), ("(cd a", True), ("(cd a)", False), ("{ echo a;", True), ("{ echo a; }", False),
    ("case $f in", True), ("case $f in\n*.c) echo c;;", True), ("case $f in *) echo;; esac", False),
    ("(case $f in x) echo;; esac", True), ("case insensitive grep for todo", False), ("cat <<EOF", True),
    ("cat <<EOF\nhi\nEOF", False), ("f()", True), ("f() {", True), ("f()\n{\necho", True), ("f() { echo; }", False),
    ("function f", True), ("function f {", True), ("function f { echo; }", False), ("echo f()", False),
])
def test_what_goes_on_to_the_next_line(text, more):
    assert needs_more(text) is more
