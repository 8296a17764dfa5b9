# Reference solutions for chapter 00 (welcome).
# %% solution: cosine_similarity
def cosine_similarity(u, v):
    """cos(u, v) = u·v / (‖u‖ ‖v‖)."""
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))
