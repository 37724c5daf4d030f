import pytest


@pytest.fixture
def storecrm_plugins():
    """Load only this plugin: whatever else is installed stays out of its tests."""
    return ["stampcard"]
