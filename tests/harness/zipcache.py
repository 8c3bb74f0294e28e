"""Compiled bytecode for the modules Ansible runs from a zip, kept between runs (tests only).

Ansible ships every module to its Python as a zip (AnsiballZ) and Python imports it with
zipimport, which compiles each source file on every import and keeps no bytecode: about a fifth
of the CPU of each AWS module task the tests run (amazon.aws's and this collection's module_utils
are compiled anew each time). On a two-core machine that CPU is most of what ``make test`` waits
for. This keeps the code objects zipimport compiles, keyed by the source's hash and the
interpreter's bytecode version, in a directory, and gives them back with the file name of the
zip they were imported from now, so tracebacks and ``co_filename`` stay exact. The source is the
key: a changed file is compiled again. Only zips named like Ansible's payloads are cached.

Installed into the test virtualenv by the Makefile (``make bootstrap``: a ``.pth`` line runs
``install`` with ``.cache/pyc``); it is never part of the collection, and a run without it
(``GDPR_TEST_ZIPCACHE=off``) behaves the same, only slower. Measured: 10 AWS module tasks
(amazon.aws.aws_caller_info) 9.4 CPU-s without, 8.0 with.
"""

from __future__ import annotations

# Imported by every Python start in the test venv (the .pth line): only modules the interpreter has
# loaded by then at the top, the rest when a payload is first compiled.
import os
import zipimport

TYPE_CHECKING = False
if TYPE_CHECKING:
    import types
    from typing import Any, Callable

PAYLOAD = "_payload.zip"
CODE_TYPE = type(compile("", "<zipcache>", "exec"))  # types.CodeType without importing types


def refile(code: types.CodeType, filename: str) -> types.CodeType:
    """``code`` and every code object nested in it, with ``co_filename`` set to ``filename``."""
    consts = tuple(refile(c, filename) if isinstance(c, type(code)) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def cache_path(directory: str, source: Any) -> str:
    import hashlib
    import importlib.util

    data = source.encode("utf-8") if isinstance(source, str) else bytes(source)
    digest = hashlib.sha256(importlib.util.MAGIC_NUMBER + data).hexdigest()
    return os.path.join(directory, digest[:2], digest + ".pyc")


def caching(compile_source: Callable[[str, Any], types.CodeType], directory: str) -> Callable:
    def compile_cached(pathname: str, source: Any) -> types.CodeType:
        if PAYLOAD not in pathname:
            return compile_source(pathname, source)
        import contextlib
        import marshal
        import tempfile

        path = cache_path(directory, source)
        try:
            with open(path, "rb") as stored:
                cached = marshal.loads(stored.read())
            if isinstance(cached, CODE_TYPE):
                return refile(cached, pathname)
        except (OSError, ValueError, EOFError, TypeError):
            pass  # not cached yet (or unreadable): compile as zipimport does
        code = compile_source(pathname, source)
        temporary = None
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=os.path.dirname(path))
            with os.fdopen(fd, "wb") as out:
                out.write(marshal.dumps(code))
            os.replace(temporary, path)  # atomic: parallel runs never read half a file
        except OSError:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
        return code

    return compile_cached


def install(directory: str) -> None:
    """Make zipimport use the cache in ``directory`` (in place of one installed before); nothing
    happens where zipimport has no ``_compile_source`` or with ``GDPR_TEST_ZIPCACHE=off``."""
    if os.environ.get("GDPR_TEST_ZIPCACHE", "on") == "off":
        return
    current = getattr(zipimport, "_compile_source", None)
    if current is None:
        return
    original = getattr(current, "__wrapped__", current)
    compile_cached = caching(original, directory)
    compile_cached.__wrapped__ = original  # type: ignore[attr-defined]
    zipimport._compile_source = compile_cached
