"""Benchmark: a second run of cloudwatch_agent_linux on the same host changes nothing and is fast.

Figure from issue 4: the second run reports changed=0 and takes at most 0.5x the first run's wall
time. One Debian 12 systemd container (podman, host network) runs apache and nginx, prepared by the
Molecule scenario's prepare.yml; the role gets the stand-in agent package as a file from the
controller and ships to the embedded AWS. Only the two converge runs are timed.

Run: .venv/bin/python tests/benchmarks/bench_agent_linux.py   (exit 1 when the figure is missed)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "harness"))

import moto_server  # noqa: E402

SCENARIO = ROOT / "molecule" / "cloudwatch_agent_linux"
CONTAINER = "bench-cwagent-linux"
IMAGE = "localhost/gdpr-debian12-systemd:latest"
# Ports of this scenario's range (18080-18089) that the Molecule scenario itself does not use.
WEB = {"apache": 18086, "nginx": 18087}
MAX_RATIO = 0.5


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], check=check, capture_output=True, text=True)


def playbook(name: str, inventory: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory), str(SCENARIO / name)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        print(result.stdout[-6000:], result.stderr[-3000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"{name} failed (rc {result.returncode})")
    return elapsed, result.stdout


def changed_count(output: str) -> int:
    match = re.search(rf"^{CONTAINER}\s*:.*?changed=(\d+)", output, re.MULTILINE)
    if not match:
        raise SystemExit("no PLAY RECAP line for the benchmark host")
    return int(match.group(1))


def main() -> int:
    os.environ.setdefault("CONTAINERS_CONF", str(ROOT / "tests" / "image" / "containers.conf"))
    work = Path(tempfile.mkdtemp(prefix="bench-cwagent-linux-"))
    inventory = work / "inventory.yml"
    web = ", ".join(f"{k}: {v}" for k, v in WEB.items())
    inventory.write_text(
        "all:\n  hosts:\n"
        f"    {CONTAINER}:\n"
        "      ansible_connection: containers.podman.podman\n"
        f"      cwagent_test_web: {{{web}}}\n"
    )
    podman("rm", "-f", CONTAINER, check=False)
    with moto_server.running(log_path=work / "moto.log") as endpoint:
        env = dict(os.environ)
        env.update(moto_server.endpoint_env(endpoint))
        site = subprocess.check_output(
            [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
        env.update(
            {
                "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                "ANSIBLE_COLLECTIONS_PATH": site,
                "ANSIBLE_NOCOLOR": "1",
                "CWAGENT_STANDIN_DIR": str(work / "standin"),
                "PATH": f"{ROOT / '.venv' / 'bin'}:{env['PATH']}",
            }
        )
        try:
            podman(
                "run", "-d", "--name", CONTAINER, "--hostname", CONTAINER, "--network", "host",
                "--systemd", "always", IMAGE, "/sbin/init",
            )  # fmt: skip
            playbook("prepare.yml", inventory, env)
            first, _first_output = playbook("converge.yml", inventory, env)
            second, output = playbook("converge.yml", inventory, env)
        finally:
            podman("rm", "-f", CONTAINER, check=False)
            shutil.rmtree(work, ignore_errors=True)
    changed = changed_count(output)
    ratio = second / first
    print(f"cloudwatch_agent_linux: second run changed={changed}, wall time ratio second/first = {ratio:.2f}")
    print(f"(first {first:.1f}s, second {second:.1f}s; required: changed=0 and ratio <= {MAX_RATIO})")
    return 0 if changed == 0 and ratio <= MAX_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
