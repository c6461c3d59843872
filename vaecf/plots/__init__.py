"""Every figure: matplotlib functions that draw results they are given and train nothing.
May import vaecf's core, toys and experiments (for the results' types)."""
