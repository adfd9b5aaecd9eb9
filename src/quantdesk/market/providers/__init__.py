"""Market-data providers: one module per provider, all behind the interface in ``base``."""
