"""Which server the kit uses: DATABASE_URL, then the POSTGRES_* variables of a compose file, then its own."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

from perfkit.commands.cli import main
from perfkit.data import server as db
from perfkit.errors import ConfigurationError

HARNESS = {
    "POSTGRES_HOST": "db",
    "POSTGRES_PORT": "5433",
    "POSTGRES_DB": "events db",
    "POSTGRES_USER": "app",
    "POSTGRES_PASSWORD": "s3cret pw'",
}


def test_postgres_variables_name_the_server_with_the_password_kept_out_of_sight() -> None:
    target = db.resolve_server(HARNESS)
    assert not target.embedded
    params = conninfo_to_dict(target.dsn.reveal())
    assert params == {"host": "db", "port": "5433", "dbname": "events db", "user": "app", "password": "s3cret pw'"}
    assert "s3cret" not in str(target.dsn)
    assert "s3cret" not in repr(target)


def test_database_url_comes_first() -> None:
    target = db.resolve_server({**HARNESS, "DATABASE_URL": "postgresql://other@elsewhere/x"})
    assert conninfo_to_dict(target.dsn.reveal())["host"] == "elsewhere"


def test_without_postgres_host_the_other_variables_are_not_a_server() -> None:
    environ = {name: value for name, value in HARNESS.items() if name != "POSTGRES_HOST"}
    assert db.resolve_configured_server(environ) is None


def test_a_bad_port_is_one_line_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigurationError, match="POSTGRES_PORT must be a port number"):
        db.resolve_server({**HARNESS, "POSTGRES_PORT": "54x32"})
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for name, value in {**HARNESS, "POSTGRES_PORT": "99999"}.items():
        monkeypatch.setenv(name, value)
    assert main(["datasets"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "POSTGRES_PORT" in error
    assert "s3cret" not in error


@pytest.mark.db
def test_the_kit_runs_on_the_server_the_postgres_variables_name(
    server: db.ServerTarget, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    params = conninfo_to_dict(server.dsn.reveal())
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("POSTGRES_HOST", str(params.get("host") or "localhost"))
    for name, key in (("POSTGRES_PORT", "port"), ("POSTGRES_DB", "dbname"), ("POSTGRES_USER", "user")):
        if params.get(key):
            monkeypatch.setenv(name, str(params[key]))
    if params.get("password"):
        monkeypatch.setenv("POSTGRES_PASSWORD", str(params["password"]))
    assert not db.resolve_server().embedded
    assert main(["datasets"]) == 0
    capsys.readouterr()
