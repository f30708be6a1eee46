"""Rules never reach into the loader (issue 11): the rule modules filter layers with `LayerFilter.apply`
(configuration), not with an import of `screening.catalog`."""

from __future__ import annotations

import ast
import importlib
import inspect

import pytest

RULE_MODULES = ("exclusion", "_exclusion_measure", "_zone_shares", "scoring", "_scoring_measure",
                "_scoring_breakdown", "coverage", "surface",
                "_surface_inputs", "_sitemap")


@pytest.mark.parametrize("name", RULE_MODULES)
def test_rule_modules_do_not_import_the_loader(name):
    """Only `surface.surface_from_catalog`, the command's entry that loads the layers, may import it."""
    module = importlib.import_module(f"screening.{name}")
    tree = ast.parse(inspect.getsource(module))
    allowed = {id(node) for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef)
               and fn.name == "surface_from_catalog" for node in ast.walk(fn)}
    offending = []
    for node in ast.walk(tree):
        if id(node) in allowed:
            continue
        if isinstance(node, ast.ImportFrom) and (node.module == "screening.catalog" or (
                node.module == "screening" and any(a.name == "catalog" for a in node.names))):
            offending.append(node.lineno)
        if isinstance(node, ast.Import) and any(a.name == "screening.catalog" for a in node.names):
            offending.append(node.lineno)
    assert offending == [], f"screening/{name}.py imports the loader at line(s) {offending}"
