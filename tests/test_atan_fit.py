"""The committed atan coefficients are what their fit gives, and as accurate as its comment says."""

from polewarp.engine.kernels import ATAN_P

from . import atan_fit


def test_the_fit_reproduces_the_committed_coefficients_bit_for_bit():
    assert atan_fit.fit() == ATAN_P


def test_the_committed_polynomial_is_within_its_stated_error():
    """The 3e-18 kernels.py states: the polynomial's own share of the 2 ulp, the double evaluation
    the rest."""
    assert atan_fit.max_relative_error(ATAN_P) < 3.5e-18
