"""Every exception class of the package has its own name: ``except Skipped`` must say which one."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import defaultdict

import tattletail


def test_no_two_exception_classes_share_a_name() -> None:
    where: dict[str, set[str]] = defaultdict(set)
    for info in pkgutil.walk_packages(tattletail.__path__, "tattletail."):
        module = importlib.import_module(info.name)
        for name, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == info.name:
                where[name].add(info.name)
    shared = {name: sorted(modules) for name, modules in where.items() if len(modules) > 1}
    assert shared == {}
    assert where["Skipped"] == {"tattletail.commands.sigma_sources"}
    assert where["SkippedCorrelation"] == {"tattletail.correlation.sigma"}
