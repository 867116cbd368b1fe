import os
import shutil

import pytest

from tests.support.netem import netns_unavailable_reason

CHROMIUM = os.environ.get("RTK_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def need_netns() -> None:
    reason = netns_unavailable_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def need_chromium() -> str:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"{CHROMIUM} not found: run scripts/install-chromium (as root)")
    return CHROMIUM
