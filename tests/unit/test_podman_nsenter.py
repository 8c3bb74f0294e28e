"""The demo's nsenter connection (tests/harness/connection_plugins/podman_nsenter.py).

The pure parts (podman inspect's output, the command line) are tested on their own. The I/O (a
pipelined module's stdin, binary files both ways, exit codes) runs for real through nsenter, aimed at
this test's own process instead of a container's init (nsenter then has no namespace to switch, the
rest is the same path); it needs root, as the connection does. The podman inspect call itself and a
real container are exercised by `make demo` (its Linux play runs through this connection).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import connection_loader

PLUGINS = Path(__file__).resolve().parents[1] / "harness" / "connection_plugins"
connection_loader.add_directory(str(PLUGINS))
plugin = connection_loader.get("podman_nsenter", PlayContext(), None, class_only=True)
module = __import__(plugin.__module__, fromlist=["parse_inspect"])

# What `podman inspect --format INSPECT_FORMAT` printed for a demo container (podman 4.3).
INSPECTED = "\n".join(
    [
        "21480",
        '["CAP_CHOWN","CAP_KILL","CAP_SETUID"]',
        '["PATH=/usr/local/sbin:/usr/bin:/bin","TERM=xterm","container=podman","HOME=/root",'
        '"HOSTNAME=dc2764b167ee","GREETING=a b=c\\nd"]',
    ]
)


def test_inspect_gives_pid_capabilities_and_podman_execs_environment() -> None:
    target = module.parse_inspect("demo-web-nginx", INSPECTED + "\n")
    assert target.pid == 21480
    assert target.caps == ("chown", "kill", "setuid")
    env = dict(target.env)
    # Values keep their spaces, '=' and newlines: one JSON value a line, split on the first '='.
    assert env["GREETING"] == "a b=c\nd"
    assert env["PATH"] == "/usr/local/sbin:/usr/bin:/bin"
    assert env["container"] == "podman"


def test_an_image_without_path_or_home_gets_podman_execs_defaults() -> None:
    target = module.parse_inspect("c", '7\n[]\n["container=podman"]')
    assert dict(target.env) == {"PATH": module.DEFAULT_PATH, "HOME": "/root", "container": "podman"}
    assert target.caps == ()


@pytest.mark.parametrize(
    ("output", "said"),
    [
        ("0\nnull\nnull", "container demo-web-apache is not running"),
        ("Error: no such container", "unexpected output"),
        ("12\n[]", "unexpected output"),
    ],
)
def test_a_stopped_container_or_strange_output_is_refused_by_name(output: str, said: str) -> None:
    with pytest.raises(AnsibleConnectionFailure, match=said):
        module.parse_inspect("demo-web-apache", output)


def test_the_command_enters_every_namespace_drops_capabilities_and_clears_the_environment() -> None:
    target = module.Target(42, ("chown", "kill"), (("HOME", "/root"), ("PATH", "/bin")))
    argv = module.nsenter_argv(target, ["/bin/sh", "-c", "echo hi"])
    assert argv == [
        "nsenter",
        "--target=42",
        "--all",
        "--root",
        "--wd",
        "--",
        "setpriv",
        "--bounding-set=-all,+chown,+kill",
        "--",
        "env",
        "-i",
        "HOME=/root",
        "PATH=/bin",
        "/bin/sh",
        "-c",
        "echo hi",
    ]


@pytest.mark.parametrize("user", [None, "", "root", "0"])
def test_root_is_the_only_remote_user(user: str | None) -> None:
    module.check_user(user)


def test_another_remote_user_is_refused_naming_it() -> None:
    with pytest.raises(AnsibleError, match=r"'ubuntu'.*use become"):
        module.check_user("ubuntu")


def test_the_container_is_ansible_host_not_the_inventory_name() -> None:
    """The demo's hosts are EC2 instance IDs whose container is named by ansible_host."""
    conn = connection_loader.get("podman_nsenter", PlayContext(), None)
    conn.set_options(var_options={"inventory_hostname": "i-0abc", "ansible_host": "demo-web-nginx"})
    assert conn.get_option("remote_addr") == "demo-web-nginx"
    conn.set_options(var_options={"inventory_hostname": "demo-web-both"})
    assert conn.get_option("remote_addr") == "demo-web-both"


def test_the_remote_user_comes_from_the_play_keyword_or_ansible_user() -> None:
    """Either way a user other than root is refused when connecting (check_user)."""
    conn = connection_loader.get("podman_nsenter", PlayContext(), None)
    conn.set_options(task_keys={"remote_user": "ubuntu"}, var_options={"inventory_hostname": "c"})
    assert conn.get_option("remote_user") == "ubuntu"
    conn.set_options(var_options={"inventory_hostname": "c", "ansible_user": "admin"})
    assert conn.get_option("remote_user") == "admin"


@pytest.fixture
def connection() -> object:
    """The connection aimed at this process (see the module docstring): the real I/O path."""
    if os.geteuid() != 0 or not (shutil.which("nsenter") and shutil.which("setpriv")):
        pytest.skip("nsenter needs root, as the connection does")
    conn = connection_loader.get("podman_nsenter", PlayContext(), None)
    conn.set_options(direct={"remote_addr": "self"})
    caps = ("chown", "dac_override", "fowner", "setuid", "setgid")
    conn._target = module.Target(os.getpid(), caps, (("HOME", "/root"), ("PATH", "/usr/bin:/bin")))
    conn._connected = True
    return conn


def test_a_pipelined_module_reads_stdin_with_exactly_the_containers_environment(connection) -> None:
    assert connection.exec_command("/bin/cat", in_data=b"module\x00body\n") == (0, b"module\x00body\n", b"")
    rc, out, _err = connection.exec_command("/usr/bin/env")
    assert (rc, sorted(out.splitlines())) == (0, [b"HOME=/root", b"PATH=/usr/bin:/bin"])


def test_commands_keep_only_the_containers_capabilities(connection) -> None:
    rc, out, _err = connection.exec_command("/bin/sh -c 'grep CapBnd /proc/self/status'")
    # chown 0, dac_override 1, fowner 3, setgid 6, setuid 7
    assert (rc, out.split()) == (0, [b"CapBnd:", b"00000000000000cb"])


def test_exit_codes_and_stderr_come_back(connection) -> None:
    rc, out, err = connection.exec_command("/bin/sh -c 'echo no >&2; exit 3'")
    assert (rc, out, err) == (3, b"", b"no\n")


def test_binary_files_go_in_and_come_back_unchanged(connection, tmp_path: Path) -> None:
    data = bytes(range(256)) * 4096 + b"\r\n\x00"
    (tmp_path / "src.bin").write_bytes(data)
    connection.put_file(str(tmp_path / "src.bin"), str(tmp_path / "in container.bin"))
    assert (tmp_path / "in container.bin").read_bytes() == data
    connection.fetch_file(str(tmp_path / "in container.bin"), str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data


def test_a_failed_transfer_says_which_file(connection, tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(b"x")
    with pytest.raises(AnsibleError, match=r"put .* to self:/nonexistent/dir/f failed"):
        connection.put_file(str(tmp_path / "src"), "/nonexistent/dir/f")
    with pytest.raises(AnsibleError, match="fetch self:/nonexistent/f failed"):
        connection.fetch_file("/nonexistent/f", str(tmp_path / "dest"))
