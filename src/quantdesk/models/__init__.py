"""ORM models, one module per entity, all imported here so metadata is complete."""

from quantdesk.kit.orm import Base
from quantdesk.models.api_token import ApiToken
from quantdesk.models.asset import Asset, AssetClass, PendingAssetOwner, ValidationStatus
from quantdesk.models.equity_snapshot import EquitySnapshot
from quantdesk.models.journal import Book, JournalEntry, JournalTransaction, TransactionKind
from quantdesk.models.login_session import (
    LoginSession,
    RefreshToken,
    RefreshTokenState,
    SessionEndReason,
)
from quantdesk.models.loop_lease import LoopLease
from quantdesk.models.market_data import AssetProfile, AssetQuote
from quantdesk.models.market_data_type import MarketAudit, MarketDataType, MarketFlag
from quantdesk.models.market_index import IndexMember, MarketIndex
from quantdesk.models.market_value import MarketValue
from quantdesk.models.market_watch import MarketWatch
from quantdesk.models.operation import (
    Operation,
    OperationFile,
    OperationResult,
    OperationStatus,
)
from quantdesk.models.paper_account import PaperAccount, Position
from quantdesk.models.paper_order import PaperFill, PaperOrder
from quantdesk.models.provider_quota import ProviderCall, ProviderQuota
from quantdesk.models.quote_history import QuotePoint
from quantdesk.models.refresh_request import RefreshRequest, RefreshStatus
from quantdesk.models.universe import Universe, UniverseAsset, UniverseChange
from quantdesk.models.user import User
from quantdesk.models.validation_request import ValidationRequest
from quantdesk.models.vault import Vault
from quantdesk.models.vault_file import VaultFile
from quantdesk.models.vault_plan import MoveStatus, PlanStatus, VaultMove, VaultPlan

__all__ = [
    "ApiToken",
    "Asset",
    "AssetClass",
    "AssetProfile",
    "AssetQuote",
    "Base",
    "Book",
    "EquitySnapshot",
    "IndexMember",
    "JournalEntry",
    "JournalTransaction",
    "LoginSession",
    "LoopLease",
    "MarketAudit",
    "MarketDataType",
    "MarketFlag",
    "MarketIndex",
    "MarketValue",
    "MarketWatch",
    "MoveStatus",
    "Operation",
    "OperationFile",
    "OperationResult",
    "OperationStatus",
    "PaperAccount",
    "PaperFill",
    "PaperOrder",
    "PendingAssetOwner",
    "PlanStatus",
    "Position",
    "ProviderCall",
    "ProviderQuota",
    "QuotePoint",
    "RefreshRequest",
    "RefreshStatus",
    "RefreshToken",
    "RefreshTokenState",
    "SessionEndReason",
    "TransactionKind",
    "Universe",
    "UniverseAsset",
    "UniverseChange",
    "User",
    "ValidationRequest",
    "ValidationStatus",
    "Vault",
    "VaultFile",
    "VaultMove",
    "VaultPlan",
]

# Tables whose rows belong to one user: they carry owner_id and, on PostgreSQL, an RLS policy.
# operations and their files and results: system jobs have owner_id NULL, visible only in the
# system context.
OWNED_TABLES = (
    "api_tokens",
    "universes",
    "universe_assets",
    "universe_changes",
    "operations",
    "operation_files",
    "operation_results",
    "pending_asset_owners",
    "login_sessions",
    "refresh_tokens",
    "market_watches",
    "paper_accounts",
    "equity_snapshots",
    "paper_orders",
    "paper_fills",
    "positions",
    "journal_transactions",
    "journal_entries",
    "vaults",
    "vault_files",
    "vault_plans",
    "vault_moves",
)
