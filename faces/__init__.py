"""Avatar assets (data only), installed as ``emosynth.face_assets``."""
