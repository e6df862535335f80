"""The source revision: git facts, refs, and the versions and environments derived from them."""
