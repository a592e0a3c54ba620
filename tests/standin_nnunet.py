"""TEST SCAFFOLDING, not a model: tiny stand-in nnU-Net v2 model folders for TotalSegmentator's "total" task.

`make_standin_weights(root)` writes, under `root` (used as TOTALSEG_WEIGHTS_PATH), the exact folders that
TotalSegmentator loads for `fast=True` (Dataset297, 3 mm) and for `roi_subset` (the Dataset298 6 mm crop model):

    <root>/<Dataset folder>/<trainer>__nnUNetPlans__3d_fullres/{plans.json, dataset.json, fold_0/checkpoint_final.pth}

The network is nnU-Net's own PlainConvUNet, built through nnU-Net's trainer class from these plans, with 1x1x1
convolutions whose weights are set by hand so that each voxel's label is a fixed function of its HU value:
[-950, -400) -> lung_upper_lobe_left, [20, 100) -> liver, >= 300 -> sternum, anything else -> background.
The real `totalsegmentator()` call (preprocessing, sliding window, resampling, export) runs unchanged on it, so the
output is deterministic and checkable without the real multi-GB weights.
"""
import json
from pathlib import Path
import numpy as np, torch

INTERVALS = {'lung_upper_lobe_left': (-950, -400), 'liver': (20, 100), 'sternum': (300, 3071)}   # HU, [lo, hi)
SCALE = 100.0                                                                                   # CT normalisation: u = HU / 100

def _folder(task_id: int):
    from totalsegmentator.map_tasks_config import TASK_ID_WEIGHTS_CONFIGS
    from totalsegmentator.python_api import get_task_config
    info = TASK_ID_WEIGHTS_CONFIGS[task_id]
    trainer = 'nnUNetTrainer_4000epochs_NoMirroring'          # what TotalSegmentator asks for with fast=True and for the crop model
    if task_id == 297: trainer = get_task_config('total', fast=True, quiet=True)['trainer']
    return Path(info.get('rel_path') or '')/info['foldername']/f'{trainer}__nnUNetPlans__3d_fullres', info['foldername']

def _plans(dataset_name: str, spacing: float, n_feat: int):
    return {
        'dataset_name': dataset_name, 'plans_name': 'nnUNetPlans',
        'original_median_spacing_after_transp': [spacing]*3, 'original_median_shape_after_transp': [64, 64, 64],
        'image_reader_writer': 'SimpleITKIO', 'transpose_forward': [0, 1, 2], 'transpose_backward': [0, 1, 2],
        'experiment_planner_used': 'ExperimentPlanner', 'label_manager': 'LabelManager',
        'foreground_intensity_properties_per_channel': {'0': {'max': 3071.0, 'mean': 0.0, 'median': 0.0, 'min': -1024.0,
                                                              'percentile_00_5': -1024.0, 'percentile_99_5': 3071.0, 'std': SCALE}},
        'configurations': {'3d_fullres': {
            'data_identifier': 'nnUNetPlans_3d_fullres', 'preprocessor_name': 'DefaultPreprocessor', 'batch_size': 2,
            'patch_size': [32, 32, 32], 'median_image_size_in_voxels': [64, 64, 64], 'spacing': [spacing]*3,
            'normalization_schemes': ['CTNormalization'], 'use_mask_for_norm': [False],
            'resampling_fn_data': 'resample_data_or_seg_to_shape', 'resampling_fn_seg': 'resample_data_or_seg_to_shape',
            'resampling_fn_data_kwargs': {'is_seg': False, 'order': 3, 'order_z': 0, 'force_separate_z': None},
            'resampling_fn_seg_kwargs': {'is_seg': True, 'order': 1, 'order_z': 0, 'force_separate_z': None},
            'resampling_fn_probabilities': 'resample_data_or_seg_to_shape',
            'resampling_fn_probabilities_kwargs': {'is_seg': False, 'order': 1, 'order_z': 0, 'force_separate_z': None},
            'batch_dice': False,
            'architecture': {'network_class_name': 'dynamic_network_architectures.architectures.unet.PlainConvUNet',
                             'arch_kwargs': {'n_stages': 2, 'features_per_stage': [n_feat, n_feat], 'conv_op': 'torch.nn.modules.conv.Conv3d',
                                             'kernel_sizes': [[1, 1, 1], [1, 1, 1]], 'strides': [[1, 1, 1], [2, 2, 2]],
                                             'n_conv_per_stage': [1, 1], 'n_conv_per_stage_decoder': [1], 'conv_bias': True,
                                             'norm_op': None, 'norm_op_kwargs': None, 'dropout_op': None, 'dropout_op_kwargs': None,
                                             'nonlin': 'torch.nn.ReLU', 'nonlin_kwargs': {'inplace': True}},
                             '_kw_requires_import': ['conv_op', 'norm_op', 'dropout_op', 'nonlin']}}}}

def _set_weights(net, labels: dict, thresholds: list, eps: float = 0.01, gain: float = 10.0):
    "Encoder stage 0: ReLU(u - t), ReLU(u - t - eps) per threshold; decoder passes them on; seg layer sums steps per class."
    with torch.no_grad():
        for p in net.parameters(): p.zero_()
    sd = {k: net.get_parameter(k).data for k in ('encoder.stages.0.0.convs.0.conv.weight', 'encoder.stages.0.0.convs.0.conv.bias',
          'decoder.stages.0.convs.0.conv.weight', 'decoder.stages.0.convs.0.conv.bias', 'decoder.seg_layers.0.weight', 'decoder.seg_layers.0.bias')}
    enc_w, enc_b = 'encoder.stages.0.0.convs.0.conv.weight', 'encoder.stages.0.0.convs.0.conv.bias'
    dec_w, dec_b = 'decoder.stages.0.convs.0.conv.weight', 'decoder.stages.0.convs.0.conv.bias'
    seg_w, seg_b = 'decoder.seg_layers.0.weight', 'decoder.seg_layers.0.bias'
    nf = sd[enc_w].shape[0]
    for k, t in enumerate(thresholds):
        for j, off in enumerate((0.0, eps)):
            sd[enc_w][2*k+j, 0] = 1.0; sd[enc_b][2*k+j] = -(t + off)
    for c in range(nf): sd[dec_w][c, nf + c] = 1.0          # decoder input is cat(upsampled deep path = 0, skip): pass the skip through
    sd[seg_b][:] = -gain; sd[seg_b][0] = gain/2              # background wins unless a class interval is on
    for name, (lo, hi) in INTERVALS.items():
        c = labels[name]; sd[seg_b][c] = 0.0
        for t, sign in ((lo/SCALE, 1.0), (hi/SCALE, -1.0)):
            k = thresholds.index(t)
            sd[seg_w][c, 2*k] += sign*gain/eps; sd[seg_w][c, 2*k+1] -= sign*gain/eps

def make_standin_weights(root, task_ids=(297, 298)) -> list:
    "Write stand-in model folders for `task_ids` under `root`; return their paths."
    from totalsegmentator.map_to_binary import class_map
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
    root = Path(root); out = []
    names = {k: v for k, v in class_map['total'].items()}                       # id -> name, TotalSegmentator's own
    labels = {'background': 0, **{n: i for i, n in sorted(names.items())}}
    thresholds = sorted({v/SCALE for iv in INTERVALS.values() for v in iv})
    for tid in task_ids:
        rel, ds_name = _folder(tid); d = root/rel; (d/'fold_0').mkdir(parents=True, exist_ok=True)
        plans = _plans(ds_name, 3.0 if tid == 297 else 6.0, 2*len(thresholds))
        dataset = {'channel_names': {'0': 'CT'}, 'labels': labels, 'numTraining': 1, 'file_ending': '.nii.gz',
                   'name': f'STAND-IN for tests ({ds_name}); not a trained model'}
        (d/'plans.json').write_text(json.dumps(plans, indent=1)); (d/'dataset.json').write_text(json.dumps(dataset, indent=1))
        pm = PlansManager(plans); cm = pm.get_configuration('3d_fullres')
        net = nnUNetTrainer.build_network_architecture(pm, cm, 1, pm.get_label_manager(dataset).num_segmentation_heads, enable_deep_supervision=False)
        _set_weights(net, labels, thresholds)
        torch.save({'network_weights': net.state_dict(), 'trainer_name': 'nnUNetTrainer',
                    'init_args': {'configuration': '3d_fullres', 'fold': 0, 'plans': plans, 'dataset_json': dataset},
                    'inference_allowed_mirroring_axes': None, 'stand_in': True}, d/'fold_0'/'checkpoint_final.pth')
        out.append(d)
    return out

def expected_labels(hu: np.ndarray) -> np.ndarray:
    "The label a stand-in model gives each HU value (TotalSegmentator ids)."
    from totalsegmentator.map_to_binary import class_map
    inv = {v: k for k, v in class_map['total'].items()}
    out = np.zeros(hu.shape, np.uint8)
    for name, (lo, hi) in INTERVALS.items(): out[(hu >= lo) & (hu < hi)] = inv[name]
    return out
