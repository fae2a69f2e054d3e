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
        self.assertEqual(paper["optimizer"], "adam")
        sgd = dc.recipe("best", "optimizer=sgd momentum=0.5")
        self.assertEqual(sgd["optimizer"], "sgd")
        self.assertAlmostEqual(sgd["momentum"], 0.5)
        self.assertIsInstance(dc.recipe("best", "momentum=0")["momentum"], float)
        with self.assertRaises(KeyError):
            dc.recipe("bogus")
        with self.assertRaises(dc.DigitcnnError):
            dc.recipe("best", "lr=fast")

    def test_extra_none_means_no_extra_words(self):
        """from_recipe(extra=None) sent "None" to the recipe parser, recipe(name, None) and
        recipe_pipeline(name, None, None) failed concatenating; fit_recipe took None."""
        self.assertEqual(dc.Model.from_recipe("paper", extra=None).summary(), dc.Model.from_recipe("paper").summary())
        self.assertEqual(dc.recipe("paper", None), dc.recipe("paper"))
        self.assertEqual(dc.recipe_pipeline("paper", None, None).describe(), dc.recipe_pipeline("paper").describe())
        for call in (lambda: dc.Model.from_recipe("paper", extra=5), lambda: dc.recipe("paper", b"ema=0")):
            with self.assertRaisesRegex(TypeError, "extra must be a str of key=value words, or None"):
                call()

    def test_ensembles_list_their_member_recipes(self):
        ensembles = dc.recipe_ensembles()
        self.assertEqual(ensembles["best-and-rgb-cosine"], ["best", "rgb-cosine"])
        for name, members in ensembles.items():
            self.assertNotIn(name, dc.recipe_names())
            for member in members:
                self.assertIn(member, dc.recipe_names())

    def test_recipe_pipeline_standardises_on_the_training_split(self):
        train = colour_set()
        pipe = dc.recipe_pipeline("paper", train, "rgb=1 size=32 standardize=1 invert=0.5 shift=2")
        self.assertIn("standardize=3", pipe.describe())
        self.assertEqual(pipe["invert"], 0.5)
        self.assertEqual(pipe["shift"], 2)
        means, stds = dc.Pipeline(height=32, width=32).fit_standardization(train)
        self.assertEqual(len(means), 3)
        self.assertTrue(all(0.3 < m < 0.7 for m in means) and all(s > 0 for s in stds))

    def test_extra_stages(self):
        two = dc.Model.paper_cnn(32, 32, 3)
        three = dc.Model.paper_cnn(32, 32, 3, extra_stages=1)
        self.assertNotIn("(None, 128, 8, 8)", two.summary())
        self.assertIn("(None, 128, 8, 8)", three.summary())  # the third stage's convs
        self.assertIn("(None, 2048)", three.summary())  # flattened 128 x 4 x 4
        self.assertIn("(None, 128, 8, 8)", dc.Model.from_recipe("best", extra="extra_stages=1 extra_blocks=0").summary())
        with self.assertRaises(ValueError):
            dc.Model.paper_cnn(32, 32, 3, extra_stages=3)
        with self.assertRaises(dc.DigitcnnError):
            dc.Model.paper_cnn(24, 24, 3, extra_stages=2)  # 24 does not halve 4 times

    def test_fit_takes_the_recipe_trainer_options(self):
        train = colour_set()
        model = dc.Model.paper_cnn(32, 32, 3, width_multiplier=0.5, extra_blocks=1)
        pipe = dc.recipe_pipeline("paper", train,
                                  "rgb=1 size=32 channel_shuffle=0.5 background_swap=0.5 digit_elastic=0.5 elastic_alpha=20 "
                                  "cutout=0.5 cutout_size=8")
        self.assertEqual(pipe["background_swap"], 0.5)
        self.assertEqual(pipe["digit_elastic"], 0.5)
        self.assertEqual(pipe["elastic_alpha"], 20)
        self.assertEqual(pipe["elastic_sigma"], 4)
        self.assertEqual(pipe["cutout"], 0.5)
        self.assertEqual(pipe["cutout_size"], 8)
        with self.assertRaises(dc.DigitcnnError):
            dc.Pipeline(background_swap=2)
        with self.assertRaises(dc.DigitcnnError):
            dc.Pipeline(elastic_sigma=0)
        with self.assertRaises(dc.DigitcnnError):
            dc.Pipeline(cutout_size=0)
        history = model.fit(train, pipeline=pipe, epochs=1, batch_size=8, progress=0, max_steps=2, mixup=0.2,
                            cutmix=1.0, ema_decay=0.9, label_smoothing=0.1)
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        with self.assertRaises(dc.DigitcnnError):
            model.fit(train, pipeline=pipe, epochs=1, progress=0, ema_decay=1.0)

    def test_a_recipe_runs_end_to_end(self):
        """from_recipe builds the recipe's net, fit_recipe trains it as digitcnn-paper --recipe
        does (its pipeline, optimizer, schedule and trainer options), evaluate(tta=) as the example
        evaluates."""
        train = colour_set(32)
        # standardize and cutmix on top of best, to see that both reach the fit
        extra = "width_multiplier=0.5 epochs=1 batch=8 standardize=1 cutmix=1"
        model = dc.Model.from_recipe("best", extra=extra, seed=2)
        self.assertEqual(tuple(model.input_shape), (3, 32, 32))  # best: rgb=1 size=32
        history = model.fit_recipe("best", train, train, extra=extra, progress=0, max_steps=2)
        self.assertEqual(len(history), 1)
        self.assertEqual(history.params["recipe"], "best")
        self.assertEqual(history.params["batch"], 8)
        self.assertEqual(history.params["cutmix"], 1)
        self.assertEqual(history.params["max_steps"], 2)
        self.assertTrue(np.isfinite(history.history["loss"][0]))
        self.assertIn("mean0=", model.pipeline().describe())  # the fit recorded the standardisation
        plain = model.evaluate(train)
        self.assertEqual(model.evaluate(train, tta=1), plain)
        shifted = model.evaluate(train, tta=5, tta_pixels=2)
        self.assertTrue(0.0 <= shifted["accuracy"] <= 1.0)
        self.assertNotEqual(shifted["loss"], plain["loss"])  # the averaged outputs differ
        with self.assertRaises(dc.DigitcnnError):
            model.evaluate(train, tta=4)
        with self.assertRaises(TypeError):  # epochs go through extra: the schedule spans them
            model.fit_recipe("best", train, epochs=2, progress=0)
        with self.assertRaises(KeyError):
            dc.Model.from_recipe("bogus")


if __name__ == "__main__":
    unittest.main()
