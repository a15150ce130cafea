"""Does the semantic heads' fit gain from vectors closer to fp32? Calibrates base's heads
(a dry run, no file written) on the moderation set with the encoder at each precision and
prints the training split's out-of-fold F1, the figure fits are chosen by, with the
held-out F1 beside it for the record only.

Asked by the ONNX Runtime trial (bench/onnx_encoder.py): its int8 vectors are closer to
fp32 than torch's (cosine min 0.987 against 0.966) at the same speed, so the question was
whether fp32-like vectors would lift the judgement figures. Each precision takes 5 to 7
minutes on 2 cores.

    .venv/bin/python bench/encoder_precision.py [int8 fp32]
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Literal, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from supervisor.constitution import load_constitution  # noqa: E402
from supervisor.detectors.embedding import shared_encoder  # noqa: E402
from supervisor.detectors.semantic.detector import SemanticDetector  # noqa: E402
from supervisor.evaluation.calibrate import calibrate  # noqa: E402
from supervisor.evaluation.datasets import load_dataset  # noqa: E402


def main() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    precisions = sys.argv[1:] or ["int8", "fp32"]
    base = load_constitution("base")
    data = [load_dataset("openai-moderation", base, root=None)]
    figures = {}
    for precision in precisions:
        encoder = shared_encoder(cast(Literal["int8", "fp32"], precision))
        began = time.monotonic()
        result = calibrate(base, data, detector=SemanticDetector(encoder).bind(base),
                           write=False)
        figures[precision] = {
            "cv_any": round(result.cv_any, 4),
            "cv_sets": {name: round(f1, 4) for name, f1 in result.cv_sets.items()},
            "cv_per_principle": {f.principle: round(f.cv_f1, 4) for f in result.fits},
            "holdout_f1_for_the_record": {name: round(c.f1, 4)
                                          for name, c in result.holdout_any.items()},
            "seconds": round(time.monotonic() - began)}
        print(precision, json.dumps(figures[precision]), flush=True)
    out = ROOT / "bench" / "results" / "encoder_precision.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"saved {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
