from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.settings import (
    MissingSecret,
    RedactSecrets,
    SettingsError,
    load_settings,
    secret,
)


def test_defaults_then_file_then_environment_then_options(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('top_k = 5\nrate_limit = 3\nanswer_channels = ["C1", "C2"]\n')
    assert load_settings(env={}).top_k == 3
    from_file = load_settings(config, env={})
    assert (from_file.top_k, from_file.rate_limit, from_file.answer_channels) == (
        5,
        3,
        ["C1", "C2"],
    )
    env = {"CITEBOT_TOP_K": "7", "CITEBOT_ANSWER_CHANNELS": "C9, C10"}
    from_env = load_settings(config, env=env)
    assert (from_env.top_k, from_env.rate_limit, from_env.answer_channels) == (7, 3, ["C9", "C10"])
    assert load_settings(config, env=env, overrides={"top_k": "2"}).top_k == 2


def test_citebot_home_moves_all_state(tmp_path: Path) -> None:
    settings = load_settings(env={"CITEBOT_HOME": str(tmp_path / "h")})
    assert settings.database.parent == tmp_path / "h"
    assert tmp_path / "h" in settings.resolved_index_dir.parents


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("top_k = 0", "top_k: expected 1 to 10, got 0"),
        ('top_k = "many"', "top_k: expected a whole number, got 'many'"),
        ("colour = 3", "unknown setting 'colour'"),
        ("top_k = [", "citebot.toml"),
        ('log_level = "LOUD"', "expected DEBUG, INFO, WARNING or ERROR"),
    ],
)
def test_bad_config_values_name_the_setting(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "citebot.toml"
    config.write_text(content + "\n")
    with pytest.raises(SettingsError, match=message.replace("[", r"\[")):
        load_settings(config, env={})


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "nope.toml", env={})


def test_secrets_from_the_environment_or_a_named_file(tmp_path: Path) -> None:
    assert secret("SLACK_BOT_TOKEN", {"SLACK_BOT_TOKEN": " xoxb-1 "}) == "xoxb-1"
    token_file = tmp_path / "token"
    token_file.write_text("xoxb-from-file\n")
    assert secret("SLACK_BOT_TOKEN", {"SLACK_BOT_TOKEN_FILE": str(token_file)}) == "xoxb-from-file"
    with pytest.raises(MissingSecret, match="SLACK_BOT_TOKEN is not set"):
        secret("SLACK_BOT_TOKEN", {})
    with pytest.raises(MissingSecret, match="cannot be read"):
        secret("SLACK_BOT_TOKEN", {"SLACK_BOT_TOKEN_FILE": str(tmp_path / "missing")})


def test_secret_values_never_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("third.party")
    caplog.handler.addFilter(RedactSecrets(["xoxb-very-secret-token"]))
    logger.warning(
        "request failed with headers %s", {"Authorization": "Bearer xoxb-very-secret-token"}
    )
    assert "xoxb-very-secret-token" not in caplog.text and "(redacted)" in caplog.text


def test_a_citebot_toml_in_the_working_folder_is_found(tmp_path: Path) -> None:
    (tmp_path / "citebot.toml").write_text("top_k = 4\n")  # the tests run in tmp_path
    assert load_settings(env={}).top_k == 4


def test_slack_api_url_is_an_http_base_url(tmp_path: Path) -> None:
    assert load_settings(env={}).slack_api_url == "https://slack.com/api/"
    gov = load_settings(env={"CITEBOT_SLACK_API_URL": "https://slack-gov.com/api"})
    assert gov.slack_api_url == "https://slack-gov.com/api/"  # the client appends methods
    for bad in ("ftp://slack.com/api/", "slack.com/api", "!channel"):
        with pytest.raises(SettingsError, match="CITEBOT_SLACK_API_URL: expected an http"):
            load_settings(env={"CITEBOT_SLACK_API_URL": bad})
