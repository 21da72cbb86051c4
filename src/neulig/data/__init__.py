"""Datasets: sources (shipped, procedural, image folders) and the packed on-disk format."""
