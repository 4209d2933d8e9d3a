# Copyright (c) OpenMMLab. All rights reserved.
from .feature_classifiers import (KNNValLoop, LinearProbe,
                                  cross_validate_linear_probe,
                                  fit_linear_probe, knn_predict,
                                  predict_features)
from .retrieval import (VideoRetrievalDataset, VideoRetrievalMetric,
                        retrieval_recall)

__all__ = [
    'KNNValLoop', 'LinearProbe', 'VideoRetrievalDataset',
    'VideoRetrievalMetric', 'cross_validate_linear_probe', 'fit_linear_probe',
    'knn_predict', 'predict_features', 'retrieval_recall'
]
