from __future__ import annotations

from tango.runtime.metrics import ServiceMetrics


class TrainerMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__("trainer")
        self.trainings = self.counter("trainings_total", "Speaker-model requests answered", ("executor", "cache"))
        self.training_seconds = self.histogram("training_seconds", "Wall time of one speaker-model request",
                                               ("executor", "cache"))
