"""Issue #19: the named recipes, the colour augmentation options, standardisation fitted on a
training split, and the trainer's mixup / cutmix / weight-average options through Python."""
import unittest

import numpy as np

import digitcnn as dc


def colour_set(n=24):
    rng = np.random.RandomState(4)
    return dc.Dataset.from_numpy(rng.randint(0, 256, (n, 32, 32, 3)).astype(np.uint8), np.arange(n) % 10, classes=10)


class RecipeTest(unittest.TestCase):
    def test_table_names_and_values(self):
        names = dc.recipe_names()
        self.assertIn("best", names)
        self.assertIn("paper", names)
        paper = dc.recipe("paper")
        self.assertEqual(paper["epochs"], 10)
        self.assertEqual(paper["schedule"], "constant")
        self.assertAlmostEqual(paper["lr"], 0.001)
        tweaked = dc.recipe("best", "ema=0 epochs=3")
        self.assertEqual(tweaked["ema"], 0)
        self.assertEqual(tweaked["epochs"], 3)
        with self.assertRaises(KeyError):
            dc.recipe("bogus")
        with self.assertRaises(dc.DigitcnnError):
            dc.recipe("best", "lr=fast")

    def test_recipe_pipeline_standardises_on_the_training_split(self):
        train = colour_set()
        pipe = dc.recipe_pipeline("paper", train, "rgb=1 size=32 standardize=1 invert=0.5 shift=2")
        self.assertIn("standardize=3", pipe.describe())
        self.assertEqual(pipe["invert"], 0.5)
        self.assertEqual(pipe["shift"], 2)
        means, stds = dc.Pipeline(height=32, width=32).fit_standardization(train)
        self.assertEqual(len(means), 3)
        self.assertTrue(all(0.3 < m < 0.7 for m in means) and all(s > 0 for s in stds))

    def test_fit_takes_the_recipe_trainer_options(self):
        train = colour_set()
        model = dc.Model.paper_cnn(32, 32, 3, width_multiplier=0.5, extra_blocks=1)
        pipe = dc.recipe_pipeline("paper", train, "rgb=1 size=32 channel_shuffle=0.5")
        history = model.fit(train, pipeline=pipe, epochs=1, batch_size=8, progress=0, max_steps=2, mixup=0.2,
                            cutmix=1.0, ema_decay=0.9, label_smoothing=0.1)
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        with self.assertRaises(dc.DigitcnnError):
            model.fit(train, pipeline=pipe, epochs=1, progress=0, ema_decay=1.0)


if __name__ == "__main__":
    unittest.main()
