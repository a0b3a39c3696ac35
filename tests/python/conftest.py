import os
import sys

# gradcheck.py and other helpers live beside the tests.
sys.path.insert(0, os.path.dirname(__file__))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def fashion_mnist():
    """Real Fashion-MNIST from Debian's dataset-fashion-mnist (.ci/run installs it)."""
    import pocketcnn as pc

    try:
        return pc.datasets.fashion_mnist()
    except FileNotFoundError as e:
        pytest.skip(f"Fashion-MNIST is not installed: {e}")
