"""Safe-RL learners that train certificates and policies and export them as shield bundles.

Shape shared by every learner (one module per algorithm, CleanRL-style: the paper's equation next
to the line implementing it, every hyper-parameter in one dataclass):

- a ``Config`` dataclass with the paper's hyper-parameters and a ``quick`` variant for CI;
- ``train(config, run_dir)`` that counts every real environment step and every violation, logs
  per epoch, checkpoints atomically and resumes from the last checkpoint;
- ``export(..., dest)`` that writes a bundle through :func:`safe_learners.export.export_bundle`.

Shared pieces: :mod:`safe_learners.export` (torch → verified ONNX bundle) and
:mod:`safe_learners.handcrafted_index` (the analytic safety index used by the demo and by SIS).
"""
