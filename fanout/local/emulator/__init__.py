"""A Lambda emulator: the real router and consumer handlers fed Lambda-shaped batches."""
