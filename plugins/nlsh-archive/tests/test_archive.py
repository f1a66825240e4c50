"""nlsh-archive, installed with pip into a fresh venv, used through nlsh -c."""

from __future__ import annotations

import tarfile


def test_zip_round_trip(nlsh_in_venv):
    w = nlsh_in_venv.work
    (w / "docs").mkdir()
    (w / "docs" / "a.md").write_text("alpha")
    (w / "docs" / "b.md").write_text("beta")
    r = nlsh_in_venv("--yes", "-c", "archive-create docs.zip docs; archive-list docs.zip | get name")
    assert r.status == 0, r.err
    assert r.out.splitlines() == ["created docs.zip (2 files)", "docs/a.md", "docs/b.md"]
    r = nlsh_in_venv("--yes", "-c", "archive-extract -C out docs.zip; cat out/docs/b.md")
    assert r.out.splitlines() == ["extracted 2 entries into out", "beta"]


def test_tar_gz_and_no_clobber(nlsh_in_venv):
    w = nlsh_in_venv.work
    (w / "src").mkdir()
    (w / "src" / "m.py").write_text("print(1)")
    assert nlsh_in_venv("--yes", "-c", "archive-create src.tar.gz src").status == 0
    r = nlsh_in_venv("--yes", "-c", "archive-create src.tar.gz src")
    assert r.status == 1 and r.err.strip() == "nlsh: archive-create: src.tar.gz already exists"


def test_extract_refuses_path_traversal(nlsh_in_venv):
    w = nlsh_in_venv.work
    evil = w / "evil.tar.gz"
    (w / "payload").write_text("x")
    with tarfile.open(evil, "w:gz") as t:
        t.add(w / "payload", arcname="../escaped")
    r = nlsh_in_venv("--yes", "-c", "archive-extract -C inside evil.tar.gz")
    assert r.status == 1 and "points outside" in r.err
    assert not (w.parent / "escaped").exists()


def test_write_effects_need_a_grant_without_yes(nlsh_in_venv):
    w = nlsh_in_venv.work
    (w / "f").write_text("x")
    r = nlsh_in_venv("-c", "archive-create f.zip f")
    assert r.status == 126 and "plugin archive has not been granted write" in r.err
    assert not (w / "f.zip").exists()
