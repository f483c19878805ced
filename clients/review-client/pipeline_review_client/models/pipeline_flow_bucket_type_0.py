from enum import StrEnum


class PipelineFlowBucketType0(StrEnum):
    DECREASED = "decreased"
    END = "end"
    INCREASED = "increased"
    LOST = "lost"
    NEW = "new"
    PULLED_IN = "pulled_in"
    PUSHED_OUT = "pushed_out"
    START = "start"
    WON = "won"

    def __str__(self) -> str:
        return str(self.value)
