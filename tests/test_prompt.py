"""The planner's prompt parts that need no model: context and idioms."""

from __future__ import annotations

from nlsh.planner.grammar import programs_on_path
from nlsh.planner.idioms import IDIOMS
from nlsh.planner.models import resolve
from nlsh.planner.planner import SECOND
from nlsh.planner.prompt import ExampleIndex, Shot, chatml_prefix, chatml_suffix, context_line, idiom_shots
from nlsh.wiring import default_registry

REG = default_registry()


def test_context_names_matching_files_here_and_finds_named_files_below(work):
    (work / "notes_2024.md").write_text("")
    (work / "deep" / "er").mkdir(parents=True)
    (work / "deep" / "er" / "report.csv").write_text("")
    line = context_line(str(work), "sum the notes and report.csv and missing.txt")
    assert line == "here: notes_2024.md; found: deep/er/report.csv"


def test_context_lists_a_named_file_but_not_its_namesakes_by_extension(work):
    for name in ("names.txt", "notes.txt", "txt-tools", "sorted"):
        (work / name).write_text("")
    assert context_line(str(work), "sort names.txt alphabetically") == "here: names.txt"
    assert context_line(str(work), "show the txt files") == "here: names.txt, notes.txt, txt-tools"


def test_context_is_empty_when_nothing_matches(work):
    assert context_line(str(work), "what time is it") == ""


def test_idioms_go_into_the_cached_prefix_unless_their_program_is_missing():
    everything = idiom_shots(REG, programs_on_path())
    assert len(everything) == len(IDIOMS)
    prefix = chatml_prefix(REG, [], idiom_shots(REG, []))
    assert "grep -o error app.log | wc -l" in prefix
    assert "tar -czf" not in prefix and "awk" not in prefix.split("Commands:")[1].split("<|im_end|>", 1)[1]


def test_retrieval_gives_at_most_k_examples_best_last():
    index = ExampleIndex([Shot("list the files", "ls"), Shot("count the files", "ls | count"),
                          Shot("show the date", "date")])
    assert index.top("count the files here", 0) == []
    assert index.top("count the files here", 1) == [Shot("count the files", "ls | count")]
    assert index.top("count the files here", 2) == [Shot("list the files", "ls"), Shot("count the files", "ls | count")]


def test_an_example_sharing_one_word_with_the_request_is_left_out_when_asked():
    index = ExampleIndex([Shot("go to my home directory", "cd ~"), Shot("count the lines in a.txt", "wc -l a.txt"),
                          Shot("show the date", "date"), Shot("list the files", "ls")])
    assert index.top("remove everything in the directory dir", 1) == [Shot("go to my home directory", "cd ~")]
    assert index.top("remove everything in the directory dir", 1, least=1.12) == []
    assert index.top("count the lines in b.txt", 1, least=1.12) == [Shot("count the lines in a.txt", "wc -l a.txt")]
    assert SECOND["catalogue"]["shot_floor"] == 1.12     # the catalogue prompt's measured setting


def test_prefix_and_suffix_make_one_well_formed_chat():
    idioms = idiom_shots(REG, [])
    shots = [Shot("list the files", "ls"), Shot("count the files", "ls | count")]
    chat = chatml_prefix(REG, [], idioms) + chatml_suffix(shots, "here: a.txt", "count the txt files")
    turns = chat.split("<|im_end|>\n")
    assert turns[0].startswith("<|im_start|>system\n")
    roles = [t.split("\n", 1)[0] for t in turns[1:]]
    assert roles == ["<|im_start|>user", "<|im_start|>assistant"] * (len(idioms) + len(shots)) + ["<|im_start|>user",
                                                                                                   "<|im_start|>assistant"]
    assert turns[-2] == "<|im_start|>user\n[here: a.txt]\ncount the txt files" and turns[-1] == "<|im_start|>assistant\n"


def _planner(**settings):
    """A planner whose prompt is built but never sent (no model is loaded)."""
    from nlsh.planner.planner import Planner
    planner = Planner(REG, None, resolve())
    planner.configure(**settings)
    return planner


def test_settings_choose_the_prompt_and_reset_to_the_catalogue_entry():
    planner = _planner()
    assert planner.prompt == "plain" and "Commands:" not in planner.prefix     # the default model's setting
    planner.configure(**SECOND["catalogue"])
    assert "Commands:" in planner.prefix and "grep -o error app.log | wc -l" in planner.prefix
    planner.configure(**{**SECOND["catalogue"], "idioms": "retrieved"})
    assert "grep -o error app.log | wc -l" not in planner.prefix
    assert planner.prefix.rstrip().endswith("<|im_start|>user")
    planner.configure()
    assert planner.prompt == "plain" and "ONE bash command" in planner.prefix


def test_the_everyday_pool_is_retrieved_and_record_examples_can_be_left_out():
    plain = _planner()
    request = "the files in my folder, largest first"
    commands = [s.command for s in plain.examples(request)]
    assert "ls -S data" in commands                                  # from the everyday pool
    assert not any("| get name" in c for c in commands)              # no record-style answer
    assert any("| get name" in s.command for s in _planner(record_examples=1).examples(request))
    assert not any(s.command == "ls -S data" for s in _planner(everyday=0).examples(request))


def test_a_wrong_second_candidate_setting_is_a_one_line_error():
    import pytest

    from nlsh.planner.models import ModelError
    with pytest.raises(ModelError, match=r"^second = 'nope' in models/catalog.toml: expected one of plain, bare, "
                                         r"catalogue$"):
        _planner(second="plain+nope")
    with pytest.raises(ModelError, match=r"^candidates = 3 in models/catalog.toml: second names 1 prompt\(s\)"):
        _planner(candidates=3, second="bare")
    with pytest.raises(ModelError, match=r"^second_when = 'sometimes' .*expected one of always, doubt$"):
        _planner(second_when="sometimes")
