"""Test-wide settings."""
import os

# a derivative specialised to its inputs' shapes must agree with the generic code on
# its first call; in the tests a disagreement fails loudly (elsewhere it falls back)
os.environ["AD_COMPILER_STRICT_SPECIALIZE"] = "1"
