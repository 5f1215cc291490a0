"""A container's output cut into lines, each marked with its stream, from the chunks the
engine sends (a chunk may end mid-line or mid-character)."""

from __future__ import annotations

import codecs

from pydantic import BaseModel

STREAMS = {1: "stdout", 2: "stderr"}  # the engine's stream numbers (0 is stdin)


class LogLine(BaseModel):
    stream: str
    line: str


class LineCutter:
    """Keeps each stream's unfinished line until its end comes."""

    def __init__(self) -> None:
        self._rest: dict[str, str] = {}
        self._decoders: dict[str, codecs.IncrementalDecoder] = {}

    def feed(self, stream_number: int, chunk: bytes) -> list[LogLine]:
        stream = STREAMS.get(stream_number, "stdout")
        decoder = self._decoders.setdefault(
            stream, codecs.getincrementaldecoder("utf-8")("replace")
        )
        text = self._rest.pop(stream, "") + decoder.decode(chunk)
        *lines, rest = text.split("\n")
        if rest:
            self._rest[stream] = rest
        return [LogLine(stream=stream, line=line.removesuffix("\r")) for line in lines]

    def flush(self) -> list[LogLine]:
        """The unfinished lines, once the output has ended."""
        rest, self._rest = self._rest, {}
        return [LogLine(stream=stream, line=line) for stream, line in rest.items()]
