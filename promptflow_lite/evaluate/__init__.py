"""Evaluation: score run outputs with evaluators and compare variants with honest statistics."""
