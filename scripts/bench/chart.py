"""docs/benchmarks.png: throughput (bars) and p99 latency per cell, grouped by concurrency.

Uses matplotlib when importable (run.sh installs it into build/bench-venv when PyPI is
reachable); otherwise writes an unlabelled bar chart with the standard library only (same bar
order as the table in docs/benchmarks.md).
"""

import struct
import zlib

COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
          "#ff9da7", "#9c755f", "#bab0ac"]


def _series(data):
    concs = sorted({x["concurrency"] for x in data["cells"]})
    pairs = []
    for x in data["cells"]:
        key = (x["client_label"], x["server_label"])
        if key not in pairs:
            pairs.append(key)
    return concs, pairs


def _find(data, pair, c):
    for x in data["cells"]:
        if (x["client_label"], x["server_label"]) == pair and x["concurrency"] == c:
            return x
    return None


def draw(data, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        _draw_plain(data, path)
        return
    concs, pairs = _series(data)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
    width = 0.8 / max(len(pairs), 1)
    for metric, ax, title, unit in (("rps", axes[0], "Throughput", "requests/s"),
                                    ("p99_ms", axes[1], "p99 latency", "ms (lower is better)")):
        for i, pair in enumerate(pairs):
            xs, ys = [], []
            for j, c in enumerate(concs):
                cell = _find(data, pair, c)
                if cell:
                    xs.append(j + (i - (len(pairs) - 1) / 2) * width)
                    ys.append(cell[metric])
            bars = ax.bar(xs, ys, width, label=f"{pair[0]} → {pair[1]}",
                          color=COLORS[i % len(COLORS)])
            if metric == "rps":
                ax.bar_label(bars, labels=[f"{y / 1000:.0f}k" for y in ys], fontsize=7)
            else:
                ax.bar_label(bars, labels=[f"{y:.1f}" for y in ys], fontsize=7)
        ax.set_xticks(range(len(concs)), [f"c = {c}" for c in concs])
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left")
    m = data["machine"]
    fig.suptitle(f"rpcx Hello.Say, pool {data['pool']}, {data['duration_s']:g} s per cell — "
                 f"{m['nproc']} shared cores ({m['cpu_model']}), client and server on one machine, "
                 f"{m['date_utc']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _draw_plain(data, path):
    concs, pairs = _series(data)
    w, h, pad = 1000, 420, 30
    img = [[(255, 255, 255)] * w for _ in range(h)]
    panel_w = (w - 3 * pad) // 2
    for p, metric in enumerate(("rps", "p99_ms")):
        x0 = pad + p * (panel_w + pad)
        vals = [c[metric] for c in data["cells"] if c[metric]]
        top = max(vals) if vals else 1
        group_w = panel_w / max(len(concs), 1)
        bar_w = max(int(group_w * 0.8 / max(len(pairs), 1)), 1)
        for j, c in enumerate(concs):
            for i, pair in enumerate(pairs):
                cell = _find(data, pair, c)
                if not cell:
                    continue
                bh = int((h - 2 * pad) * cell[metric] / top)
                bx = int(x0 + j * group_w + group_w * 0.1 + i * bar_w)
                col = tuple(int(COLORS[i % len(COLORS)][k:k + 2], 16) for k in (1, 3, 5))
                for y in range(h - pad - bh, h - pad):
                    for x in range(bx, min(bx + bar_w - 1, w)):
                        img[y][x] = col
        for x in range(x0, x0 + panel_w):
            img[h - pad][x] = (0, 0, 0)
    raw = b"".join(b"\x00" + bytes(v for px in row for v in px) for row in img)

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)
