"""The Open Bandit Dataset: logged bandit feedback, a CTR model, and off-policy estimators with their benchmark."""

from tools.effect.bandit.ctr import train_obd_ctr

__all__ = [
    "train_obd_ctr",
]
