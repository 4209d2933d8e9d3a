# Copyright (c) OpenMMLab. All rights reserved.
from .feature_classifiers import LinearProbe, fit_linear_probe, knn_predict
from .knn_val_loop import KNNValLoop

__all__ = ['KNNValLoop', 'LinearProbe', 'fit_linear_probe', 'knn_predict']
