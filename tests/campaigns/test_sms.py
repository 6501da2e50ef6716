"""SMS encoding, units and segments: hand-checked vectors at every boundary (3GPP TS 23.038)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner

from segmentum.campaigns.sms import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsCount,
    count_sms,
    count_sms_batch,
    is_gsm7,
    to_gsm7,
)
from segmentum.cli import sms_commands

EURO = "€"
GRIN = "😀"  # U+1F600: a surrogate pair in UTF-16


def test_alphabet_tables() -> None:
    assert len(GSM7_BASIC) == 127  # 128 positions minus the escape
    assert len(set(GSM7_BASIC)) == 127
    assert GSM7_EXTENSION == "\f^{}\\[~]|€"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SmsCount("gsm7", 0, 1)),
        ("Hello", SmsCount("gsm7", 5, 1)),
        ("a" * 160, SmsCount("gsm7", 160, 1)),
        ("a" * 161, SmsCount("gsm7", 161, 2)),
        ("a" * 306, SmsCount("gsm7", 306, 2)),
        ("a" * 307, SmsCount("gsm7", 307, 3)),
        (EURO, SmsCount("gsm7", 2, 1)),
        ("{", SmsCount("gsm7", 2, 1)),
        ("\f", SmsCount("gsm7", 2, 1)),
        ("^{}\\[~]|€\f", SmsCount("gsm7", 20, 1)),
        (EURO * 80, SmsCount("gsm7", 160, 1)),
        (EURO * 80 + "a", SmsCount("gsm7", 161, 2)),
        ("a" * 159 + EURO, SmsCount("gsm7", 161, 2)),
        # a 153-unit first part that ends on an escape pair: 151 + 2, then 153
        ("a" * 151 + EURO + "a" * 153, SmsCount("gsm7", 306, 2)),
        # the pair does not fit in 152 + 2 = 154: it moves on, and the second part overflows
        ("a" * 152 + EURO + "a" * 152, SmsCount("gsm7", 306, 3)),
        ("Ça va", SmsCount("gsm7", 5, 1)),
        ("Ç", SmsCount("gsm7", 1, 1)),
        ("ç", SmsCount("ucs2", 1, 1)),
        ("garçon", SmsCount("ucs2", 6, 1)),
        ("ΔΦΓΛΩΠΨΣΘΞ", SmsCount("gsm7", 10, 1)),
        ("δ", SmsCount("ucs2", 1, 1)),
        ("Привет", SmsCount("ucs2", 6, 1)),
        ("€ç", SmsCount("ucs2", 2, 1)),  # in UCS-2 the euro sign is one unit
        ("П" * 70, SmsCount("ucs2", 70, 1)),
        ("П" * 71, SmsCount("ucs2", 71, 2)),
        ("П" * 134, SmsCount("ucs2", 134, 2)),
        ("П" * 135, SmsCount("ucs2", 135, 3)),
        (GRIN, SmsCount("ucs2", 2, 1)),
        (GRIN * 35, SmsCount("ucs2", 70, 1)),
        # 36 emoji: 33 fill 66 units, the 34th would make 68 > 67; 3 more in part two
        (GRIN * 36, SmsCount("ucs2", 72, 2)),
        # a 67-unit first part ending in a surrogate pair: 65 + 2, then 67
        ("a" * 65 + GRIN + "П" * 67, SmsCount("ucs2", 134, 2)),
        # the pair does not fit after 66 units, so part two overflows too
        ("a" * 66 + GRIN + "П" * 66, SmsCount("ucs2", 134, 3)),
        ("Ahoj 👋", SmsCount("ucs2", 7, 1)),
    ],
)
def test_count_sms(text: str, expected: SmsCount) -> None:
    assert count_sms(text) == expected


def test_is_gsm7() -> None:
    assert is_gsm7("@£$¥èéùìòÇ\nØø\rÅå_ÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà")
    assert not is_gsm7("č")
    assert not is_gsm7("`")


def test_count_sms_batch() -> None:
    texts = pa.array(["a" * 161, None, EURO, GRIN, "Привет"], pa.string())
    table = count_sms_batch(texts)
    assert table.schema.names == ["encoding", "units", "segments"]
    assert table.to_pylist() == [
        {"encoding": "gsm7", "units": 161, "segments": 2},
        {"encoding": None, "units": None, "segments": None},
        {"encoding": "gsm7", "units": 2, "segments": 1},
        {"encoding": "ucs2", "units": 2, "segments": 1},
        {"encoding": "ucs2", "units": 6, "segments": 1},
    ]


def test_count_sms_batch_chunked() -> None:
    texts = pa.chunked_array([["a"], ["ç", "b"]])
    assert count_sms_batch(texts).column("encoding").to_pylist() == ["gsm7", "ucs2", "gsm7"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("“Hi” ‘there’ – now — later…", "\"Hi\" 'there' - now - later..."),
        ("Příliš žluťoučký kůň úpěl ďábelské ódy", "Prilis zlutoucky kun upel dabelské ody"),
        ("Zażółć gęślą jaźń Łódź", "Zazolc gesla jazn Lodz"),
        ("Привет, Щука! Ёжик, съешь юлу", "Privet, Shchuka! Ezhik, sesh yulu"),
        ("café Ç ç ü Ñ", "café Ç c ü Ñ"),  # é, Ç, ü, Ñ are GSM-7 and stay
        ("emoji 😀 here", "emoji ? here"),
        ("price\u00a01\u00a0234 Kč", "price 1 234 Kc"),
        ("plain GSM text {€}", "plain GSM text {€}"),
    ],
)
def test_to_gsm7(text: str, expected: str) -> None:
    assert to_gsm7(text) == expected
    assert is_gsm7(to_gsm7(text))


def test_to_gsm7_replacement_and_explicitness() -> None:
    assert to_gsm7("日本", replacement="") == ""
    assert count_sms("“Hi”").encoding == "ucs2"  # counting never transliterates


runner = CliRunner()
app = typer.Typer()
app.add_typer(sms_commands.app, name="sms")  # as segmentum.cli.app registers it


@app.callback()
def _root() -> None:
    """The root of the test CLI."""


def test_cli_count_json() -> None:
    result = runner.invoke(app, ["sms", "count", "Ahoj {světe} €", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"encoding": "ucs2", "units": 14, "segments": 1}


def test_cli_count_gsm7_option() -> None:
    result = runner.invoke(app, ["sms", "count", "--gsm7", "Ahoj světe {€}", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"encoding": "gsm7", "units": 17, "segments": 1}


def test_cli_count_table_and_empty() -> None:
    result = runner.invoke(app, ["sms", "count", "", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "field,value\nencoding,gsm7\nunits,0\nsegments,1\n"


def test_cli_help_mentions_rules() -> None:
    result = runner.invoke(app, ["sms", "count", "--help"])
    assert result.exit_code == 0
    assert "153" in result.stdout
    assert "--gsm7" in result.stdout
