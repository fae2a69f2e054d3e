"""Handles that depend on a model (sessions, profiles) and one model used from several threads:
closing the model first, or calling it from two threads at once, must never reach freed or
shared C state (session.h: sessions before their model; model.h: one thread at a time)."""
import threading
import unittest

import numpy as np

import digitcnn as dc


class SessionLifetimeTest(unittest.TestCase):
    def test_closing_the_model_closes_its_sessions_first(self):
        x = np.random.default_rng(1).random((2, 1, 28, 28), dtype=np.float32)
        model = dc.Model.lenet5()
        session, closed_before = dc.Session(model, 2), dc.Session(model, 2)
        closed_before.close()
        dc.Session(model, 2)  # dropped at once: collected, not closed twice
        model.close()  # would leave the session dangling (a use-after-free at its close)
        self.assertEqual(repr(session), "<Session: closed>")
        with self.assertRaisesRegex(ValueError, "Session is closed"):
            session.predict(x)
        session.close()  # safe twice
        with dc.Model.lenet5() as model:
            session = dc.Session(model, 2)
            np.testing.assert_array_equal(session.predict(x), model.predict(x))
        self.assertEqual(repr(session), "<Session: closed>")
        with self.assertRaisesRegex(ValueError, "Model is closed"):
            dc.Session(model, 2)


class ProfileLifetimeTest(unittest.TestCase):
    x = np.zeros((1, 1, 28, 28), np.float32)

    def inference_rows(self, profile):
        return [r for r in profile.entries() if r["pass"] == "inference"]

    def test_a_profile_of_a_closed_model_refuses_use(self):
        model = dc.Model.lenet5()
        with model.profile() as profile:
            model.predict(self.x)
        self.assertTrue(self.inference_rows(profile))
        model.close()  # the profile reads the model's layers: it is closed with it
        self.assertEqual(repr(profile), "<Profile: closed>")
        for use in (profile.entries, profile.reset, profile.format):
            with self.subTest(use=use.__name__), self.assertRaisesRegex(ValueError, "is closed"):
                use()
        profile.close()

    def test_a_profile_closed_inside_its_block_is_detached_first(self):
        model = dc.Model.lenet5()
        with model.profile() as profile:
            profile.close()
            # A profile made now gets the freed one's memory back from malloc: were the model still
            # writing into the closed profile, this one would show the prediction.
            other = dc.Profile(model)
            model.predict(self.x)
        self.assertEqual(self.inference_rows(other), [])
        with model.profile() as profile:  # a new block attaches as before
            model.predict(self.x)
        rows = self.inference_rows(profile)
        self.assertTrue(rows and all(r["calls"] == 1 for r in rows), rows)

    def test_closing_the_model_inside_the_block_keeps_the_real_error(self):
        model = dc.Model.lenet5()
        with self.assertRaisesRegex(KeyError, "the real error"):
            with model.profile():
                model.close()
                raise KeyError("the real error")
        model = dc.Model.lenet5()
        with model.profile() as profile:
            model.close()  # no error at the end of the block either
        self.assertEqual(repr(profile), "<Profile: closed>")


class ThreadsTest(unittest.TestCase):
    def test_threads_predicting_on_one_model_get_the_single_threaded_results(self):
        """ctypes lets go of the GIL during a call, and a C model is one thread at a time (it plans
        its buffers for the largest batch seen): the binding serialises calls on one model."""
        model = dc.Model.lenet5(seed=2)
        rng = np.random.default_rng(3)
        batches = [rng.random((n, 1, 28, 28), dtype=np.float32) for n in (1, 96, 7, 64, 2, 33)]
        images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((28, 28), (40, 31), (17, 60))]
        expected = [model.predict(x) for x in batches]
        expected_images = model.predict(images)
        failures = []

        def work(t):
            for k in range(40):
                i = (k + t) % len(batches)
                if not np.array_equal(model.predict(batches[i]), expected[i]):
                    failures.append((t, k, "batch", i))
                if k % 8 == t and not np.array_equal(model.predict(images), expected_images):
                    failures.append((t, k, "images"))

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(failures, [])

    def test_a_repr_does_not_wait_for_a_call_in_another_thread(self):
        model = dc.Model.lenet5()
        busy, done = threading.Event(), threading.Event()

        def hold():  # stands for a long fit
            with model._lock:
                busy.set()
                done.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        busy.wait(10)
        try:
            self.assertEqual(repr(model), "<Model: in use by another thread>")
        finally:
            done.set()
            holder.join()
        self.assertIn("13 layers", repr(model))


if __name__ == "__main__":
    unittest.main()
