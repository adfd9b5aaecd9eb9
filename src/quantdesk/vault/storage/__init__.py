"""Vault storage: one interface (``Storage``), a local folder and an S3 bucket behind it."""

from quantdesk.vault.storage.base import (
    Entry,
    FileExists,
    FileMissing,
    ListPage,
    PathRefused,
    Storage,
    StorageError,
    TooLarge,
    clean_path,
)
from quantdesk.vault.storage.local import LocalStorage
from quantdesk.vault.storage.s3 import S3Storage

__all__ = [
    "Entry",
    "FileExists",
    "FileMissing",
    "ListPage",
    "LocalStorage",
    "PathRefused",
    "S3Storage",
    "Storage",
    "StorageError",
    "TooLarge",
    "clean_path",
]
