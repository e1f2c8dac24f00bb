import pytest

from hotline.config import ConfigError, load_settings


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("REDIS_URL", "redis://h:6379/1")
    monkeypatch.setenv("HOTLINE_PORT", "9000")
    monkeypatch.setenv("HOTLINE_ROLES", "api, clock")
    s = load_settings()
    assert (s.database_url, s.redis_url, s.port, s.roles) == (
        "postgresql://u@h/db",
        "redis://h:6379/1",
        9000,
        ["api", "clock"],
    )


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("HOTLINE_PORT", "eighty", "port"),
        ("HOTLINE_PORT", "70000", "port"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
        ("REDIS_URL", "http://x", "REDIS_URL"),
        ("HOTLINE_ROLES", "api,dance", "roles"),
        ("HOTLINE_LOG_LEVEL", "LOUD", "log_level"),
        ("HOTLINE_HOTSPOT_FLOOR", "1", "hotspot_floor"),
        ("HOTLINE_HOTSPOT_MULTIPLE", "0.5", "hotspot_multiple"),
        ("HOTLINE_REPEAT_PLACE_DAYS", "0", "repeat_place_days"),
        ("HOTLINE_EVENT_LOOP", "tokio", "event_loop"),
    ],
)
def test_a_bad_value_is_refused_with_its_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert named in str(exc.value) and str(exc.value).startswith("invalid configuration")


def test_cli_reports_a_bad_setting_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hotline.cli import main

    monkeypatch.setenv("HOTLINE_PORT", "eighty")
    assert main(["migrate"]) == 2
    assert "port" in capsys.readouterr().err
