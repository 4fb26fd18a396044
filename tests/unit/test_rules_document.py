"""docs/rules.md is generated from the code's rule tables and must match them; nothing in
the repository points outside it (issue 16, item 16)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from equipment.domain import fills
from equipment.domain.rules import DEFAULT_POLICY, TABLE, load_policy
from equipment.domain.rules_document import render
from sereg import cli

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "rules.md"


def test_docs_rules_md_is_what_the_code_generates() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/rules.md differs from the code's rule tables: run `sereg rules doc`"
    )


def test_every_rule_and_verdict_code_is_in_the_document_with_its_source() -> None:
    text = render()
    for row in TABLE:
        line = next(line for line in text.splitlines() if f"| `{row.key}` |" in line)
        assert row.source.replace("|", "\\|") in line and f"[{row.tag}]" in line
    for code in fills.CODE_TABLE:
        line = next(line for line in text.splitlines() if line.startswith(f"| {code.code.value} |"))
        assert code.source in line and f"`{code.name}`" in line


def test_the_document_follows_the_policy_it_is_given() -> None:
    policy = load_policy(
        {"name": "襄阳 2026", "overrides": {"lift.entrapment.city": {"minutes": 20}}}
    )
    text = render(policy)
    assert "Policy: 襄阳 2026." in text
    assert "minutes 20" in text and "minutes 20" not in render(DEFAULT_POLICY)


def test_sereg_rules_doc_writes_and_checks(tmp_path: Path, capsys) -> None:
    target = tmp_path / "rules.md"
    cli.main(["rules", "doc", "--output", str(target)])
    assert target.read_text(encoding="utf-8") == render()
    cli.main(["rules", "doc", "--output", str(target), "--check"])
    assert "is current" in capsys.readouterr().out
    target.write_text(render().replace("[C]", "[S]", 1), encoding="utf-8")
    with pytest.raises(SystemExit, match="out of date"):
        cli.main(["rules", "doc", "--output", str(target), "--check"])


# Team material lives outside the repository; the product must not point there. The
# names are put together here so that this file does not name them itself.
SHARED = "/".join(("..", "shared"))
OUTSIDE = (SHARED, "/work" + SHARED[2:], "DESIGN" + ".md", "RULES" + ".md")


def test_nothing_in_the_repository_points_outside_it() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    this = Path(__file__).resolve().relative_to(ROOT).as_posix()
    found = []
    for name in (n.decode() for n in tracked if n):
        path = ROOT / name
        if name == this or not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        found += [f"{name}: {needle}" for needle in OUTSIDE if needle in text]
    assert found == []
