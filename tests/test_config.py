"""Configuration: the built-in profile, an operator's file over it, clear sentences for mistakes."""

import pytest

from digest.config import ConfigError, load_config, resolve_db_path


def write(tmp_path, text):
    path = tmp_path / "newsdigest.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_profile_is_central_asia():
    config = load_config(env={})
    assert config.rates.currencies == ("KZT", "KGS", "UZS", "TJS", "TMT")
    assert {
        "kazakhstan",
        "kyrgyzstan",
        "tajikistan",
        "uzbekistan",
        "turkmenistan",
        "central-asia",
        "economy",
        "energy",
        "migration",
        "climate",
    } <= {t.key for t in config.topics}
    assert all(f.url.startswith("https://") for f in config.feeds) and len(config.feeds) >= 5
    assert config.token is None


def test_operator_file_overrides_keys_and_replaces_lists(tmp_path):
    path = write(
        tmp_path,
        """
[rates]
currencies = ["gel", "AMD"]

[[feeds]]
name = "Local"
url = "https://example.org/rss"
""",
    )
    config = load_config(path, env={})
    assert config.rates.currencies == ("GEL", "AMD")
    assert config.rates.base == "USD"  # untouched keys keep the default
    assert [f.name for f in config.feeds] == ["Local"]
    assert config.topics == load_config(env={}).topics
    assert config.source == str(path)


def test_config_path_and_token_come_from_the_environment(tmp_path):
    path = write(tmp_path, '[digest]\ntitle = "My digest"\n')
    config = load_config(env={"NEWSDIGEST_CONFIG": str(path), "TELEGRAM_BOT_TOKEN": "123:abc"})
    assert config.digest.title == "My digest"
    assert config.token == "123:abc"
    assert "123:abc" not in repr(config)  # never printed with the config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[fetch]\ntimeout = "fast"\n', "config key 'fetch.timeout' must be a positive number"),
        ("[fetch]\nretries = 3\n", "config key 'fetch.retries' is not known"),
        (
            '[[feeds]]\nname = "x"\nurl = "ftp://x"\n',
            "config key 'feeds[0].url' must be an http(s) URL",
        ),
        ('[bot]\nadmins = ["me"]\n', "config key 'bot.admins' must be a list of numeric"),
        (
            '[bot]\ndefault_topics = ["sport"]\n',
            "config key 'bot.default_topics': 'sport' is not a configured topic",
        ),
        ('[[topics]]\nkey = "x"\nkeywords = []\n', "config key 'topics[0].keywords' is empty"),
        ('colour = "blue"\n', "config key 'colour' is not known"),
        (
            "[rates]\ncurrencies = [1, 2]\n",
            "config key 'rates': 1 is not a three-letter currency code",
        ),
        (
            '[rates.chains]\nKZT = ["ecb"]\n',
            "config key 'rates.chains.KZT': 'ecb' is not a known provider",
        ),
        (
            '[rates.sources]\nnbk = "nationalbank.kz"\n',
            "config key 'rates.sources.nbk' must be an http(s) URL",
        ),
        ("[digest]\nper_topic = 0\n", "config key 'digest.per_topic' must be at least 1"),
        ('[bot]\ndefault_time = "25:99"\n', "config key 'bot.default_time' must be HH:MM"),
        ('[bot]\ndefault_timezone = "Mars/Olympus"\n', "is not an IANA time zone"),
        ('[[topics]]\nkey = "x"\nkeywords = ["a*b"]\n[bot]\ndefault_topics = []\n', "topic 'x'"),
        (
            '[[feeds]]\nurl = "https://a.example/rss"\n[[feeds]]\nurl = "https://a.example/rss"\n',
            "is listed twice",
        ),
        ("[digest\n", "is not valid TOML"),
    ],
)
def test_bad_config_is_one_sentence_naming_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value).strip()


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", env={})


def test_database_path_prefers_flag_then_env_then_config(tmp_path):
    config = load_config(write(tmp_path, 'database = "from-config.db"\n'), env={})
    assert resolve_db_path("flag.db", config, {"NEWSDIGEST_DB": "env.db"}) == "flag.db"
    assert resolve_db_path(None, config, {"NEWSDIGEST_DB": "env.db"}) == "env.db"
    assert resolve_db_path(None, config, {}) == "from-config.db"
    assert resolve_db_path(None, load_config(env={}), {}) == "newsdigest.db"


def test_topic_keys_are_case_insensitive(tmp_path):
    config = load_config(
        write(
            tmp_path,
            '[[topics]]\nkey = "Economy"\nkeywords = ["GDP"]\n'
            '[bot]\ndefault_topics = ["economy"]\n',
        ),
        env={},
    )
    assert [t.key for t in config.topics] == ["economy"]
