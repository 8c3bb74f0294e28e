"""The Linux role's per-distribution data against the distributions' documented layouts.

No RPM host runs here (the Molecule hosts are Debian 12), so the RedHat-family and Amazon Linux
data is checked against what the distributions document and ship, written out below with where it
comes from. Each row is a fact a user relies on: where the package writes the log, who may read
it, which package name says the software is installed, and whether a syslog daemon is there at all.
"""

from __future__ import annotations

import pytest

from ansible_collections.gdpr.aws_monitoring.plugins.filter import cwagent_linux as cl

# Where each distribution's own configuration writes the logs, and their owner:group mode.
#  Debian/Ubuntu rsyslog.conf: "auth,authpriv.* /var/log/auth.log", "*.*;auth,authpriv.none
#   -/var/log/syslog", with $FileOwner root (syslog on Ubuntu), $FileGroup adm, $FileCreateMode 0640;
#   apache2 (Debian's apache2.conf, APACHE_LOG_DIR=/var/log/apache2, dir root:adm 0750, logs
#   root:adm 0640 by logrotate "create 640 root adm"); nginx (/var/log/nginx, www-data:adm 0640).
#  RHEL/Rocky/Alma 8-9 rsyslog.conf: "authpriv.* /var/log/secure", "*.info;mail.none;authpriv.none;
#   cron.none /var/log/messages", files root:root 0600; httpd.spec "%attr(0700,root,root) %dir
#   /var/log/httpd" with access_log/error_log and mod_ssl's ssl_access_log/ssl_error_log; nginx
#   /var/log/nginx/access.log, error.log; auditd.conf "log_group = root" (audit.log 0600).
#  Amazon Linux 2023 ("Amazon Linux 2023 user guide: journald replaces rsyslog"): no rsyslog by
#   default, so no /var/log/secure or messages; httpd, nginx and audit as on RHEL (Fedora-based).
DOCUMENTED: dict[str, dict[str, list[str]]] = {
    "Debian": {
        "apache/access": ["/var/log/apache2/access.log", "/var/log/apache2/other_vhosts_access.log"],
        "apache/error": ["/var/log/apache2/error.log"],
        "nginx/access": ["/var/log/nginx/access.log"],
        "nginx/error": ["/var/log/nginx/error.log"],
        "system/auth": ["/var/log/auth.log"],
        "system/syslog": ["/var/log/syslog"],
        "system/audit": ["/var/log/audit/audit.log"],
    },
    "RedHat": {
        "apache/access": ["/var/log/httpd/access_log", "/var/log/httpd/ssl_access_log"],
        "apache/error": ["/var/log/httpd/error_log", "/var/log/httpd/ssl_error_log"],
        "nginx/access": ["/var/log/nginx/access.log"],
        "nginx/error": ["/var/log/nginx/error.log"],
        "system/auth": ["/var/log/secure"],
        "system/syslog": ["/var/log/messages"],
        "system/audit": ["/var/log/audit/audit.log"],
    },
}
# Who may read them without root: Debian/Ubuntu give adm read access; the RedHat family none
# (0600/0700 root), so the agent runs as root there. The journal: group systemd-journal everywhere.
READER: dict[str, dict[str, object]] = {
    "Debian": {"run_as_user": "cwagent", "log_reader_groups": ["adm"]},
    "RedHat": {"run_as_user": "root", "log_reader_groups": []},
}
# Package names (dpkg / rpm) that mean "installed".
PACKAGES: dict[str, dict[str, str]] = {
    "Debian": {"apache": "apache2", "nginx": "nginx", "audit": "auditd", "syslog": "rsyslog"},
    "RedHat": {"apache": "httpd", "nginx": "nginx", "audit": "audit", "syslog": "rsyslog"},
}
# Package formats and the gpg package each family ships under that name.
FORMATS = {"Debian": ("deb", "gpg"), "RedHat": ("rpm", "gnupg2")}
# facts.os_family of the distributions the role's meta lists (Ansible's OS_FAMILY map).
FAMILIES = {"Debian": "Debian", "Ubuntu": "Debian", "Amazon": "RedHat", "RedHat": "RedHat", "Rocky": "RedHat"}


@pytest.mark.parametrize("family", sorted(DOCUMENTED))
def test_paths_are_the_documented_ones(family: str) -> None:
    assert {source: list(paths) for source, paths in cl.PATHS[family].items()} == DOCUMENTED[family]


@pytest.mark.parametrize("family", sorted(READER))
def test_default_user_and_reader_groups(family: str) -> None:
    defaults = cl.cwagent_linux_os_defaults(family)
    assert {k: defaults[k] for k in READER[family]} == READER[family]
    assert (defaults["package_format"], defaults["gpg_package"]) == FORMATS[family]


@pytest.mark.parametrize("distribution", sorted(FAMILIES))
def test_every_listed_distribution_has_its_family(distribution: str) -> None:
    assert cl.cwagent_linux_os_defaults(FAMILIES[distribution])["run_as_user"] in ("cwagent", "root")


def test_unknown_family_is_refused_by_name() -> None:
    with pytest.raises(Exception, match="OS family 'Suse' is not supported"):
        cl.cwagent_linux_os_defaults("Suse")


@pytest.mark.parametrize("family", sorted(PACKAGES))
def test_probe_asks_for_each_familys_package_names(family: str) -> None:
    probe = cl.cwagent_linux_probe(["apache", "nginx"], ["auth", "syslog", "audit"], family)
    assert set(PACKAGES[family].values()) <= set(probe["packages"])
    assert probe["packages"][0] == "amazon-cloudwatch-agent"
    assert probe["paths"] == [*DOCUMENTED[family]["system/auth"], *DOCUMENTED[family]["system/syslog"],
                              *DOCUMENTED[family]["system/audit"]]  # fmt: skip
    assert "rsyslog.service" in probe["active"] and "syslog.service" in probe["active"]
    # what is probed is what detection and the journal decision read: one list, no copy in vars
    assert set(cl.WEB_SERVER_PACKAGES["apache"]) <= set(probe["packages"])


def test_probe_asks_only_what_the_settings_need() -> None:
    probe = cl.cwagent_linux_probe(["nginx"], ["audit"], "RedHat")
    assert "httpd" not in probe["packages"] and "rsyslog" not in probe["packages"]
    assert probe["active"] == [] and probe["paths"] == ["/var/log/audit/audit.log"]


def test_amazon_linux_2023_without_rsyslog_reads_the_journal_and_runs_as_root() -> None:
    host = {
        "os_family": FAMILIES["Amazon"],
        "distribution": "Amazon",
        "distribution_major_version": "2023",
        "present_paths": ["/var/log/audit/audit.log"],
        "installed_packages": [PACKAGES["RedHat"]["audit"], PACKAGES["RedHat"]["nginx"]],
        "active_services": [],
    }
    options = {"system_logs": ["auth", "syslog", "audit"], "prefix": "/gdpr/prod", "retention_days": 365}
    frag = cl.cwagent_linux_fragment(["apache", "nginx"], {**options, "detect_web_servers": True}, host)
    files = [e["file_path"] for e in frag["logs"]["logs_collected"]["files"]["collect_list"]]
    assert files == [*DOCUMENTED["RedHat"]["nginx/access"], *DOCUMENTED["RedHat"]["nginx/error"],
                     *DOCUMENTED["RedHat"]["system/audit"]]  # fmt: skip
    assert "journald" in frag["logs"]["logs_collected"]
    assert frag["agent"]["run_as_user"] == "root"
    # with rsyslog installed and running (dnf install rsyslog), secure and messages are read again
    with_rsyslog = {
        **host,
        "installed_packages": ["rsyslog", "nginx"],
        "active_services": ["rsyslog.service"],
    }
    frag = cl.cwagent_linux_fragment([], options, with_rsyslog)
    paths = {e["file_path"] for e in frag["logs"]["logs_collected"]["files"]["collect_list"]}
    assert {"/var/log/secure", "/var/log/messages"} <= paths
    assert "journald" not in frag["logs"]["logs_collected"]


# The agent's download layout as the CloudWatch user guide lists it ("Download the CloudWatch agent
# package using the command line"): https://amazoncloudwatch-agent.s3.amazonaws.com/<os>/<arch>/
# latest/amazon-cloudwatch-agent.<deb|rpm>, the regional bucket amazoncloudwatch-agent-<region>.
GUIDE = "https://amazoncloudwatch-agent.s3.amazonaws.com"
DOWNLOADS = [
    ("Debian", "Debian", "x86_64", f"{GUIDE}/debian/amd64/latest/amazon-cloudwatch-agent.deb"),
    ("Ubuntu", "Debian", "aarch64", f"{GUIDE}/ubuntu/arm64/latest/amazon-cloudwatch-agent.deb"),
    ("Amazon", "RedHat", "x86_64", f"{GUIDE}/amazon_linux/amd64/latest/amazon-cloudwatch-agent.rpm"),
    ("CentOS", "RedHat", "x86_64", f"{GUIDE}/centos/amd64/latest/amazon-cloudwatch-agent.rpm"),
    ("RedHat", "RedHat", "arm64", f"{GUIDE}/redhat/arm64/latest/amazon-cloudwatch-agent.rpm"),
    ("Rocky", "RedHat", "aarch64", f"{GUIDE}/redhat/arm64/latest/amazon-cloudwatch-agent.rpm"),
    # A distribution the guide does not list gets its family's build.
    ("Fedora", "RedHat", "x86_64", f"{GUIDE}/redhat/amd64/latest/amazon-cloudwatch-agent.rpm"),
    ("Kali", "Debian", "amd64", f"{GUIDE}/debian/amd64/latest/amazon-cloudwatch-agent.deb"),
]


@pytest.mark.parametrize(("distribution", "family", "architecture", "url"), DOWNLOADS)
def test_download_url_is_the_guides_for_the_distribution_and_architecture(
    distribution: str, family: str, architecture: str, url: str
) -> None:
    facts = {"distribution": distribution, "os_family": family, "architecture": architecture}
    assert cl.cwagent_linux_download(facts) == {
        "url": url,
        "signature_url": url + ".sig",
        "package_format": cl.cwagent_linux_os_defaults(family)["package_format"],
    }


def test_download_from_the_regional_bucket() -> None:
    facts = {"distribution": "Debian", "os_family": "Debian", "architecture": "x86_64"}
    assert cl.cwagent_linux_download(facts, "eu-west-1")["url"] == (
        "https://amazoncloudwatch-agent-eu-west-1.s3.eu-west-1.amazonaws.com"
        "/debian/amd64/latest/amazon-cloudwatch-agent.deb"
    )


def test_download_urls_the_user_gives_win_and_any_architecture_may_then_install() -> None:
    facts = {"distribution": "Debian", "os_family": "Debian", "architecture": "riscv64"}
    mirror = "https://mirror.example/cwagent.deb"
    assert cl.cwagent_linux_download(facts, "eu-west-1", mirror) == {
        "url": mirror,
        "signature_url": mirror + ".sig",
        "package_format": "deb",
    }
    assert cl.cwagent_linux_download(facts, "", mirror, "https://mirror.example/sig")["signature_url"] == (
        "https://mirror.example/sig"
    )


def test_download_for_an_architecture_without_an_agent_build_names_the_variable() -> None:
    facts = {"distribution": "Ubuntu", "os_family": "Debian", "architecture": "riscv64"}
    with pytest.raises(Exception, match="architecture riscv64: set cloudwatch_agent_linux_package_url"):
        cl.cwagent_linux_download(facts)
    with pytest.raises(Exception, match="OS family 'Suse' is not supported"):
        cl.cwagent_linux_download({**facts, "os_family": "Suse", "architecture": "x86_64"})
