"""libdigitcnn from Python: a thin ctypes binding over the C library.

    import digitcnn as dc
    train = dc.Dataset.load_mnist_m("data/mnist_m", train=True)
    model = dc.Model.paper_cnn()
    model.fit(train, epochs=1)
    print(model.evaluate(dc.Dataset.load_mnist_m("data/mnist_m", train=False)))

Errors raise :class:`DigitcnnError` with the library's message and status; where a
built-in exception means the same, the error is also that one (a missing file is a
``FileNotFoundError``, a refused argument a ``ValueError``). NumPy is needed for
tensors, datasets from arrays and metrics; ``import digitcnn`` works without it.
"""
from ._errors import (DigitcnnError, DigitcnnFileNotFoundError, DigitcnnIsADirectoryError, DigitcnnMemoryError,
                      DigitcnnNotADirectoryError, DigitcnnOSError, DigitcnnPermissionError, DigitcnnValueError)
from ._lib import version
from .history import History
from .data import Dataset, Pipeline
from .metrics import Metrics
from .data import read_png
from .model import Model, Profile, Session, evaluate_ensemble, gemm_gflops, top_k
from .recipes import recipe, recipe_ensembles, recipe_names, recipe_pipeline, recipe_settings
from .robustness import (PERTURBATIONS, attack, attack_settings, evaluate_attacked, evaluate_perturbed, perturb,
                         perturbation_levels, perturbation_unit)
from .tensor import Tensor

__all__ = ["DigitcnnError", "DigitcnnFileNotFoundError", "DigitcnnIsADirectoryError", "DigitcnnMemoryError",
           "DigitcnnNotADirectoryError", "DigitcnnOSError", "DigitcnnPermissionError", "DigitcnnValueError", "History", "Dataset", "Metrics", "Model", "PERTURBATIONS", "Pipeline", "Profile", "Session", "Tensor",
           "attack", "attack_settings", "evaluate_attacked", "evaluate_ensemble", "evaluate_perturbed", "gemm_gflops", "perturb",
           "perturbation_levels", "perturbation_unit", "read_png", "recipe", "recipe_ensembles", "recipe_names", "recipe_pipeline",
           "recipe_settings", "top_k", "version"]
__version__ = "0.2.0"
