"""The CLI's file arguments under generated hostile bytes (issue 14): `entries add
--json-file`, `entries update --json-file` and `import` answer with the 4000 envelope or
succeed; never a traceback, whatever the file holds (not UTF-8, not JSON, nested 10^5
deep, NUL, huge numbers)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import entry_payload

CLI_FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

payloads = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"[" * 100_000,
            b"[" * 50_000 + b"]" * 50_000,
            b"1" * 5000,
            b'{"notes": "\\u0000"}',
            b'{"service": "PT-EVAL\\ud800"}',
            b"\xff\xfe{}",
            b"NaN",
        ]
    ),
    st.dictionaries(
        st.sampled_from(list(entry_payload())), st.recursive(st.none() | st.text(), st.lists)
    ).map(lambda d: json.dumps({**entry_payload(), **d}).encode()),
)


def _clean(result) -> None:
    assert result.exit_code in (0, 1), (result.exit_code, result.output, result.exception)
    assert not result.exception or isinstance(result.exception, SystemExit), result.exception
    if result.exit_code == 1:
        body = json.loads(result.output)
        assert body["code"] in (4000, 4040, 4090), body


@CLI_FUZZ
@given(data=payloads)
def test_json_file_arguments_never_crash(run, tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("cli") / "in.json"
    path.write_bytes(data)
    _clean(run("entries", "add", "--json-file", str(path), "--json"))
    _clean(run("entries", "update", "abcdef12", "--json-file", str(path), "--json"))
    csv_path = path.with_suffix(".csv")
    csv_path.write_bytes(b"service,payment_type,first_name,last_name,notes\n" + data)
    for target in (path, csv_path):
        _clean(run("import", str(target), "--json"))
