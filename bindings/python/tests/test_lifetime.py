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


if __name__ == "__main__":
    unittest.main()
