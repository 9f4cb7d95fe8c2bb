"""AuMoCLIP: the hierarchical audio-motion joint embedding (METHOD.md section 3, TANGO section 3.2).

config.py (AuMoCLIPConfig) - audio_tower.py / motion_tower.py / model.py (AuMoCLIP) - losses.py - keyframes.py
(KMM) - wav2vec_features.py, transcript.py, text_features.py (optional enrichments) - data.py (pairs, splits,
windows) - train.py - checkpoint.py (save/load, strict) - evaluate.py (paper protocol) - speaker.py (per-speaker
training at ingest) - benchmark.py (BEAT2 first 80 % -> last 20 %).
"""
