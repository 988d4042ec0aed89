"""The runner gives each function the variables Lambda would: its own, and those of its
logging configuration, which the handlers' log subscriber reads."""

from runner.provision import _runtime_environment


def test_json_logging_sets_the_format_and_level_variables_as_lambda_does() -> None:
    props = {
        "Environment": {"Variables": {"WORKFLOWS": "{}", "COUNT": 2}},
        "LoggingConfig": {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"},
    }
    assert _runtime_environment(props) == {
        "WORKFLOWS": "{}",
        "COUNT": "2",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "DEBUG",
    }


def test_text_logging_sets_neither() -> None:
    assert _runtime_environment({"LoggingConfig": {"LogFormat": "Text"}}) == {}
    assert _runtime_environment({}) == {}
