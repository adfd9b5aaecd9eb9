"""The vault's business errors (each carries its HTTP status and code)."""

from __future__ import annotations

from quantdesk.kit.errors import Conflict, NotFound, QuantdeskError


class VaultNotFound(NotFound):
    code = "vault_not_found"
    message = "Vault not found"


class VaultFileNotFound(NotFound):
    code = "vault_file_not_found"
    message = "No such file in the vault"


class PlanNotFound(NotFound):
    code = "vault_plan_not_found"
    message = "Plan not found"


class VaultNameTaken(Conflict):
    code = "vault_name_taken"
    message = "You already have a vault with this name"


class PlanNotReady(Conflict):
    code = "vault_plan_not_ready"
    message = "The plan is not in a state that allows this"


class StorageUnavailable(QuantdeskError):
    status_code = 502
    code = "vault_storage_error"
    message = "The vault's storage could not be used"
