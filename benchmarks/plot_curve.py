"""Draw learning curves (issue 40) from the JSON that compare_architectures.py --curve writes.

    python benchmarks/plot_curve.py benchmarks/results/webnlg_curve_pointer.json [more.json ...] \
        --output docs/img/webnlg_curve.png

Two panels: dev and test F1 (exact; and last-word where the set is WebNLG*) against training
minutes and against steps, one line per curve file, the model-best point (highest dev) marked
(a star against minutes, its test F1 written against steps).
Needs matplotlib (the graph extra installs it; else pip install matplotlib).
"""
import argparse
import json
from pathlib import Path


def best_point(curve):
    """The evaluation dev picks (the highest dev F1, the earliest on ties): what model-best is."""
    return max(curve, key=lambda p: (p["dev"]["triples_f"], -p["step"])) if curve else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("curves", nargs="+")
    parser.add_argument("--output", default="docs/img/webnlg_curve.png")
    parser.add_argument("--metric", default="triples_f", help="triples_f (exact), triples_strict_f or triples_last_word_f")
    parser.add_argument("--labels", nargs="+", help="one legend label per curve file (default: dataset, config, seed)")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if args.labels and len(args.labels) != len(args.curves):
        parser.error(f"--labels: give one per curve file ({len(args.curves)}), got {len(args.labels)}")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for n, path in enumerate(args.curves):
        data = json.loads(Path(path).read_text())
        curve = data["learning_curve"]
        label = args.labels[n] if args.labels else f"{data['dataset']} {data['config'].split(' ')[0]} seed {data.get('seed')}"
        for ax, x in zip(axes, ("minutes", "step")):
            xs = [p[x] for p in curve]
            # one colour per curve file (dev dashed, test solid), so ten files never share one
            color = f"C{n % 10}"
            ax.plot(xs, [p["dev"][args.metric] for p in curve], "--", color=color, label=f"{label}: dev")
            ax.plot(xs, [p["test"][args.metric] for p in curve], "-o", ms=3, color=color, label=f"{label}: test")
            best = best_point(curve)
            if best and x == "minutes":  # a star only: the step panel carries the labels (text from
                # curves of different lengths would cross here)
                ax.plot([best[x]], [best["test"][args.metric]], "*", ms=12, color=ax.lines[-1].get_color())
            elif best:  # each curve's label a line lower, so the labels of nearby points do not overlap
                ax.annotate(f"model-best: test {best['test'][args.metric]}", (best[x], best["test"][args.metric]),
                            textcoords="offset points", xytext=(-60, -25 - 16 * n), arrowprops={"arrowstyle": "->"})
    axes[0].set_xlabel("training minutes (2 CPU cores, dev and test scoring included)")
    axes[1].set_xlabel("optimizer steps")
    axes[0].set_ylabel(f"{args.metric} (%)")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
