"""torch.compile against eager PyTorch for the study's training steps: small3d, batch 8, the realistic benchmark's input
shapes (`zero`/`pool`: 2 x 88 x 80 x 40 with ROI pooling; `none`: 1 x 136 x 112 x 32), channels-last as `07_train` keeps
them. Prints, per shape, the first two steps (compilation included) and the mean of the next 10, and the ratio of the
per-step times (eager / compiled; above 1: compiled is faster), measured in one run on this machine.

Usage: python bench/train_compile.py
"""
import time, torch
from ct_mask_cls.train import build_model

def bench(model, x, y, n=10):
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    model.train()
    def step():
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x).view(-1), y)
        opt.zero_grad(); loss.backward(); opt.step()
    t0 = time.time(); step(); step(); first = time.time() - t0
    t0 = time.time()
    for _ in range(n): step()
    return first, (time.time() - t0)/n

def main():
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for shape, roi_pool in [((2, 88, 80, 40), True), ((1, 136, 112, 32), False)]:
        torch.manual_seed(0)
        x = torch.randn(8, *shape).contiguous(memory_format=torch.channels_last_3d)
        if roi_pool: x[:, -1] = (x[:, -1] > 0).float()
        y = (torch.rand(8) > 0.5).float()
        e = bench(build_model('small3d', shape[0], roi_pool=roi_pool), x, y)
        c = bench(torch.compile(build_model('small3d', shape[0], roi_pool=roi_pool)), x, y)
        print(f"{shape}: eager {e[1]:.3f} s/step (first two {e[0]:.1f} s); compiled {c[1]:.3f} s/step (first two, "
              f"compiling, {c[0]:.1f} s); eager/compiled {e[1]/c[1]:.2f}")

if __name__ == '__main__': main()
