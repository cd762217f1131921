"""Voice and emotion-token assets (data only), installed as ``emosynth.voice_assets``."""
