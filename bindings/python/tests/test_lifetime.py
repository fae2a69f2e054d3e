"""Handles that depend on a model (sessions, profiles) and one model used from several threads:
closing the model first, or calling it from two threads at once, must never reach freed or
shared C state (session.h: sessions before their model; model.h: one thread at a time)."""
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


if __name__ == "__main__":
    unittest.main()
