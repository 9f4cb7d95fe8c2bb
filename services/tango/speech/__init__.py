"""Speech: the words of an audio track with their times, from a given transcript or from recognition.

`transcribe(speech, given)` is the room's one entry: forced alignment of a given transcript (`align.py`),
else speech recognition (`recognize.py`), both with pocketsphinx's US-English model from its wheel. The
result is a `SpeechTranscript` (`result.py`, JSON in and out); audio the model cannot handle (another
language, music, noise, silence) gives a transcript without words whose `reason` says why (`quality.py`),
never an exception. No grpc here.
"""
