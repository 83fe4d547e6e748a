"""Sample: one training example, as builders produce it and the writer stores it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from .types import ECG, RecordRef

ECG_TOKEN = "<ecg>"
IMAGE_TOKEN = "<image>"


@dataclass
class Segment:
    """One attached ECG: the (profiled) signal and where it comes from."""

    ref: RecordRef
    ecg: ECG
    start: int          # offset of the first sample, in native samples of the record
    native_stop: int    # end (exclusive), in native samples


@dataclass
class Sample:
    task: str
    conversations: list[dict[str, str]]            # [{"from": "human"|"gpt", "value": …}]
    segments: list[Segment] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)   # {"bytes": …, "path": …}
    meta: dict[str, Any] = field(default_factory=dict)
    split: str = "train"

    def content_id(self, config: str) -> str:
        """A content hash: same conversation on the same signal span → same id."""
        key = {
            "config": config,
            "task": self.task,
            "conversations": self.conversations,
            "ecgs": [[s.ref.record_id, s.start, s.native_stop, list(s.ecg.leads), s.ecg.fs] for s in self.segments],
            "images": [hashlib.sha256(img["bytes"]).hexdigest() for img in self.images],
        }
        blob = json.dumps(key, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:24]
