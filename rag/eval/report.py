"""The evaluation report as people read it: a plain-text table (tuning and test part side by side) and hit@k
curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.eval.metrics import KS
from rag.eval.questions import SPLITS
from rag.lang import LANGUAGES

ANSWER_KEYS = (
    ("key_facts", "facts"),
    ("wrong_abstention", "wrongAb"),
    ("abstention_recall", "abstR"),
    ("abstention_precision", "abstP"),
    ("quotes_per_answer", "quotes"),
    ("quotes_with_evidence", "evid"),
    ("valid_citations", "cites"),
    ("marks_right", "marks"),
)


def render_table(report: dict[str, Any]) -> str:
    """Retrieval per mode and language, answers per language, outcomes per kind: tune | test."""
    head = f"{'n':>3} {'hit@1':>6} {'hit@5':>6} {'MRR@10':>7}"
    splits = [s for s in SPLITS if s in report["retrieval"]]
    lines = [f"{'retrieval':<12} {'lang':<4} | " + " | ".join(f"{s}: {head}" for s in splits)]
    modes = list(report["retrieval"][splits[0]]) if splits else []
    for mode in modes:
        for lang in (*LANGUAGES, "all"):
            cells = []
            for split in splits:
                m = report["retrieval"][split][mode][lang]
                cells.append(f"{split}: {m['n']:>3} {m['hit@1']:>6.3f} {m['hit@5']:>6.3f} {m['mrr@10']:>7.3f}")
            lines.append(f"{mode:<12} {lang:<4} | " + " | ".join(cells))
    if "answers" in report:
        names = " ".join(f"{label:>7}" for _, label in ANSWER_KEYS)
        lines += ["", f"{'answers':<12} {'lang':<4} {'split':<5} {'n':>4} {names}"]
        for lang in (*LANGUAGES, "all"):
            for split in splits:
                m = report["answers"][split].get(lang)
                if m:
                    values = " ".join(f"{m[key]:>7.3f}" for key, _ in ANSWER_KEYS)
                    n = f"{m['answerable']}+{m['unanswerable']}"
                    lines.append(f"{'full':<12} {lang:<4} {split:<5} {n:>5} {values}")
    if "kinds" in report:
        lines += ["", f"{'kind':<12} " + " ".join(f"{s:>12}" for s in splits)]
        kinds = sorted({k for split in splits for k in report["kinds"][split]})
        for kind in kinds:
            cells = []
            for split in splits:
                row = report["kinds"][split].get(kind)
                cells.append(f"{row['right']}/{row['n']} {row['rate']:.2f}" if row else "-")
            lines.append(f"{kind:<12} " + " ".join(f"{c:>12}" for c in cells))
    return "\n".join(lines)


def plot_curves(report: dict[str, Any], path: Path, split: str = "test") -> None:
    """hit@k curves per mode on one part of the question set, one panel per language."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    retrieval = report["retrieval"].get(split) or next(iter(report["retrieval"].values()))
    panels = (*LANGUAGES, "all")
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6), sharey=True)
    for ax, lang in zip(axes, panels, strict=True):
        for mode, by_lang in retrieval.items():
            ax.plot(KS, by_lang[lang]["curve"], marker="o", markersize=3, label=mode)
        n = next(iter(retrieval.values()))[lang]["n"] if retrieval else 0
        ax.set_title(f"{lang} ({split}, n={n})")
        ax.set_xlabel("k")
        ax.set_xticks(KS)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("hit@k")
    axes[-1].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
