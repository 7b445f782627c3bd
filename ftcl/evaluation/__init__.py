"""From a trained model to the paper's numbers.

- :mod:`~ftcl.evaluation.predict`: the one eval-mode forward loop (:func:`eval_batches`), the
  model's outputs on a split (:func:`predict`) and their scores (:func:`evaluate_model`);
- :mod:`~ftcl.evaluation.localize`: CAS and attention -> proposals -> class-wise NMS (Sec. 3.4);
- :mod:`~ftcl.evaluation.metrics`: ActivityNet-protocol detection mAP (Eq. 9) and video
  classification mAP.
"""

from .localize import ACTIVITYNET_INFERENCE, THUMOS14_INFERENCE, InferenceConfig, localize
from .metrics import average_map, classification_map, detection_map
from .predict import Predictions, eval_batches, evaluate_model, predict, score_predictions

__all__ = ["ACTIVITYNET_INFERENCE", "THUMOS14_INFERENCE", "InferenceConfig", "Predictions",
           "average_map", "classification_map", "detection_map", "eval_batches",
           "evaluate_model", "localize", "predict", "score_predictions"]
