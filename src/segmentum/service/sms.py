"""SMS length use cases: how a text will be encoded and billed."""

from __future__ import annotations

from dataclasses import dataclass

from segmentum.campaigns.sms import SmsCount, count_sms, to_gsm7


@dataclass(frozen=True)
class SmsCountResult:
    text: str
    count: SmsCount

    def as_dict(self) -> dict[str, object]:
        """Exactly the keys `segmentum sms count --format json` prints."""
        return {
            "encoding": self.count.encoding,
            "units": self.count.units,
            "segments": self.count.segments,
        }


def count_text(text: str, transliterate: bool = False) -> SmsCountResult:
    """Count one SMS; with `transliterate`, count the text after `to_gsm7` (which is returned)."""
    counted = to_gsm7(text) if transliterate else text
    return SmsCountResult(counted, count_sms(counted))
