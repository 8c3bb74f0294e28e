# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-harness connection to a running rootful podman container through nsenter.

Not part of the collection (it is never shipped in plugins/): `make demo` enables it with
ANSIBLE_CONNECTION_PLUGINS. containers.podman.podman runs two to four podman processes per task and
host (mount, mkdir of the temporary directory, exec of the module, no pipelining); each costs about
0.2 s and 0.07 CPU-s. This one asks podman once per connection for the container's PID and
environment, then enters the container's namespaces with nsenter (about 0.01 s a call), so a task is
one podman inspect and the few nsenter calls of Ansible's usual temporary-file round (pipelining is
supported but, as with any connection, on only where ANSIBLE_PIPELINING says so: the project's
ansible.cfg pipelines SSH only, and the demo, the Molecule scenario and test_site leave it off).

What runs in the container gets what `podman exec` gives it: every namespace of the container
(mount with its root, UTS, IPC, network, PID, cgroup), the container's configured environment, root
with the container's capability set. It differs in two things a root shell on a real host (the estate
the roles are written for) does not have either: no seccomp filter, and the process stays in the
caller's cgroup (inside the container's cgroup namespace).
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from dataclasses import dataclass

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible.utils.display import Display

DOCUMENTATION = """
    name: podman_nsenter
    short_description: Run tasks in a running rootful podman container through nsenter (test harness)
    description:
      - Looks the container's PID and environment up with one C(podman inspect) per connection, then
        runs each command in all of the container's namespaces with C(nsenter) (modules pipelined on
        stdin when pipelining is on). Files are streamed through C(nsenter) too, so the container's
        own symlinks and mounts resolve as inside it.
      - Root only (rootful podman); become works as with containers.podman.podman.
    options:
      remote_addr:
        description:
          - The container's name or ID.
          - Of the variables below the last one set wins, so C(ansible_host) comes before the
            inventory host name (an EC2 instance ID, in the demo).
        vars:
          - name: inventory_hostname
          - name: ansible_host
          - name: ansible_podman_host
      remote_user:
        description: Must be unset or root; use become for another user.
        vars:
          - name: ansible_user
        keyword:
          - name: remote_user
      podman_executable:
        description: The podman command.
        default: podman
        vars:
          - name: ansible_podman_executable
        env:
          - name: ANSIBLE_PODMAN_EXECUTABLE
"""


display = Display()

# What `podman exec` adds to the container's configured environment when the image sets no PATH
# (podman's default) and the user is root.
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# One JSON value a line (JSON escapes newlines inside strings): PID, capability set, environment.
INSPECT_FORMAT = "{{json .State.Pid}}\n{{json .EffectiveCaps}}\n{{json .Config.Env}}"
# The container's namespaces, its root directory and working directory: `--all` enters each one that
# differs from the caller's (a rootful container shares the host's user namespace).
NSENTER_FLAGS = ("--all", "--root", "--wd")


@dataclass(frozen=True)
class Target:
    """What a command in the container gets from podman exec: the container's init's namespaces, its
    capability set (the bounding set: root's capabilities after exec are that set) and environment."""

    pid: int
    caps: tuple[str, ...]
    env: tuple[tuple[str, str], ...]


def parse_inspect(container: str, output: str) -> Target:
    """The Target from INSPECT_FORMAT's output. A stopped container (PID 0) is refused here, as
    podman exec refuses it."""
    lines = output.strip().split("\n")
    try:
        pid_json, caps_json, env_json = lines
        pid = int(json.loads(pid_json))
        caps = json.loads(caps_json) or []
        configured = json.loads(env_json) or []
    except ValueError as exc:
        raise AnsibleConnectionFailure(f"podman inspect {container}: unexpected output {output!r}") from exc
    if pid <= 0:
        raise AnsibleConnectionFailure(f"container {container} is not running")
    env = dict(item.split("=", 1) for item in configured if "=" in item)
    env.setdefault("PATH", DEFAULT_PATH)
    env.setdefault("HOME", "/root")
    names = tuple(sorted(cap.lower().removeprefix("cap_") for cap in caps))
    return Target(pid, names, tuple(sorted(env.items())))


def nsenter_argv(target: Target, argv: list[str]) -> list[str]:
    """The command line that runs argv in the target's namespaces, with its capabilities only
    (setpriv, inside the container) and exactly its environment (env -i)."""
    bounding = ",".join(["-all", *(f"+{cap}" for cap in target.caps)])
    assignments = [f"{key}={value}" for key, value in target.env]
    return [
        "nsenter",
        f"--target={target.pid}",
        *NSENTER_FLAGS,
        "--",
        "setpriv",
        f"--bounding-set={bounding}",
        "--",
        "env",
        "-i",
        *assignments,
        *argv,
    ]


def check_user(user: str | None) -> None:
    """Only root: nsenter keeps the caller's credentials (become switches users, as on any host)."""
    if user not in (None, "", "root", "0"):
        raise AnsibleError(f"podman_nsenter runs as root only (remote_user {user!r}); use become")


class Connection(ConnectionBase):
    """nsenter into a rootful podman container; see the module docstring."""

    transport = "podman_nsenter"
    has_pipelining = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._target: Target | None = None

    def _container(self) -> str:
        return str(self.get_option("remote_addr"))

    def _require_target(self) -> Target:
        if self._target is None:
            raise AnsibleConnectionFailure(f"not connected to {self._container()}")
        return self._target

    def _connect(self) -> Connection:
        if self._connected:
            return self
        check_user(self.get_option("remote_user"))
        podman = shutil.which(self.get_option("podman_executable"))
        if not podman:
            raise AnsibleConnectionFailure(f"{self.get_option('podman_executable')} command not found")
        container = self._container()
        res = subprocess.run(
            [podman, "inspect", "--type=container", f"--format={INSPECT_FORMAT}", container],
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            raise AnsibleConnectionFailure(f"podman inspect {container}: {res.stderr.strip()}")
        self._target = parse_inspect(container, res.stdout)
        display.vvv(f"{self._target}", host=container)
        self._connected = True
        return self

    def _run(self, argv: list[str], stdin: object, in_data: bytes | None = None) -> tuple[int, bytes, bytes]:
        local = nsenter_argv(self._require_target(), argv)
        display.vvv(f"EXEC {local}", host=self._container())
        with subprocess.Popen(local, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            stdout, stderr = proc.communicate(in_data)
        return proc.returncode, stdout, stderr

    @ensure_connect
    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple:
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        # The command line is a shell command Ansible built (`/bin/sh -c '...'`); split as podman does.
        argv = shlex.split(to_text(cmd, errors="surrogate_or_strict"))
        stdin = subprocess.PIPE if in_data is not None else subprocess.DEVNULL
        return self._run(argv, stdin, in_data)

    @ensure_connect
    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)
        display.vvv(f"PUT {in_path} TO {out_path}", host=self._container())
        # Streamed in binary through cat inside the container: its symlinks resolve as inside it.
        with open(to_bytes(in_path, errors="surrogate_or_strict"), "rb") as src:
            rc, _out, err = self._run(["/bin/sh", "-c", 'cat > "$1"', "sh", out_path], src)
        if rc != 0:
            raise AnsibleError(f"put {in_path} to {self._container()}:{out_path} failed: {to_text(err)}")

    @ensure_connect
    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)
        display.vvv(f"FETCH {in_path} TO {out_path}", host=self._container())
        local = nsenter_argv(self._require_target(), ["/bin/cat", "--", in_path])
        with open(to_bytes(out_path, errors="surrogate_or_strict"), "wb") as dest:
            res = subprocess.run(
                local, stdin=subprocess.DEVNULL, stdout=dest, stderr=subprocess.PIPE, check=False
            )
        if res.returncode != 0:
            raise AnsibleError(f"fetch {self._container()}:{in_path} failed: {to_text(res.stderr)}")

    def close(self) -> None:
        self._connected = False
