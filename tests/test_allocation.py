"""The glibc mapping threshold that returns freed page bodies at once."""

from __future__ import annotations

import platform

import pytest

from planhat_api import allocation


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_threshold_is_set_on_glibc():
    assert allocation.unmap_large_buffers() is True


def test_other_c_libraries_are_left_alone(monkeypatch):
    monkeypatch.setattr(platform, "libc_ver", lambda: ("musl", "1.2"))

    assert allocation.unmap_large_buffers() is False
