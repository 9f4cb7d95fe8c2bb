"""Lip sync: the speaker's own mouths chosen per output frame and blended in (default), or Wav2Lip."""
