"""Segmentum."""
