"""Clustering tools: Hungarian-matched metrics, DEC refinement of an encoder, the exported nearest-centroid graph."""
