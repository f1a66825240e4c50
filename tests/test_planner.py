"""The planner with the real default model: plans that do the right thing,
and clear errors for every way planning can fail."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys

import llama_cpp
import numpy as np
import pytest

from nlsh.planner import decoding
from nlsh.planner.backend import KEEP_STATES, LlamaBackend, OpenAIBackend
from nlsh.planner.grammar import grammar
from nlsh.planner.models import ModelError, ModelSpec, assemble, resolve, spec_for
from nlsh.planner.planner import Planner, PlanningError
from nlsh.registry import Registry
from nlsh.session import Shell, run_script_lines
from nlsh.wiring import default_registry


@pytest.fixture(scope="module")
def planner(model_path, model_cache, tmp_path_factory):
    """One loaded planner for the module. The variables that choose its model and
    cache are set only while it loads: left set, they reached every ``nlsh``
    process a later test of the module started (one then loaded the model
    where it meant to fail at once, and timed out on a slow host)."""
    home = tmp_path_factory.mktemp("planner-home")
    model_cache(home)
    saved = {name: os.environ.get(name) for name in ("NLSH_HOME", "NLSH_MODEL")}
    os.environ.update(NLSH_HOME=str(home), NLSH_MODEL=model_path)
    try:
        p = Planner.create(default_registry())
        p.warm()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    yield p


def files(root, spec: dict) -> None:
    for rel, content in spec.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(content)


@contextlib.contextmanager
def configured(planner, **settings):
    """The shared planner with its catalogue entry changed by ``settings`` for a while."""
    planner.configure(**settings)
    try:
        yield planner
    finally:
        planner.configure()


def run_plan(planner, work, utterance: str, result=None) -> tuple[str, str]:
    result = result or planner.plan(utterance, str(work))
    shell = Shell(out=io.StringIO(), err=io.StringIO(), assume_yes=True)
    shell.cwd = str(work)
    shell.planning_enabled = False
    run_script_lines(shell, [result.text])
    shell.shutdown()
    return result.text, shell.out.getvalue()


CASES = [
    ("show the contents of greeting.txt", {"greeting.txt": "hello there\n"},
     lambda out, w: out.strip() == "hello there"),
    ("how many lines are in poem.txt", {"poem.txt": "a\nb\nc\nd\n"},
     lambda out, w: "4" in out.split()),
    ("make a directory called reports", {},
     lambda out, w: (w / "reports").is_dir()),
    ("list the files whose names end in .md", {"a.md": "", "b.md": "", "c.txt": ""},
     lambda out, w: sorted(out.split()) == ["a.md", "b.md"] or sorted(os.path.basename(x) for x in out.split()) == ["a.md", "b.md"]),
    ("find lines containing ERROR in server.log", {"server.log": "ok\nERROR disk full\nok\n"},
     lambda out, w: out.strip().endswith("ERROR disk full")),
    ("print the current directory", {},
     lambda out, w: out.strip() == str(w)),
]


@pytest.mark.parametrize("utterance,setup,check", CASES, ids=[c[0] for c in CASES])
def test_plans_do_the_right_thing(planner, work, utterance, setup, check):
    files(str(work), setup)
    text, out = run_plan(planner, work, utterance)
    assert check(out, work), f"plan {text!r} printed {out!r}"


def test_plan_is_canonical_text_and_timed(planner, work):
    r = planner.plan("show the files here", str(work))
    assert r.text and r.plan is not None
    assert {"prompt_tokens", "generated_tokens", "latency_s"} <= set(r.timings)


def test_prefix_states_are_saved_reused_by_their_start_and_pruned(planner, model_path, tmp_path, monkeypatch):
    monkeypatch.setenv("NLSH_HOME", str(tmp_path))          # a cache of its own
    variants = [planner.prefix + f"request {i}<|im_end|>\n" for i in range(KEEP_STATES + 2)]
    for v in variants[:-1]:
        planner.backend.prepare_prefix(v)                   # the context holds the prefix: only the end is read
        assert 0 < planner.backend.prefix_evaluated < 12
    states = sorted((tmp_path / "cache" / "prompt-states").glob("*/*.state"))
    assert len(states) == KEEP_STATES                       # the oldest went
    fresh = LlamaBackend(model_path)                        # another process: starts from a saved state
    try:
        fresh.prepare_prefix(variants[-1])
        assert 0 < fresh.prefix_evaluated < 12
        fresh.prepare_prefix(variants[-2])                  # saved as it is: nothing to read
        assert fresh.prefix_evaluated == 0
    finally:
        fresh.llm = None
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("NLSH_HOME", str(tmp_path / "file"))  # a cache that cannot be written
    planner.backend.prepare_prefix(variants[0] + "one more<|im_end|>\n")   # read, not saved, no error
    assert 0 < planner.backend.prefix_evaluated < 12


def test_greedy_pick_under_the_grammar_is_the_full_checks_pick(planner):
    llm = planner.backend.llm
    g = decoding.Grammar(llm, grammar(planner.registry, []))
    everything = np.arange(llm.n_vocab(), dtype=np.int32)
    rng = np.random.default_rng(0)
    steps = 0
    while steps < 8:                                     # a walk through the grammar's states
        logits = rng.normal(size=llm.n_vocab()).astype(np.float32)
        logits[rng.integers(0, llm.n_vocab(), 200)] += 8   # favourites the grammar mostly refuses
        allowed = g.allowed(everything)
        want = int(allowed[np.argmax(logits[allowed])])
        assert decoding.pick(logits, g) == want
        if llama_cpp.llama_vocab_is_eog(llm._model.vocab, want):
            g.reset()
        else:
            g.accept(want)
        steps += 1
    g.close()


class RefusesAll:
    """A grammar state that allows nothing (a real grammar always allows at least the end)."""

    def allowed(self, ids):
        return ids[:0]


def test_greedy_pick_when_the_grammar_allows_nothing_is_an_error_not_a_hang():
    with pytest.raises(ValueError, match="the grammar allows no token here"):
        decoding.pick(np.zeros(200, dtype=np.float32), RefusesAll())


@pytest.mark.parametrize("tokens,stuck", [
    ([7] * 24, True),                                   # one token again and again
    ([1, 2, 3] + [4, 5] * 12, True),                    # `-l -l -l …` after a start
    ([4, 5, 6, 7, 8, 9] * 4, True),                     # the longest run looked for
    ([4, 5, 6, 7, 8, 9, 10] * 4, False),                # longer runs are what plans are made of
    ([7] * 23, False),                                  # not yet
    ([4, 5] * 11 + [4, 6], False),                      # broke out of it
])
def test_greedy_decoding_sees_an_answer_go_round_in_a_loop(tokens, stuck):
    assert decoding.looping(tokens) is stuck


HA = "<|im_start|>user\nSay ha as many times as you can.<|im_end|>\n<|im_start|>assistant\nha ha ha ha ha ha ha ha"


def test_a_repeat_penalty_takes_the_model_out_of_its_loop(planner):
    stuck = planner.backend.complete("", HA, grammar=None, max_tokens=60, stop=["<|im_end|>", "\n"])
    freed = planner.backend.complete("", HA, grammar=None, max_tokens=60, stop=["<|im_end|>", "\n"],
                                     repeat_penalty=1.3)
    assert stuck.finish_reason == "loop"
    assert freed.finish_reason == "stop" and len(freed.text) < len(stuck.text)


def test_an_answer_that_loops_is_asked_again_with_its_repeats_penalized(planner, work, monkeypatch):
    """What a loop gives (no plan) is not shown back to the model in a repair turn, which
    drew the same loop again: the request is asked once more, the answer's repeats penalized."""
    from nlsh.planner.backend import Completion
    from nlsh.planner.planner import LOOP_PENALTY
    (work / "notes.txt").write_text("one\ntwo\n")
    real, asked = planner.backend.complete, []

    def first_loops(prefix, suffix, **kw):
        asked.append((suffix, kw.get("repeat_penalty", 1.0)))
        if len(asked) == 1:
            return Completion("cat notes.txt notes.txt notes.txt notes.txt", "loop", 40, 24)
        return real(prefix, suffix, **kw)
    monkeypatch.setattr(planner.backend, "complete", first_loops)
    r = planner.plan("show the contents of notes.txt", str(work))
    assert [penalty for _, penalty in asked] == [1.0, LOOP_PENALTY] and asked[0][0] == asked[1][0]
    assert r.text == "cat notes.txt" and not r.repaired
    asked.clear()
    with configured(planner, loop_penalty=1):           # no second try: the repair turn, as before
        try:
            planner.plan("show the contents of notes.txt", str(work))
        except PlanningError:
            pass                                        # (here the repair turn drew the loop again)
    assert [penalty for _, penalty in asked] == [1.0, 1.0] and "went round in a loop" in asked[1][0]


@pytest.mark.parametrize("line", [
    'for f in pgm?.py; do mv "$f" "${f/pgm/pgm00}"; done',
    'echo "${#name} ${x^^} ${p:1:2} ${f%.txt}"',
    "ls -R | where size > 1MB | sort size -r | first 5",
])
def test_the_grammar_lets_the_model_write(planner, line):
    llm = planner.backend.llm
    g = decoding.Grammar(llm, grammar(planner.registry, []))
    for token in llm.tokenize(line.encode(), add_bos=False):
        assert len(g.allowed(np.array([token], dtype=np.int32))), llm.detokenize([token])
        g.accept(token)
    assert len(g.allowed(np.array([llm.token_eos()], dtype=np.int32)))    # and the line may end there
    g.close()


def test_a_plan_naming_a_missing_file_gets_a_second_look(planner, work, monkeypatch):
    (work / "notes-2024.md").write_text("from 2024\n")
    monkeypatch.setattr(planner, "accepted", list(planner.accepted))     # what this test runs is forgotten
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    shell.cwd = str(work)
    shell.planner = planner
    status = shell.run_utterance("show the file notes.md", "show the file notes.md")
    shell.shutdown()
    assert (status, shell.out.getvalue()) == (0, "from 2024\n")
    assert ("first try: notes.md: no such file or directory (there is notes-2024.md); planned again\n"
            "plan: cat notes-2024.md") in shell.err.getvalue()


def test_an_answer_cut_off_at_max_tokens_is_no_plan(planner, work, monkeypatch):
    monkeypatch.setattr(planner, "max_tokens", 2)
    with pytest.raises(PlanningError, match="cut off"):
        planner.plan("show the lines of notes.txt that contain the word error, ignoring case", str(work))


def test_an_answer_that_goes_round_in_a_loop_is_no_plan(planner, work, monkeypatch):
    monkeypatch.setattr(decoding, "LOOP_TOKENS", 2)       # every two tokens are "a run of two, repeated"
    monkeypatch.setattr(decoding, "LOOP_PERIOD", 2)
    with pytest.raises(PlanningError, match="went round in a loop"):
        planner.plan("show the lines of notes.txt that contain the word error, ignoring case", str(work))


def test_an_answer_in_markdown_backticks_is_the_command_inside(planner, work, monkeypatch):
    """`echo 12345 | rev` (as small models often answer) is that command, not a command
    substitution that would run its output."""
    import dataclasses
    real = planner.backend.complete

    def in_backticks(*a, **k):
        done = real(*a, **k)
        return dataclasses.replace(done, text=f"`{done.text.strip()}`")
    monkeypatch.setattr(planner.backend, "complete", in_backticks)
    r = planner.plan("print the word hello", str(work))
    assert "`" not in r.raw + r.text and "$(" not in r.text
    assert [c.name for c in r.plan.calls] == ["echo"]


def test_a_request_too_long_for_the_context_is_a_clear_error(planner, work):
    with pytest.raises(PlanningError, match=r"^the request is too long: its prompt takes \d+ tokens"):
        planner.plan("list the files " * 1500, str(work))


def test_empty_utterance_is_an_error(planner, work):
    with pytest.raises(PlanningError, match="nothing to plan"):
        planner.plan("   ", str(work))


def test_missing_model_file(tmp_path, monkeypatch):
    monkeypatch.setenv("NLSH_MODEL", str(tmp_path / "nope.gguf"))
    with pytest.raises(ModelError, match="model file not found"):
        resolve()


def test_broken_model_file_gives_clear_error(tmp_path, monkeypatch):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 1000)
    monkeypatch.setenv("NLSH_MODEL", str(bad))
    p = Planner.create(default_registry())
    with pytest.raises(PlanningError, match="cannot load the model"):
        p.plan("list files", str(tmp_path))


def test_a_cache_that_cannot_be_made_names_the_folder(nlsh, work):
    (work / "home").write_text("a file where nlsh's folders would go\n")
    r = nlsh("-c", "? list the files", env={"NLSH_HOME": str(work / "home")})
    assert r.status == 1
    assert (f"nlsh: could not plan that: cannot load the model qwen2.5-coder-1.5b: "
            f"{work / 'home' / 'cache'}: Not a directory") in r.err.splitlines()


def test_corrupted_chunk_fails_verification(tmp_path, monkeypatch):
    """A chunk whose bytes changed: assembly refuses it and keeps nothing."""
    spec = spec_for("qwen2.5-coder-1.5b")
    fake = ModelSpec(spec.name, dict(spec.settings, sha256="0" * 64, file="test-corrupt.gguf"))
    monkeypatch.setenv("NLSH_HOME", str(tmp_path))
    with pytest.raises(ModelError, match="failed verification .*sha256 mismatch.*force-reinstall"):
        assemble(fake)
    assert not list((tmp_path / "cache" / "models").glob("test-corrupt*"))


def test_missing_chunk_package(tmp_path, monkeypatch):
    spec = spec_for("qwen2.5-coder-1.5b")
    fake = ModelSpec(spec.name, dict(spec.settings, modules="no_such_model_part{n}", file="x.gguf"))
    monkeypatch.setenv("NLSH_HOME", str(tmp_path))
    with pytest.raises(ModelError, match="are not installed.*nlsh models install"):
        assemble(fake)


def test_unreachable_server(work):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    be = OpenAIBackend(f"http://127.0.0.1:{port}")
    p = Planner(default_registry(), be, ModelSpec("server", {"mode": "free"}))
    with pytest.raises(PlanningError, match=f"cannot reach the model server at http://127.0.0.1:{port}"):
        p.plan("list files", str(work))


def test_nlsh_plan_command(nlsh, model_path, work):
    (work / "notes-2024.md").write_text("from 2024\n")
    r = nlsh("plan", "--json", "show the file notes.md", env={"NLSH_MODEL": model_path}, timeout=300)
    assert r.status == 0, r.err
    data = json.loads(r.out)
    assert data["timings"]["latency_s"] > 0
    assert data["device"] == ("GPU" if llama_cpp.llama_supports_gpu_offload() else "CPU")   # where the model runs
    assert (data["plan"], data["repaired"]) == ("cat notes-2024.md", True)        # after the second look
    assert data["problems"] == ["notes.md: no such file or directory (there is notes-2024.md)"]
    assert data["candidates"] == []                                               # one candidate by default
    assert (work / "notes-2024.md").read_text() == "from 2024\n"                  # nothing ran


def test_utterance_through_dash_c_runs_read_only_plan(nlsh, model_path, work):
    (work / "greeting.txt").write_text("hello there\n")
    r = nlsh("-c", "show me what is in greeting.txt", env={"NLSH_MODEL": model_path}, timeout=300)
    assert r.status == 0, r.err
    assert "hello there" in r.out
    assert r.err.startswith("plan: ")


def test_a_sentence_with_an_aside_in_parentheses_is_a_request(nlsh, model_path, work):
    (work / "greeting.txt").write_text("hello there\n")
    r = nlsh("-c", "show me what is in greeting.txt (all of it)", env={"NLSH_MODEL": model_path}, timeout=300)
    assert r.status == 0, r.err
    assert r.out == "hello there\n"
    assert r.err.startswith("plan: ")


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap to mount the cache read-only")
def test_a_saved_prompt_state_in_a_read_only_cache_still_plans(nlsh, model_path, work, nlsh_home):
    """A shared or read-only cache costs at most speed: the saved state is used
    though its time cannot be touched (os.utime raised EROFS out of planning)."""
    (work / "notes.md").write_text("hello\n")
    first = nlsh("plan", "show the file notes.md", env={"NLSH_MODEL": model_path}, timeout=600)
    assert first.status == 0, first.err
    states = os.path.realpath(nlsh_home / "cache" / "prompt-states")
    assert [n for _, _, names in os.walk(states) for n in names if n.endswith(".state")]
    p = subprocess.run(["bwrap", "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                        "--ro-bind", states, states, sys.executable, "-m", "nlsh", "plan", "show the file notes.md"],
                       cwd=work, capture_output=True, text=True, timeout=600, check=False,
                       env={**os.environ, "NLSH_MODEL": model_path})
    assert (p.returncode, p.stdout, p.stderr) == (0, first.out, "")


def test_the_plain_prompt_plans_with_the_models_own_bash(planner, work):
    """No catalogue, free decoding, examples from the everyday pool: the answer still
    goes through nlsh's parse and runs as bash would run it."""
    files(work, {"poem.txt": "one\ntwo\nthree\n", "notes.md": "x\n"})
    with configured(planner, prompt="plain", mode="free", shots=3, shot_floor=0, record_examples=0,
                    idioms="retrieved"):
        assert "Commands:" not in planner.prefix
        plan, out = run_plan(planner, work, "print the last two lines of poem.txt")
    assert out == "two\nthree\n", plan


def test_candidates_are_tried_in_the_sandbox_and_the_real_directory_stays(planner, work):
    """A delete is judged by its trial in a throw-away overlay; the file is there until a person accepts."""
    (work / "old.log").write_text("x")
    (work / "notes.txt").write_text("keep\n")
    with configured(planner, candidates=2, second_when="doubt", everyday=1):
        r = planner.plan("delete the file old.log", str(work))
    assert r.text == "rm old.log"
    assert r.candidates[0]["changes"] == ["- old.log"] and r.candidates[0]["chosen"]
    assert (work / "old.log").read_text() == "x" and (work / "notes.txt").read_text() == "keep\n"


def test_three_candidates_are_planned_tried_and_one_chosen(planner, work):
    """Three prompts plan; their lines run as trials and the one chosen did what most did."""
    (work / "notes.txt").write_text("one\ntwo\nthree\n")
    with configured(planner, candidates=3, second="bare+catalogue", everyday=1):
        r = planner.plan("how many lines does notes.txt have", str(work))
    assert len(r.timings["others_latency_s"]) == 2
    if r.candidates[1:]:                    # the prompts wrote different lines: each was tried
        assert [c["chosen"] for c in r.candidates].count(True) == 1
        assert all("status" in c for c in r.candidates)
    plan, out = run_plan(planner, work, "how many lines does notes.txt have", result=r)
    assert out.split()[0] == "3", (plan, r.candidates)


def test_answers_drawn_from_the_same_prompt_are_more_candidates(planner, work):
    """samples = 2: two more answers drawn at a temperature (seeds 1 and 2), tried with the greedy one."""
    (work / "notes.txt").write_text("one\ntwo\nthree\n")
    asked = []
    complete = planner.backend.complete

    def spy(*args, **kwargs):
        asked.append((kwargs.get("temperature", 0.0), kwargs.get("seed")))
        return complete(*args, **kwargs)
    planner.backend.complete = spy
    try:
        with configured(planner, samples=2, sample_temperature=0.9):
            r = planner.plan("how many lines does notes.txt have", str(work))
    finally:
        planner.backend.complete = complete
    assert asked[0] == (0.0, None) and (0.9, 1) in asked and (0.9, 2) in asked
    assert len(r.timings["others_latency_s"]) == 2
    plan, out = run_plan(planner, work, "how many lines does notes.txt have", result=r)
    assert out.split()[0] == "3", (plan, r.candidates)


def test_planned_delete_is_refused_without_yes(nlsh, model_path, work):
    (work / "old.log").write_text("x")
    r = nlsh("-c", "? delete the file old.log", env={"NLSH_MODEL": model_path}, timeout=300)
    assert r.status == 126
    assert "needs confirmation" in r.err
    assert (work / "old.log").exists()




@pytest.fixture(scope="module")
def llama_server(model_path):
    """python -m llama_cpp.server serving the default model on loopback."""
    import subprocess
    import sys
    import time
    import urllib.request
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", model_path, "--host", "127.0.0.1",
                             "--port", str(port), "--n_threads", "2", "--n_ctx", "4096"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/v1/models", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("llama_cpp.server exited")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("llama_cpp.server did not come up")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def test_openai_backend_against_llama_server(llama_server, work):
    # A few commands keep the prompt short: the server reads all of it (no saved state).
    registry = Registry([c for c in default_registry() if c.name in ("cat", "ls", "pwd")])
    p = Planner.create(registry, backend="openai", base_url=llama_server)
    r = p.plan("print the current working directory", str(work))
    assert r.text == "pwd"
    ha = "Say ha as many times as you can: ha ha ha ha ha ha ha ha"      # repeat_penalty goes to the server
    looped = p.backend.complete("", ha, grammar=None, max_tokens=40, stop=["\n"])
    freed = p.backend.complete("", ha, grammar=None, max_tokens=40, stop=["\n"], repeat_penalty=1.5)
    assert looped.text.count(" ha") > 2 * max(1, freed.text.count(" ha")), (looped.text, freed.text)
