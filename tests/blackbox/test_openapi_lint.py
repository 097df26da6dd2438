"""docs/openapi.yaml passes Redocly's linter (rules in redocly.yaml) and the
harness can read it. Needs no running stack; `npx` fetches the pinned CLI
from the npm registry on first use."""

import pathlib
import re
import shutil
import subprocess

import pytest

from openapi_check import Contract

REPO = pathlib.Path(__file__).resolve().parents[2]
OPENAPI = REPO / "docs" / "openapi.yaml"
REDOCLY = "@redocly/cli@1.34.20"


def test_redocly_lint():
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("npx not installed (Debian package npm): cannot run %s lint" % REDOCLY)
    try:
        p = subprocess.run([npx, "--yes", REDOCLY, "lint", "--format=stylish", str(OPENAPI)],
                           cwd=REPO, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.fail("%s lint did not finish within 180s (npm registry unreachable?)" % REDOCLY)
    assert p.returncode == 0, "redocly lint failed:\n%s\n%s" % (p.stdout, p.stderr)


def test_harness_reads_the_document():
    c = Contract(OPENAPI)
    # every $ref in the document resolves
    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                c.resolve(node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(c.doc)
    for ref in list(c.globals.get("anyOperation", {}).values()) + [
            c.globals["unmatchedRoute"], c.globals["methodNotAllowed"]]:
        c.resolve({"$ref": ref})
    # every operation has an operationId, and they are unique
    ids = [op["operationId"] for t in c.templates for m, op in t.item.items()
           if m in ("get", "put", "post", "delete", "patch", "head", "options", "trace")]
    assert len(ids) == len(set(ids))


ROUTE_LINE = re.compile(r'^\s*\{\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,', re.M)


def _doc_ops(c):
    ops = set()
    for t in c.templates:
        for m in t.item:
            if m in ("get", "put", "post", "delete", "patch", "options", "trace"):
                ops.add((m.upper(), t.template))
    return ops


def test_route_table_and_document_agree():
    """Every route in src/routes.c is documented, and every documented
    operation is routed, so the document cannot drift even for routes no
    black-box test calls yet. Path parameter names may differ."""
    routes_c = REPO / "src" / "routes.c"
    if not routes_c.exists():
        pytest.skip("src/routes.c not found")
    c = Contract(OPENAPI)
    shape = lambda p: re.sub(r"\{[^}/]+\}", "{}", p)  # noqa: E731
    routed = {(m, shape(p)) for m, p in ROUTE_LINE.findall(routes_c.read_text())}
    assert routed, "no routes parsed from %s" % routes_c
    documented = {(m, shape(p)) for m, p in _doc_ops(c)}
    missing = sorted(routed - documented)
    phantom = sorted(documented - routed)
    assert not missing, "routes in src/routes.c missing from docs/openapi.yaml:\n  " + \
        "\n  ".join("%s %s" % r for r in missing)
    assert not phantom, "operations in docs/openapi.yaml that src/routes.c does not route:\n  " + \
        "\n  ".join("%s %s" % r for r in phantom)
