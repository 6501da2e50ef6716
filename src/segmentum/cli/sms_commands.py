"""`segmentum sms`: SMS encoding and segment counting.

The use cases are imported inside the commands, so that `--help` starts fast.
"""

from __future__ import annotations

import typer

from segmentum.cli.options import FormatOption
from segmentum.cli.output import OutputFormat, emit_document, err_console

app = typer.Typer(help="SMS encoding and segments (3GPP TS 23.038).", no_args_is_help=True)


@app.command("count")
def count(
    text: str = typer.Argument(..., help="The message text (quote it; '-' reads stdin)."),
    gsm7: bool = typer.Option(
        False,
        "--gsm7",
        help="Count after replacing smart quotes, diacritics and Cyrillic by GSM-7 "
        "(the rewritten text goes to stderr).",
    ),
    output: OutputFormat = FormatOption,
) -> None:
    """Encoding (gsm7 or ucs2), units and segments of one SMS.

    GSM-7 when every character is in the GSM 7-bit alphabet; ^ { } \\ [ ~ ] | € count 2 units.

    Anything else makes the whole text UCS-2, where an emoji counts 2 units.

    One segment holds 160 (GSM-7) or 70 (UCS-2) units; longer texts go in parts of 153 or 67.
    The empty text counts as 1 segment.
    """
    from segmentum.service import sms

    if text == "-":
        text = typer.get_text_stream("stdin").read().removesuffix("\n")
    result = sms.count_text(text, transliterate=gsm7)
    if gsm7:
        err_console.print(result.text, markup=False, highlight=False)
    emit_document(result.as_dict(), output)
