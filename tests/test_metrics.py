"The study's bootstrap statistics, computed all at once, against the same statistics resample by resample with scikit-learn."
import numpy as np
from sklearn.metrics import roc_auc_score
from ct_mask_cls.metrics import _boot_indices, auc_ci, paired_delta_auc, seeds_auc, seeds_delta_auc
from ct_mask_cls.study import convergence_diff, epochs_to

TOL = 1e-12                                       # the tolerance stated in 06_metrics: equal to rounding

def _cohort(seed=0, n_pat=40):
    "Scores rounded to two decimals (so tied across the classes), two cases for some patients, labels per patient."
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_pat), rng.integers(1, 3, n_pat))
    y = (rng.random(n_pat) < 0.4).astype(int)[groups]
    p = lambda s: np.round(np.clip(0.3*y + rng.normal(0.35, s, len(y)), 0, 1), 2)
    return y, groups, p

def _q(v): return np.quantile(v, 0.025), np.quantile(v, 0.975)

def _resamples(y, groups, n, seed): return [i for i in _boot_indices(groups, n, seed) if len(set(y[i])) == 2]

def test_auc_ci_and_delta_equal_the_resample_by_resample_bootstrap():
    y, g, p = _cohort()
    a, b = p(0.2), p(0.3)
    res = _resamples(y, g, 300, 7)
    ref = [roc_auc_score(y[i], a[i]) for i in res]
    got = auc_ci(y, a, g, 300, 7)
    np.testing.assert_allclose(got, (roc_auc_score(y, a), *_q(ref)), atol=TOL)
    ref_d = [roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]) for i in res]
    np.testing.assert_allclose(paired_delta_auc(y, a, b, g, 300, 7), (roc_auc_score(y, a) - roc_auc_score(y, b), *_q(ref_d)), atol=TOL)
    assert got[1] < got[0] < got[2]

def test_seed_averages_equal_the_resample_by_resample_bootstrap():
    y, g, p = _cohort(1)
    A, B = np.stack([p(0.2), p(0.25)]), np.stack([p(0.3), p(0.3)])
    res = _resamples(y, g, 200, 3)
    s = seeds_auc(y, A, g, 200, 3)
    np.testing.assert_allclose([s['auc'], s['auc_ci_low'], s['auc_ci_high']],
                               [np.mean([roc_auc_score(y, a) for a in A]), *_q([np.mean([roc_auc_score(y[i], a[i]) for a in A]) for i in res])], atol=TOL)
    d = seeds_delta_auc(y, A, B, g, 200, 3)
    ref = [np.mean([roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]) for a, b in zip(A, B)]) for i in res]
    np.testing.assert_allclose([d['delta_ci_low'], d['delta_ci_high']], _q(ref), atol=TOL)

def test_convergence_claim_equals_the_resample_by_resample_bootstrap():
    y, g, p = _cohort(2, 30)
    fast = np.stack([p(0.6 - 0.1*min(e, 4)) for e in range(10)])       # validation scores per epoch: sharp after 4 epochs
    slow = np.stack([p(0.6 - 0.05*min(e, 9)) for e in range(10)])      # after 9
    curve = lambda yy, P: [roc_auc_score(yy, q) for q in P]
    ref = [epochs_to(curve(y[i], slow[:, i])) - epochs_to(curve(y[i], fast[:, i])) for i in _resamples(y, g, 200, 0)]
    d, lo, hi = convergence_diff(y, fast, slow, g, 200, 0)
    assert d == epochs_to(curve(y, slow)) - epochs_to(curve(y, fast))
    assert (lo, hi) == _q(ref)
