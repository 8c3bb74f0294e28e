"""Helpers for the log group module tests: stubbed clients and running a module's main()."""

from __future__ import annotations

from typing import Any
from unittest import mock

import boto3
from botocore.stub import Stubber
from module_run import ModuleExit, run_main

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry, RetryingBotoClientWrapper

ACCOUNT = "123456789012"


def stubbed_client(region: str) -> tuple[Any, Stubber]:
    """A real botocore logs client with a Stubber at its API boundary, wrapped like regional_clients does."""
    client = boto3.client(
        "logs",
        region_name=region,
        aws_access_key_id="AKIATESTTESTTESTTEST",
        aws_secret_access_key="test",  # not a secret: the Stubber answers
        endpoint_url=None,
    )
    stubber = Stubber(client)
    stubber.activate()
    return RetryingBotoClientWrapper(client, AWSRetry.jittered_backoff(retries=1, delay=0)), stubber


def group_arn(region: str, name: str) -> str:
    return f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{name}"


def described(region: str, name: str, **extra: Any) -> dict[str, Any]:
    group = {
        "logGroupName": name,
        "arn": group_arn(region, name) + ":*",
        "logGroupArn": group_arn(region, name),
        "creationTime": 1,
        "storedBytes": 0,
        "metricFilterCount": 0,
    }
    group.update(extra)
    return group


def run_module(
    module: Any, args: dict[str, Any], clients: dict[str, Any] | None, check_mode: bool = False
) -> ModuleExit:
    """Run ``module.main()`` with ``args``; the regional clients are the given stubbed ones.

    ``clients=None``: the module makes its own (the embedded AWS of the ``aws`` fixture).
    """
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    args.setdefault("region", "eu-west-1")

    if clients is None:
        make_clients = module.checked_clients
    else:

        def make_clients(_module: Any, _service: str, regions: list[str], _option: str) -> dict[str, Any]:
            return {r: clients[r] for r in regions}

    return run_main(module, args, mock.patch.object(module, "checked_clients", make_clients))
