"""`supporthub policy check|load|list`: exit codes and output."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from supporthub.policies.models import PolicyVersion
from supporthub.policies.tests.helpers import CLOUD, cloud_text, edit, line_of


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI, arguments chosen by the test
        [sys.executable, "-m", "supporthub", "policy", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, **env},
    )


def test_check_valid_file_prints_one_line_and_needs_no_database() -> None:
    # An unreachable database: any query would fail the command.
    result = run("check", str(CLOUD), DATABASE_URL="postgres://nobody@127.0.0.1:9/none")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    assert result.stdout.startswith(f"{CLOUD}: ok: Elasticsearch Service Support Services Policy")
    assert result.stderr == ""


def test_check_invalid_file_prints_every_error_and_exits_1(tmp_path: Path) -> None:
    text = edit(cloud_text(), "base = { 1 =", "bse = { 1 =")
    text = edit(text, 'zone = "customer"', 'zone = "Europe/Pari"')
    broken = tmp_path / "broken.toml"
    broken.write_text(text)
    result = run("check", str(broken))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert f"{broken}:{line_of(text, 'bse = { 1 =')}: targets.bse: unknown support level" in (
        result.stderr
    )
    assert any(
        line.startswith(f"{broken}:{line_of(text, 'Europe/Pari')}: support_levels.base.hours.zone")
        for line in lines
    )
    assert lines[-1] == f"CommandError: {broken}: 3 errors"


def test_check_missing_file_exits_1(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as exc:
        call_command("policy", "check", str(tmp_path / "absent.toml"))
    assert exc.value.returncode == 1
    assert "No such file or directory" in str(exc.value)


@pytest.mark.django_db
def test_load_stores_a_version_then_says_it_is_already_loaded() -> None:
    out = StringIO()
    call_command("policy", "load", str(CLOUD), stdout=out)
    assert out.getvalue() == "loaded cloud-support effective 2024-06-11 (version 1)\n"
    out = StringIO()
    call_command("policy", "load", str(CLOUD), stdout=out)
    assert out.getvalue() == (
        "already loaded: cloud-support effective 2024-06-11 (version 1); nothing changed\n"
    )
    assert PolicyVersion.objects.count() == 1


@pytest.mark.django_db
def test_load_refuses_an_earlier_effective_date_with_exit_1(tmp_path: Path) -> None:
    later = tmp_path / "later.toml"
    later.write_text(
        edit(cloud_text(), "effective_date = 2024-06-11", "effective_date = 2025-01-01")
    )
    call_command("policy", "load", str(later), stdout=StringIO())
    with pytest.raises(CommandError) as exc:
        call_command("policy", "load", str(CLOUD), stdout=StringIO())
    assert exc.value.returncode == 1
    assert "2024-06-11 is earlier than the latest loaded version (effective 2025-01-01)" in str(
        exc.value
    )


@pytest.mark.django_db
def test_load_refuses_an_invalid_file_printing_every_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(edit(cloud_text(), "support_contacts = 6", "support_contacts = -6"))
    err = StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("policy", "load", str(broken), stdout=StringIO(), stderr=err)
    assert exc.value.returncode == 1
    assert str(exc.value) == "broken.toml is not a valid policy (1 error)"
    assert err.getvalue().startswith("broken.toml:")
    assert not PolicyVersion.objects.exists()


@pytest.mark.django_db
def test_list_shows_every_version_numbered_per_policy(tmp_path: Path) -> None:
    out = StringIO()
    call_command("policy", "list", stdout=out)
    assert "no policy is loaded" in out.getvalue()
    later = tmp_path / "later.toml"
    later.write_text(
        edit(cloud_text(), "effective_date = 2024-06-11", "effective_date = 2025-01-01")
    )
    call_command("policy", "load", str(CLOUD), stdout=StringIO())
    call_command("policy", "load", str(later), stdout=StringIO())
    out = StringIO()
    call_command("policy", "list", stdout=out)
    rows = [line.split() for line in out.getvalue().splitlines()]
    assert rows[0] == ["POLICY", "VERSION", "EFFECTIVE", "LOADED", "SHA256", "SOURCE"]
    assert [(row[0], row[1], row[2], row[-1]) for row in rows[1:]] == [
        ("cloud-support", "1", "2024-06-11", "cloud-support.toml"),
        ("cloud-support", "2", "2025-01-01", "later.toml"),
    ]
