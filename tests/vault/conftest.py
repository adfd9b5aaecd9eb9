"""Fixtures of the vault tests: a moto S3 server over HTTP."""

from tests.vault.s3_server import s3_server

__all__ = ["s3_server"]  # a fixture, imported to be found by pytest
