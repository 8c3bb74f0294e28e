"""execution-environment.yml: `ansible-builder create` produces a complete build context.

No container is built here (no registry, no Docker). What is checked is the build context
ansible-builder writes, and that it agrees with what this repository tests with: the ansible-core
and ansible-runner pins of requirements-constraints.txt, the dependencies of galaxy.yml, Python
ranges that admit the tested boto3/botocore, and this collection's own tarball installed after
its dependencies.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
from importlib.metadata import metadata
from pathlib import Path

import pytest
import yaml
from bindep.depends import Depends
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
EE_INPUTS = ("execution-environment.yml", "requirements.yml", "meta/ee-requirements.txt", "bindep.txt")


def constraint(name: str) -> str:
    """The version requirements-constraints.txt pins for a package."""
    for line in (ROOT / "requirements-constraints.txt").read_text(encoding="utf-8").splitlines():
        req = line.split("#", 1)[0].strip()
        if req and Requirement(req).name.lower() == name.lower():
            return str(Requirement(req).specifier).removeprefix("==")
    raise AssertionError(f"{name} not pinned in requirements-constraints.txt")


@pytest.fixture(scope="module")
def ee_definition() -> dict:
    return yaml.safe_load((ROOT / "execution-environment.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def context(tmp_path_factory) -> Path:
    """Copy the EE inputs to a scratch directory, build the collection there, run ansible-builder create."""
    work = tmp_path_factory.mktemp("ee")
    for name in EE_INPUTS:
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, work / name)
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "build", "--force", "--output-path", work / "build", ROOT],
        check=True,
        capture_output=True,
        text=True,
    )
    result = subprocess.run(
        [BIN / "ansible-builder", "create", "--file", "execution-environment.yml", "--context", "ctx", "-v3"],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No matches for" not in result.stdout, result.stdout
    return work / "ctx"


def containerfile_arg(containerfile: str, name: str) -> str:
    match = re.search(rf'^ARG {name}="([^"]*)"', containerfile, re.MULTILINE)
    assert match, f"ARG {name} missing from Containerfile"
    return match.group(1)


def test_definition_is_version_3_with_documented_base_image(ee_definition):
    assert ee_definition["version"] == 3
    assert ee_definition["images"]["base_image"]["name"] == "quay.io/centos/centos:stream9"
    assert ee_definition["dependencies"]["galaxy"] == "requirements.yml"


def test_context_holds_every_build_file(context):
    for name in ("Containerfile", "_build/requirements.yml", "_build/requirements.txt", "_build/bindep.txt"):
        assert (context / name).is_file(), name
    assert len(list((context / "_build/collection").glob("gdpr-aws_monitoring-*.tar.gz"))) == 1


def test_containerfile_installs_the_tested_ansible_core_and_runner(context, ee_definition):
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    assert containerfile_arg(containerfile, "EE_BASE_IMAGE") == ee_definition["images"]["base_image"]["name"]
    refs = containerfile_arg(containerfile, "ANSIBLE_INSTALL_REFS").split()
    assert refs == [
        f"ansible-core=={constraint('ansible-core')}",
        f"ansible-runner=={constraint('ansible-runner')}",
    ]


def test_python_interpreter_satisfies_ansible_core(context, ee_definition):
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    pycmd = containerfile_arg(containerfile, "PYCMD")
    version = re.fullmatch(r"/usr/bin/python(\d+\.\d+)", pycmd)
    assert version, pycmd
    assert (
        containerfile_arg(containerfile, "PYPKG")
        == ee_definition["dependencies"]["python_interpreter"]["package_system"]
    )
    # The installed ansible-core is the pinned one (requirements-constraints.txt); its metadata says which
    # Pythons it runs on.
    requires = SpecifierSet(metadata("ansible-core")["Requires-Python"])
    assert Version(version.group(1)) in requires


def test_collection_is_installed_after_its_dependencies_without_fetching_them(context):
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    deps = containerfile.index(
        "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml"
    )
    ours = containerfile.index("/build/collection/gdpr-aws_monitoring-")
    assert deps < ours
    ours_line = containerfile[containerfile.rindex("\n", 0, ours) : containerfile.index("\n", ours)]
    assert "--no-deps" in ours_line
    assert "/usr/share/ansible/collections" in ours_line


def test_galaxy_requirements_cover_galaxy_yml_dependencies(context):
    requirements = yaml.safe_load((context / "_build/requirements.yml").read_text(encoding="utf-8"))
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))
    pinned = {item["name"]: item.get("version", "*") for item in requirements["collections"]}
    for name, version in galaxy["dependencies"].items():
        assert pinned.get(name) == version, name


def test_python_requirements_admit_the_tested_sdk(context):
    lines = [
        line.strip()
        for line in (context / "_build/requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    reqs = {Requirement(line).name.lower(): Requirement(line) for line in lines}
    assert {"boto3", "botocore", "pywinrm"} <= reqs.keys()
    for name in ("boto3", "botocore"):
        assert reqs[name].specifier.contains(constraint(name)), (name, reqs[name])
        # amazon.aws 10 needs >= 1.34.0; a range that admits older would let pip pick a broken SDK
        assert not reqs[name].specifier.contains("1.33.0"), name


def test_bindep_gives_the_ssh_client_on_rpm_images(context):
    depends = Depends((context / "_build/bindep.txt").read_text(encoding="utf-8"))
    assert [rule[0] for rule in depends.active_rules(["platform:rpm", "platform:centos"])] == [
        "openssh-clients"
    ]


def test_collection_ships_its_ee_metadata(context):
    """Other people's EEs get boto3, pywinrm and ssh by introspecting this collection."""
    tarball = next((context / "_build/collection").glob("gdpr-aws_monitoring-*.tar.gz"))
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
        meta = yaml.safe_load(archive.extractfile("meta/execution-environment.yml").read())
    for path in meta["dependencies"].values():
        assert path in names, path
    assert meta["dependencies"] == {"python": "meta/ee-requirements.txt", "system": "bindep.txt"}


def test_missing_collection_tarball_is_visible(tmp_path):
    """Without `ansible-galaxy collection build` first, the context lacks the collection: say so."""
    for name in EE_INPUTS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    result = subprocess.run(
        [BIN / "ansible-builder", "create", "--file", "execution-environment.yml", "--context", "ctx"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "No matches for 'build/gdpr-aws_monitoring-*.tar.gz'" in result.stdout + result.stderr
    assert not (tmp_path / "ctx/_build/collection").exists()
