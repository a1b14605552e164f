"""The fit of kernels.ATAN_P: atan(r) = r + r z P(z), z = r², for |r| <= tan(pi/8).

P, of degree 11, interpolates (atan(r) - r) / (r z) at the 12 Chebyshev nodes (first kind) of
z's interval [0, tan²(pi/8)], in 60-digit arithmetic; its coefficients, rounded to the nearest
double, are ATAN_P. Run `python -m tests.atan_fit` from the repository root to print them.
"""

import mpmath

DEGREE = 11
# The Vandermonde solve loses about 15 digits (its condition number is 3e15) and the doubles
# change below 35 digits: 60 leave a wide margin.
DIGITS = 60
# The error's peaks are broad enough that a grid of 500 already finds the same maximum.
SAMPLES = 2000


def _remainder(z):
    """P's target (atan(r) - r) / (r z) at z = r² > 0: what the polynomial adds to atan's r."""
    r = mpmath.sqrt(z)
    return (mpmath.atan(r) - r) / (r * z)


def _nodes(count, top):
    """The Chebyshev nodes of the first kind on [0, top], which keep clear of z = 0."""
    return [top / 2 * (1 + mpmath.cos(mpmath.pi * (2 * k + 1) / (2 * count))) for k in range(count)]


def fit():
    """P's coefficients from the constant term up, rounded to doubles, as in kernels.ATAN_P."""
    with mpmath.workdps(DIGITS):
        nodes = _nodes(DEGREE + 1, mpmath.tan(mpmath.pi / 8) ** 2)
        vandermonde = mpmath.matrix([[z**j for j in range(DEGREE + 1)] for z in nodes])
        coefficients = mpmath.lu_solve(vandermonde, mpmath.matrix([_remainder(z) for z in nodes]))
        return tuple(float(c) for c in coefficients)


def _horner(coefficients, z):
    """The polynomial at z in the working precision; mpmath's polyval warns without asc=, which
    mpmath before 1.4 lacks."""
    value = mpmath.mpf(0)
    for c in reversed(coefficients):
        value = value * z + c
    return value


def max_relative_error(coefficients):
    """The largest |r + r z P(z) - atan r| / atan r on an even grid of (0, tan(pi/8)], with the
    double coefficients evaluated exactly: the polynomial's own error, before the evaluation's
    rounding."""
    with mpmath.workdps(DIGITS):
        top = mpmath.tan(mpmath.pi / 8)
        worst = mpmath.mpf(0)
        for i in range(1, SAMPLES + 1):
            r = top * i / SAMPLES
            z = r * r
            polynomial = _horner(coefficients, z)
            worst = max(worst, abs((r + r * z * polynomial) / mpmath.atan(r) - 1))
        return float(worst)


def main():
    """Print the coefficients as kernels.py spells them, and the polynomial's error."""
    coefficients = fit()
    print(f"ATAN_P = {coefficients!r}")
    print(f"max relative error before rounding: {max_relative_error(coefficients):.2g}")


if __name__ == "__main__":
    main()
