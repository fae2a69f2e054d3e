# %% [markdown]
# # The paper CNN on MNIST-M, from Python
#
# Trains the paper's CNN (conv + batch-norm + ReLU blocks, max-pooling, dropout, dense layers, softmax)
# on a subset of MNIST-M through libdigitcnn's Python binding, then plots the training curves, the
# confusion matrix, the per-class ROC curves and some misclassified digits.
#
# This file is the notebook `paper.ipynb` in script form (`# %%` starts a cell; `make_notebook.py`
# writes the notebook from it). Settings come from the environment so both forms take them:
#
# - `DIGITCNN_DATA`: the MNIST-M directory in the official layout (default: `data/mnist_m` of the
#   repository, where `bash scripts/get-data.sh` unpacks it);
# - `DIGITCNN_OUT`: where figures and the model go (default `out/python-paper`);
# - `DIGITCNN_QUICK=1`: a check in under a minute (6,000 training and 1,000 test images, 2 epochs)
#   instead of the default 20,000 training images, the whole test set and 5 epochs.

# %%
import os
import sys
import time
from pathlib import Path


def repository_root() -> Path:
    """The libdigitcnn checkout this example sits in (found from the working directory upwards)."""
    start = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd().resolve()
    for folder in [start, *start.parents]:
        if (folder / "bindings" / "python" / "digitcnn").is_dir():
            return folder
    raise RuntimeError(f"run this from inside a libdigitcnn checkout (looked upwards from {start})")


ROOT = repository_root()
try:
    import digitcnn as dc
except ImportError:  # straight from the source tree: no install needed
    sys.path.insert(0, str(ROOT / "bindings" / "python"))
    import digitcnn as dc

import matplotlib

if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")  # a script writes files; a notebook also shows the figures inline
import matplotlib.pyplot as plt
import numpy as np

QUICK = os.environ.get("DIGITCNN_QUICK", "0") not in ("", "0")
DATA = Path(os.environ.get("DIGITCNN_DATA", ROOT / "data" / "mnist_m"))
OUT = Path(os.environ.get("DIGITCNN_OUT", ROOT / "out" / "python-paper"))
TRAIN_SIZE, TEST_SIZE, EPOCHS = (6000, 1000, 2) if QUICK else (20000, None, 5)
SEED = 1
OUT.mkdir(parents=True, exist_ok=True)
print(f"libdigitcnn {dc.version()}, data {DATA}, output {OUT}{' [quick mode]' if QUICK else ''}")


def show(figure, name: str) -> None:
    """Saves a figure under OUT and, in a notebook, shows it."""
    figure.savefig(OUT / name, dpi=110, bbox_inches="tight")
    print(f"wrote {OUT / name}")
    if "ipykernel" in sys.modules:
        plt.show()
    plt.close(figure)


# %% [markdown]
# ## Data
# A stratified-by-chance random subset of the training set (the seed makes it repeatable), 10% of it
# held out for validation, and the test set.

# %%
started = time.perf_counter()
train_all = dc.Dataset.load_mnist_m(str(DATA), train=True)
test_all = dc.Dataset.load_mnist_m(str(DATA), train=False)
rng = np.random.default_rng(SEED)
train_subset = train_all.subset(np.sort(rng.permutation(len(train_all))[:TRAIN_SIZE]))
test = test_all if TEST_SIZE is None else test_all.subset(np.sort(rng.permutation(len(test_all))[:TEST_SIZE]))
train, validation = train_subset.split(0.1, seed=SEED)
print(f"{len(train)} training, {len(validation)} validation, {len(test)} test images "
      f"(loaded in {time.perf_counter() - started:.1f} s)")

# %%
train_labels = train.labels
figure, axes = plt.subplots(2, 8, figsize=(10, 3))
for ax, index in zip(axes.flat, range(16)):
    ax.imshow(train.image(index))
    ax.set_title(str(train_labels[index]), fontsize=9)
    ax.axis("off")
figure.suptitle("MNIST-M training images (32x32 RGB) and their labels")
show(figure, "samples.png")

# %% [markdown]
# ## The model and its training
# The paper's preprocessing (28x28 grayscale, standardised) and augmentation (rotation, translation,
# zoom); Adam at 1e-3, batch 32. The bar comes from the C library's progress callback: updated in
# place within each epoch in Jupyter and on a terminal. Interrupt the kernel (Ctrl-C) to stop
# training after the current step: the model keeps those weights and `model.history` the
# completed epochs. `fit` returns a `History`: `.history` is a dict of lists as in Keras.

# %%
pipeline = dc.Pipeline(paper=True)
model = dc.Model.paper_cnn(seed=SEED)
print(model.summary())

# %%
history = model.fit(train, validation, pipeline, epochs=EPOCHS, batch_size=32, learning_rate=1e-3, seed=SEED,
                    progress=1)
print(f"{history}; {sum(history.history['seconds']):.1f} s of training")

# %%
epochs, series = history.epoch, history.history  # as Keras: a dict of lists, one value per epoch
figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 3.5))
loss_axis.plot(epochs, series["loss"], "o-", label="training")
loss_axis.plot(epochs, series["val_loss"], "o-", label="validation")
loss_axis.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
accuracy_axis.plot(epochs, series["accuracy"], "o-", label="training (augmented)")
accuracy_axis.plot(epochs, series["val_accuracy"], "o-", label="validation")
accuracy_axis.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
for ax in (loss_axis, accuracy_axis):
    ax.set_xticks(epochs)
    ax.grid(alpha=0.3)
    ax.legend()
show(figure, "training-curves.png")

# %% [markdown]
# ## Evaluation on the test images
# The library's metric accumulator: macro averages over the ten classes, and its confusion matrix
# and one-vs-rest ROC curves.

# %%
results, metrics = model.evaluate(test, pipeline, return_metrics=True)
for name, value in results.items():
    print(f"{name:>12}: {value:.4f}")
print(metrics.classification_report(digits=3))

# %%
confusion = metrics.confusion_matrix
figure, ax = plt.subplots(figsize=(5.5, 5))
image = ax.imshow(confusion, cmap="Blues")
for (true_class, predicted_class), count in np.ndenumerate(confusion):
    ax.text(predicted_class, true_class, str(count), ha="center", va="center", fontsize=7,
            color="white" if count > confusion.max() / 2 else "black")
ax.set(xlabel="predicted", ylabel="true", title=f"confusion matrix ({len(test)} test images)",
       xticks=range(10), yticks=range(10))
figure.colorbar(image, ax=ax, shrink=0.8)
show(figure, "confusion.png")

# %%
figure, ax = plt.subplots(figsize=(5.5, 5))
for digit in range(10):
    false_positive_rate, true_positive_rate = metrics.roc_curve(digit)
    area = np.trapz(true_positive_rate, false_positive_rate)
    ax.plot(false_positive_rate, true_positive_rate, label=f"{digit} (AUC {area:.3f})")
ax.plot([0, 1], [0, 1], "k:", linewidth=0.8)
ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, one class against the rest")
ax.legend(fontsize=7, loc="lower right")
show(figure, "roc.png")

# %% [markdown]
# ## Misclassified digits
# The model's outputs for every test image (preprocessed by the same pipeline, without augmentation),
# and the first misclassified ones with their true and predicted labels.

# %%
labels = test.labels
scores = np.concatenate([model.predict(model.batch(test, np.arange(start, min(start + 500, len(test)))))
                         for start in range(0, len(test), 500)])
predicted = scores.argmax(axis=1)
wrong = np.flatnonzero(predicted != labels)
print(f"{len(wrong)} of {len(test)} test images misclassified "
      f"(accuracy {1 - len(wrong) / len(test):.4f}; the metrics above say {results['accuracy']:.4f})")
assert abs((1 - len(wrong) / len(test)) - results["accuracy"]) < 1e-9, "predict and evaluate disagree"

# %%
shown = wrong[:16]
if len(shown):
    figure, axes = plt.subplots(2, 8, figsize=(10, 3.2), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, index in zip(axes.flat, shown):
        ax.imshow(test.image(int(index)))
        ax.set_title(f"{labels[index]} as {predicted[index]}\n({scores[index, predicted[index]]:.2f})", fontsize=8)
    figure.suptitle("misclassified: true as predicted (probability)")
    show(figure, "misclassified.png")

# %% [markdown]
# ## The model file
# Saved with its metadata (preprocessing, classes, training summary); loading it back gives the same
# outputs.

# %%
model.save(OUT / "paper.dcnn")
reloaded = dc.Model.load(OUT / "paper.dcnn")
first = model.batch(test, np.arange(min(64, len(test))))
assert np.array_equal(model.predict(first), reloaded.predict(first))
print(f"wrote {OUT / 'paper.dcnn'} ({(OUT / 'paper.dcnn').stat().st_size:,} bytes); reloaded outputs identical")
for key, value in reloaded.metadata.items():
    print(f"  {key}: {value}")
