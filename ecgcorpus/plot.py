"""Plots of samples for people: ECG leads on a seconds axis with answer intervals shaded, or the image."""

from __future__ import annotations

import io
import json

import numpy as np

from .corpus import ecg_to_mv


def sample_png(row: dict, dpi: int = 100, max_leads: int = 12) -> bytes:
    """A PNG of the sample's ECGs (all leads, time in s, localization intervals shaded) or of its image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if row["images"] and not row["ecgs"]:
        return row["images"][0]["bytes"]
    meta = json.loads(row.get("meta") or "{}")
    intervals = meta.get("intervals") or []
    panels = [(e, lead) for e in row["ecgs"] for lead in range(min(len(e["leads"]), max_leads))]
    fig, axes = plt.subplots(len(panels) or 1, 1, figsize=(11, 0.9 * max(len(panels), 2) + 0.6),
                             sharex=False, squeeze=False)
    for ax, (ecg, lead) in zip(axes[:, 0], panels):
        mv = ecg_to_mv(ecg)[lead]
        t = np.arange(mv.size) / ecg["fs"]
        ax.plot(t, mv, lw=0.6, color="black")
        for start, end in intervals:
            ax.axvspan(start, end, color="tab:red", alpha=0.18, lw=0)
        ax.set_ylabel(ecg["leads"][lead], rotation=0, ha="right", va="center", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xlim(0, max(t[-1], 1e-3) if t.size else 1)
        ax.grid(alpha=0.3, lw=0.4)
    axes[-1, 0].set_xlabel("time (s)", fontsize=8)
    first = row["ecgs"][0]["record_id"] if row["ecgs"] else ""
    fig.suptitle(f"{row['id']} · {row['task']} · {first}", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()
