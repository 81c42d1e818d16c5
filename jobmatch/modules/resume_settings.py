"""On a resume, the optimiser settings of the config rather than those saved in the checkpoint."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import Callback
from torch.optim.lr_scheduler import LambdaLR

from jobmatch.modules.optim import reapply_settings


class ConfigOptimizerOnResume(Callback):
    """Restoring a checkpoint restores its learning rate, weight decay, betas and eps; a rerun allowed
    to change ``stage.optim`` (``resume.allow_changes``) must train with the new ones, as its
    ``config.yaml`` says. Unchanged settings leave the optimiser as it was."""

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        optim = pl_module.hparams.get("optim")
        if trainer.ckpt_path is None or not optim:
            return
        for config in trainer.lr_scheduler_configs:
            if isinstance(config.scheduler, LambdaLR):
                reapply_settings(config.scheduler, optim)
