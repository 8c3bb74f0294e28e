"""tests/harness/zipcache.py: zipimport's compiled code kept between runs, for Ansible's payload zips.

Each case runs in a child Python (the cache patches zipimport for the whole interpreter) that imports
modules from a zip named like Ansible's payloads, through the real zipimport."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import zipcache

CHILD = r"""
import json, sys, traceback
sys.path.insert(0, sys.argv[1])
import zipcache
zipcache.install(sys.argv[2] + "-first")  # the venv's .pth may have installed one already
zipcache.install(sys.argv[2])  # replaces it: one wrapper, around zipimport's own function
import zipimport
wrapped = getattr(zipimport._compile_source, "__wrapped__", None)
sys.path.insert(0, sys.argv[3])
import gdpr_probe
try:
    gdpr_probe.fail()
except ValueError:
    where = traceback.extract_tb(sys.exc_info()[2])[-1]
print(json.dumps({"answer": gdpr_probe.answer(), "file": where.filename, "line": where.lineno,
                  "code_file": gdpr_probe.fail.__code__.co_filename,
                  "wraps_zipimport": getattr(wrapped, "__module__", None) == "zipimport"}))
"""


def payload(tmp_path: Path, name: str, answer: int) -> Path:
    archive = tmp_path / name / "ansible_gdpr_probe_payload.zip"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(
            "gdpr_probe.py",
            f"def answer():\n    return {answer}\n\n\ndef fail():\n    raise ValueError('probe')\n",
        )
    return archive


def run(tmp_path: Path, archive: Path, cache: Path, **env: str) -> dict:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    harness = Path(zipcache.__file__).parent
    out = subprocess.run(
        [sys.executable, str(script), str(harness), str(cache), str(archive)],
        capture_output=True,
        text=True,
        check=True,
        env={**{k: v for k, v in os.environ.items() if k != "GDPR_TEST_ZIPCACHE"}, **env},
    )
    return json.loads(out.stdout)


def test_cached_code_is_reused_with_the_current_zips_file_name(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = run(tmp_path, payload(tmp_path, "run1", 41), cache)
    stored = sorted(cache.rglob("*.pyc"))
    assert len(stored) == 1
    second_zip = payload(tmp_path, "run2", 41)  # same source, another temporary path
    second = run(tmp_path, second_zip, cache)
    assert sorted(cache.rglob("*.pyc")) == stored  # served from the cache, nothing compiled anew
    assert first["answer"] == second["answer"] == 41
    expected = f"{second_zip}/gdpr_probe.py"
    assert second["file"] == second["code_file"] == expected  # not the first run's path
    assert second["line"] == 6
    assert second["wraps_zipimport"]


def test_changed_source_is_compiled_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert run(tmp_path, payload(tmp_path, "run1", 41), cache)["answer"] == 41
    assert run(tmp_path, payload(tmp_path, "run2", 42), cache)["answer"] == 42
    assert len(list(cache.rglob("*.pyc"))) == 2


def test_other_zips_are_left_to_zipimport(tmp_path: Path) -> None:
    archive = payload(tmp_path, "run1", 7)
    other = archive.with_name("plain.zip")
    archive.rename(other)
    cache = tmp_path / "cache"
    assert run(tmp_path, other, cache)["answer"] == 7
    assert not cache.exists()


def test_unreadable_cache_entry_is_compiled_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    run(tmp_path, payload(tmp_path, "run1", 41), cache)
    (entry,) = cache.rglob("*.pyc")
    entry.write_bytes(b"not marshal data")
    assert run(tmp_path, payload(tmp_path, "run2", 41), cache)["answer"] == 41


def test_cache_entry_that_is_not_code_is_compiled_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    run(tmp_path, payload(tmp_path, "run1", 41), cache)
    (entry,) = cache.rglob("*.pyc")
    entry.write_bytes(marshal.dumps(12345))  # valid marshal data, not a code object
    assert run(tmp_path, payload(tmp_path, "run2", 41), cache)["answer"] == 41


def test_off_leaves_zipimport_alone(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    result = run(tmp_path, payload(tmp_path, "run1", 41), cache, GDPR_TEST_ZIPCACHE="off")
    assert result["answer"] == 41
    assert not cache.exists()
