"""CPU time of one Grad-CAM (and Grad-CAM++) map per case, as a ratio to one forward plus backward pass of the same model on the same input.

The model and input are the realistic study's defaults: small3d (width 8, two blocks), ROI pooling, a 80 x 80 x 40 field of view at 3 mm with
the ROI as a second channel. Medians of 7 repetitions after 2 warm-ups, one process, measured in one run. Goal: Grad-CAM at most 2x.
"""
import time, statistics, torch
from ct_mask_cls.core import TrainConfig
from ct_mask_cls.train import build_model
from ct_mask_cls.xai import explain_map

torch.manual_seed(0); t = TrainConfig()
model = build_model('small3d', 2, roi_pool=True, width=t.width, depth=t.depth, top=t.pool_top).eval()
x = torch.rand(1, 2, 80, 80, 40); x[:, 1] = 0; x[:, 1, 20:60, 20:60, 10:30] = 1

def timed(fn, n=7, warm=2):
    for _ in range(warm): fn()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts)

def fwd_bwd():
    model.zero_grad(); model(x.clone().requires_grad_(False))[0, 0].backward()

base = timed(fwd_bwd)
print(f"forward + backward: {base*1000:.0f} ms")
for m in ('gradcam', 'gradcam++'):
    tm = timed(lambda: explain_map(model, x, m))
    print(f"{m}: {tm*1000:.0f} ms per case = {tm/base:.2f}x one forward + backward (goal <= 2x)")
