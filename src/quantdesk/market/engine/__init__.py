"""The market-data engine: the store and quote history, and the refresh queue whose claims
debit the providers' quota ledger (``market.quota``)."""
