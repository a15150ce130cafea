"""Measuring a supervisor on labelled data: datasets, metrics, runner, reports, calibration.

`supervisor eval` drives the real `Supervisor` over a dataset, so the figures are what a
user of the same constitution and models would get; `supervisor calibrate` fits the
semantic detector's heads on a training split and never reports on it.
"""
