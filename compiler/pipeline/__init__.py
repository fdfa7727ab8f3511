"""adjoin.pipeline: steps from adjoin, PyTorch and scikit-learn, trained end to end.

    from adjoin import pipeline as pl

    pipe = pl.Pipeline([
        ("features", pl.TorchModule(cnn)),
        ("pca", pl.SklearnTransform(PCA(8).fit(f), trainable=True)),
        ("regress", pl.Function(blr_mean, params, log_likelihood=blr_ll, log_prior=prior)),
    ])
    history = pipe.fit(x, y, steps=300, lr=1e-2)

Every step follows one primitive interface (`Primitive`: produce / sample, log_likelihood,
backprop, set_training_data, fit, parameters / gradients). `Pipeline.fit` minimises the
negated end-to-end log-likelihood plus the local training terms and log priors with a
torch.optim optimizer, optionally data-parallel over torch.distributed. Importing this
module imports torch; `SklearnTransform` needs scikit-learn at construction.
"""
from ..errors import PipelineError
from .function import Function
from .graph import Pipeline
from .ppca import ProbabilisticPCA
from .primitive import Primitive
from .sklearn_transform import SklearnTransform
from .torch_module import TorchModule

__all__ = ["Primitive", "Function", "TorchModule", "SklearnTransform", "ProbabilisticPCA",
           "Pipeline", "PipelineError"]
