"""RegionalClients / regional_clients / enabled_regions in plugins/module_utils/regions.py."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.gdpr.aws_monitoring.plugins.module_utils import regions


def fake_module(**params: object) -> SimpleNamespace:
    """Just what get_aws_connection_info reads: the module's params."""
    base = {
        "access_key": None,
        "secret_key": None,
        "session_token": None,
        "profile": None,
        "endpoint_url": "http://127.0.0.1:1",
        "validate_certs": True,
        "aws_ca_bundle": None,
        "aws_config": None,
        "region": "eu-west-1",
    }
    base.update(params)
    return SimpleNamespace(params=base, fail_json=None)


def test_one_cached_retrying_client_per_service_and_region(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    clients = regions.RegionalClients(fake_module())
    a = clients("guardduty", "eu-west-1")
    assert isinstance(a, RetryingBotoClientWrapper)
    assert clients("guardduty", "eu-west-1") is a
    b = clients("guardduty", "us-east-1")
    assert b is not a
    assert b.client.meta.region_name == "us-east-1"
    assert a.client.meta.endpoint_url == "http://127.0.0.1:1"


def test_clients_share_one_session_so_more_regions_are_cheap(monkeypatch):
    """The reason RegionalClients exists: a fresh session per client parses the model each time
    (what module.client() does). 20 shared-session clients must cost less than 5 fresh-session ones."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    clients = regions.RegionalClients(fake_module())
    clients("guardduty", "eu-west-1")  # loads the model once
    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:  # from worker threads, as run_in_regions does
        made = list(pool.map(lambda r: clients("guardduty", r), [f"eu-west-{i}" for i in range(20)]))
    shared = time.perf_counter() - start
    start = time.perf_counter()
    for _round in range(5):
        regions.RegionalClients(fake_module())("guardduty", "eu-west-1")
    fresh = time.perf_counter() - start
    assert len({id(c) for c in made}) == 20
    assert shared < fresh, (shared, fresh)


def test_regional_clients_wrapper_returns_a_dict(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    made = regions.regional_clients(fake_module(), "logs", ["eu-west-1", "eu-west-2"])
    assert sorted(made) == ["eu-west-1", "eu-west-2"]
    assert made["eu-west-2"].client.meta.region_name == "eu-west-2"


def test_enabled_regions_uses_a_given_client():
    calls = []

    class Ec2:
        def describe_regions(self, **kwargs):
            calls.append(kwargs)
            return {"Regions": [{"RegionName": "us-east-1"}, {"RegionName": "eu-west-1"}]}

    assert regions.enabled_regions(SimpleNamespace(), Ec2()) == ["eu-west-1", "us-east-1"]
    assert calls[0]["Filters"] == [{"Name": "opt-in-status", "Values": ["opt-in-not-required", "opted-in"]}]


def test_known_regions_are_botocore_s_for_the_partition(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    clients = regions.RegionalClients(fake_module())
    commercial = clients.known_regions("guardduty", "eu-west-1")
    assert {"eu-west-1", "us-east-1"} <= set(commercial)
    assert not any(r.startswith("cn-") for r in commercial)
    assert all(r.startswith("cn-") for r in clients.known_regions("guardduty", "cn-north-1"))


def test_a_client_keeps_a_connection_for_every_call_the_collection_sends_at_once(monkeypatch):
    """botocore keeps 10 connections per client and drops the rest after each call; the 25
    associations a region sends at once would then open new (TLS) connections, two more round trips
    each on AWS. The pool holds them all."""
    from ansible_collections.gdpr.aws_monitoring.plugins.modules import instance_profile_attachment

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    client = regions.RegionalClients(fake_module())("ec2", "eu-west-1")
    pool = client.client.meta.config.max_pool_connections
    assert pool == regions.CALLS_IN_FLIGHT_PER_CLIENT
    assert pool >= instance_profile_attachment.MUTATION_WORKERS


def test_a_fan_out_reads_the_paginator_model_once_not_once_per_region(monkeypatch):
    """38 region threads that page at the same moment used to miss the loader's cache together and
    each parse the paginator model (1-2 s of GIL for GuardDuty's ListDetectors through the latency
    proxy). The service's second client loads it first: here the model file is read once, although
    every read takes 50 ms and all 38 threads ask for their paginator at once (each of its files,
    the model and botocore's and boto3's extras, once)."""
    import threading

    import botocore.loaders

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    reads = []
    load_file = botocore.loaders.JSONFileLoader.load_file

    def slow_load_file(self, file_path):
        if "paginators-1" in str(file_path):
            reads.append(file_path)
            time.sleep(0.05)
        return load_file(self, file_path)

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", slow_load_file)
    clients = regions.RegionalClients(fake_module())
    names = [f"region-{i}" for i in range(38)]
    start = threading.Barrier(len(names), timeout=10)

    def page(region):
        client = clients("guardduty", region)
        start.wait()  # every region asks for its paginator at the same moment
        return client.client.get_paginator("list_detectors")

    with ThreadPoolExecutor(len(names)) as pool:
        paginators = list(pool.map(page, names))
    assert len(paginators) == 38
    assert reads and len(reads) == len(set(reads)), reads
