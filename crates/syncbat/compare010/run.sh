#!/usr/bin/env bash
# Runs the runtime bench of this workspace's syncbat and of the published
# syncbat 0.10 back to back, then prints mean time per call and the ratio
# (0.10 / ours: above 1 means ours is faster).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
ours="${CARGO_TARGET_DIR:-target}"
theirs="${ours}-compare010"
cargo bench -p syncbat --bench runtime
CARGO_TARGET_DIR="$theirs" cargo bench --manifest-path crates/syncbat/compare010/Cargo.toml
python3 - "$ours" "$theirs" <<'PY'
import json, sys
ours, theirs = sys.argv[1:3]
print(f"\n{'runtime bench (mean per call)':<40} {'ours':>12} {'0.10':>12} {'0.10/ours':>10}")
for name in ["noop_without_receipts", "noop_blake3_memory_sink", "bank_deposit_store_sink_osbuffered"]:
    def mean(root):
        with open(f"{root}/criterion/runtime/{name}/new/estimates.json") as f:
            return json.load(f)["mean"]["point_estimate"]
    a, b = mean(ours), mean(theirs)
    print(f"{name:<40} {a:>10.0f}ns {b:>10.0f}ns {b / a:>10.2f}")
PY
