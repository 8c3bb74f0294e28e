"""The IAM actions an S3 call needs, for the fault proxy's operation log (one home for the mapping).

For most services the IAM action of a call is ``<prefix>:<Operation>``. S3 is the exception: its
API operations and IAM actions have different names (HeadBucket is authorized by ``s3:ListBucket``,
GetBucketEncryption by ``s3:GetEncryptionConfiguration``, DeleteBucketLifecycle by
``s3:PutLifecycleConfiguration``), and some calls need more than one action depending on their
headers (CreateBucket with ``x-amz-object-ownership`` also needs ``s3:PutBucketOwnershipControls``).

The proxy identifies the operation (method, path and query keys such as ``?policy`` or
``?lifecycle``, matched against botocore's S3 model); this table turns it into actions. Sources:
AWS's "Actions, resources, and condition keys for Amazon S3" (Service Authorization Reference,
its table "API operations defined by Amazon S3") and the Permissions section of each operation's
API reference, which botocore ships as the operation's documentation (tests/unit/
test_fault_proxy_s3.py checks every row against that text where it names an action).

An S3 operation missing from the table has no action: ``iam_actions`` returns an empty tuple and
the proxy lists it in ``unmapped_operations()``, so a least-privilege proof fails loudly instead of
guessing a name.
"""

from __future__ import annotations

from collections.abc import Mapping

# operation -> the IAM action that authorizes it.
S3_ACTION_BY_OPERATION: dict[str, str] = {
    # buckets
    "CreateBucket": "s3:CreateBucket",
    "DeleteBucket": "s3:DeleteBucket",
    "HeadBucket": "s3:ListBucket",
    "ListBuckets": "s3:ListAllMyBuckets",
    "GetBucketLocation": "s3:GetBucketLocation",
    # tags
    "GetBucketTagging": "s3:GetBucketTagging",
    "PutBucketTagging": "s3:PutBucketTagging",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    # Block Public Access
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetBucketPolicyStatus": "s3:GetBucketPolicyStatus",
    # object ownership and ACLs
    "GetBucketOwnershipControls": "s3:GetBucketOwnershipControls",
    "PutBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "GetBucketAcl": "s3:GetBucketAcl",
    "PutBucketAcl": "s3:PutBucketAcl",
    # default encryption
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    # bucket policy
    "GetBucketPolicy": "s3:GetBucketPolicy",
    "PutBucketPolicy": "s3:PutBucketPolicy",
    "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
    # lifecycle
    "GetBucketLifecycle": "s3:GetLifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycle": "s3:PutLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    # versioning and Object Lock
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "PutBucketVersioning": "s3:PutBucketVersioning",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    # logging, notifications, replication, CORS
    "GetBucketLogging": "s3:GetBucketLogging",
    "PutBucketLogging": "s3:PutBucketLogging",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "PutBucketReplication": "s3:PutReplicationConfiguration",
    "DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    # listing objects (object reads and writes are left out: a versionId or an ACL header changes
    # their action, which the collection never needs to model)
    "ListObjects": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
}

# CreateBucket's Permissions section: actions a header adds (header -> its actions).
_CREATE_BUCKET_HEADER_ACTIONS: dict[str, tuple[str, ...]] = {
    "x-amz-object-ownership": ("s3:PutBucketOwnershipControls",),
    "x-amz-grant-full-control": ("s3:PutBucketAcl",),
    "x-amz-grant-read": ("s3:PutBucketAcl",),
    "x-amz-grant-read-acp": ("s3:PutBucketAcl",),
    "x-amz-grant-write": ("s3:PutBucketAcl",),
    "x-amz-grant-write-acp": ("s3:PutBucketAcl",),
}
_OBJECT_LOCK_ACTIONS = ("s3:PutBucketObjectLockConfiguration", "s3:PutBucketVersioning")


def _create_bucket_extras(headers: Mapping[str, str]) -> tuple[str, ...]:
    """What a CreateBucket request's headers add to s3:CreateBucket (a private or absent ACL: none)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    extras: list[str] = []
    for header, actions in _CREATE_BUCKET_HEADER_ACTIONS.items():
        if header in lowered:
            extras.extend(actions)
    if lowered.get("x-amz-acl", "private") != "private":
        extras.append("s3:PutBucketAcl")
    if lowered.get("x-amz-bucket-object-lock-enabled", "").lower() == "true":
        extras.extend(_OBJECT_LOCK_ACTIONS)
    return tuple(dict.fromkeys(extras))


def iam_actions(operation: str | None, headers: Mapping[str, str]) -> tuple[str, ...]:
    """Every IAM action an S3 call needs: its own first, then those its headers add; () if unmapped."""
    action = S3_ACTION_BY_OPERATION.get(operation or "")
    if action is None:
        return ()
    extras = _create_bucket_extras(headers) if operation == "CreateBucket" else ()
    return (action, *(a for a in extras if a != action))
