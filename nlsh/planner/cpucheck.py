"""Is the llama.cpp build safe to run in this process?

A llama-cpp-python wheel compiled for other CPU instructions than this machine
allows (a ``-march=native`` build on a CPU that reports AMX, inside a VM that
does not enable AMX; a wheel copied from another machine) dies with SIGILL on
its first evaluation, and the shell that loaded it in-process dies with it.
So before the first in-process load, one evaluation runs in a child process;
a pass is remembered in the cache, keyed by the library and the model file.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys

from nlsh.paths import cache_dir, ensure

PROBE = ("import sys, llama_cpp\n"
         "m = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=64, n_gpu_layers=int(sys.argv[2]),"
         " verbose=False)\n"
         "m.eval(m.tokenize(b'ls -la | sort', add_bos=False))\n")

REBUILD = ('rebuild it for this CPU: CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF" '
           "pip install --force-reinstall --no-cache-dir llama-cpp-python")


class UnsafeBuild(Exception):
    """The library crashed the probe process; the message says how to fix it."""


def _library_identity() -> str:
    """Where llama_cpp's shared libraries are, with their sizes and times (found without importing it)."""
    import importlib.util
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return "missing"
    lib = os.path.join(next(iter(spec.submodule_search_locations)), "lib")
    try:
        names = sorted(os.listdir(lib))
    except OSError:
        return lib
    parts = [lib]
    for n in names:
        st = os.stat(os.path.join(lib, n))
        parts.append(f"{n}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def _stamp(model_identity: str, gpu_layers: int) -> str:
    key = hashlib.sha256(f"{_library_identity()}|{model_identity}|{gpu_layers}".encode()).hexdigest()[:24]
    return os.path.join(cache_dir(), "build-checks", f"{key}.ok")


def check(model_path: str, model_identity: str, gpu_layers: int, *, timeout: float = 300.0) -> None:
    """Raise UnsafeBuild when evaluating the model kills a child process with a signal.

    Any other failure of the child is left to the in-process load, which reports it better."""
    stamp = _stamp(model_identity, gpu_layers)
    if os.path.exists(stamp):
        return
    try:
        r = subprocess.run([sys.executable, "-c", PROBE, model_path, str(gpu_layers)],
                           capture_output=True, text=True, timeout=timeout, check=False,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return
    if r.returncode < 0:
        sig = -r.returncode
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        what = ("uses CPU instructions this machine does not allow (SIGILL)" if sig == signal.SIGILL
                else f"crashed evaluating the model ({name})")
        raise UnsafeBuild(f"llama-cpp-python {what}; {REBUILD}")
    if r.returncode == 0:
        try:
            ensure(os.path.dirname(stamp))
            with open(stamp, "w") as f:
                f.write(model_path + "\n")
        except OSError:         # a cache that cannot be written: the check runs again next time
            pass
