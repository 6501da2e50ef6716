"""Model fitting and statistics: the BTYD models (BG/NBD, Gamma-Gamma), their predictions
and the calibration/holdout check. Pure NumPy/SciPy over arrays; no I/O, no clock."""
