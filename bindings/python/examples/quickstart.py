# %% [markdown]
# # libdigitcnn from Python in one minute
#
# A tour of the binding on synthetic digits-like images (no download): a `Dataset` from NumPy
# arrays, a model, `fit` with its live progress bar and the Keras-like `History` it returns, the
# per-class metrics and a classification report, prediction on raw pixels, and the Python
# exceptions a mistake raises. The MNIST-M version is `paper.ipynb`.
#
# This file is the notebook `quickstart.ipynb` in script form (`make_notebook.py` writes the
# notebook from it; CTest runs the notebook with `jupyter nbconvert --execute`).

# %%
import sys
from pathlib import Path

try:
    import digitcnn as dc
except ImportError:  # straight from the source tree: no install needed
    start = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd().resolve()
    sys.path.insert(0, str(next(f for f in [start, *start.parents] if (f / "digitcnn").is_dir())))
    import digitcnn as dc
import numpy as np

print("libdigitcnn", dc.version())

# %% [markdown]
# ## Data
# 28x28 gray images of two classes: a bright left half (class 1) or a bright right half (class 0).
# A `Dataset` is a sequence of `(image, label)` pairs.

# %%
rng = np.random.default_rng(7)
labels = np.arange(96) % 2
images = rng.integers(0, 60, size=(96, 28, 28), dtype=np.uint8)
images[labels == 1, :, :14] += 180
images[labels == 0, :, 14:] += 180
data = dc.Dataset.from_numpy(images, labels)
train, validation = data.split(0.25, seed=1)
image, label = train[0]
print(data, "|", train, "|", validation)
print("first training sample:", image.shape, image.dtype, "label", label, "| labels", train.labels[:8])

# %% [markdown]
# ## Training
# The bar is updated in place within each epoch; interrupting the kernel stops `fit` after the
# current step. `fit` returns a `History`: `.history` is a dict of lists as in Keras.

# %%
model = dc.Model.lenet5(classes=2, seed=1)
print(model)
history = model.fit(train, validation, model.pipeline(), epochs=3, batch_size=16, augment=False)

# %%
print(history)
for name, values in history.history.items():
    print(f"{name:>14}: " + "  ".join(f"{v:.4g}" for v in values))
print("best epoch:", history.best_epoch)

# %% [markdown]
# ## Evaluation
# Per-class metrics are NumPy arrays; the report has scikit-learn's layout.

# %%
results, metrics = model.evaluate(validation, return_metrics=True)
print(metrics)
print("recall per class:", metrics.recall)
print("confusion matrix:\n", metrics.confusion_matrix)
print(metrics.classification_report(target_names=["right", "left"]))

# %% [markdown]
# ## Prediction on raw pixels and errors
# `predict` takes uint8 images of any size and applies the model's preprocessing. Mistakes raise
# the usual Python exceptions, with the library's message.

# %%
probabilities = model.predict(images[:4, :, :, None])  # (N, H, W, C) uint8
print("predicted", probabilities.argmax(axis=1), "true", labels[:4])
for mistake in (lambda: dc.Model.load("missing.dcnn"), lambda: model.fit(train, lr=0.01),
                lambda: train[len(train)]):
    try:
        mistake()
    except (FileNotFoundError, TypeError, IndexError) as error:
        print(f"{type(error).__name__}: {error}")
